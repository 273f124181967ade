/**
 * The CRL distribution point and OCSP URLs written into issued certificates (RFC 5280 §4.2.1.13 and
 * §4.2.2.1), and the URL each CRL shard names in its Issuing Distribution Point (§5.2.5).
 */
import { ConfigError } from '../config.ts';
import { crlShardOf } from '../core/crl-shard.ts';

export interface RevocationUrlSettings {
  crl: { url: string; include_in_certificates: boolean; shards: number };
  ocsp: { url: string; include_in_certificates: boolean };
}

export class RevocationUrls {
  readonly #s: RevocationUrlSettings;
  readonly #base: () => string;

  /** `base` returns the server's external base URL (known once it listens). */
  constructor(settings: RevocationUrlSettings, base: () => string) {
    if (settings.crl.shards > 1 && !settings.crl.url && !settings.crl.include_in_certificates) {
      // A shard is only usable by relying parties whose certificate names it (RFC 5280 §6.3.3 (b)).
      throw new ConfigError('crl.shards > 1 needs crl.url or crl.include_in_certificates = true');
    }
    this.#s = settings;
    this.#base = base;
  }

  get shards(): number {
    return this.#s.crl.shards;
  }

  /** The URL of the complete CRL as certificates name it, or undefined when certificates carry none. */
  #crlBase(): string | undefined {
    if (this.#s.crl.url) return this.#s.crl.url.replace(/\/+$/, '');
    return this.#s.crl.include_in_certificates ? `${this.#base()}/ca/crl` : undefined;
  }

  /** The URL of shard `n` (what its Issuing Distribution Point names); undefined without sharding. */
  crlShard(n: number): string | undefined {
    const base = this.#crlBase();
    return base && this.#s.crl.shards > 1 ? `${base}/${n}` : undefined;
  }

  /** The CRL and OCSP URLs for a new certificate with this serial (lower-case hex). */
  forCertificate(serialHex: string): { crlUrl?: string; ocspUrl?: string } {
    const out: { crlUrl?: string; ocspUrl?: string } = {};
    const crl = this.#crlBase();
    if (crl)
      out.crlUrl = this.#s.crl.shards > 1 ? `${crl}/${crlShardOf(serialHex, this.#s.crl.shards)}` : crl;
    const ocsp = this.ocspUrl();
    if (ocsp) out.ocspUrl = ocsp;
    return out;
  }

  /** The OCSP URL written into certificates (Authority Information Access), or undefined for none. */
  ocspUrl(): string | undefined {
    return this.#s.ocsp.url || (this.#s.ocsp.include_in_certificates ? `${this.#base()}/ca/ocsp` : undefined);
  }
}
