import { createPrivateKey, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Server as TlsServer } from 'node:tls';
import { type CaMaterial, issueServerCertificate } from '../ca/ca-store.ts';
import type { KeyType } from '../ca/key-type.ts';
import type { Clock } from '../clock.ts';
import type { ClientTrust } from './client-auth.ts';
import type { TlsConfig } from './tls-config.ts';
import { protocolOptions, usableGroups } from './tls-policy.ts';

/**
 * The HTTPS listener's certificate and secure context (docs/tls.md): a certificate from the operator's PEM
 * files, or one akamu's own CA issues for `tls.hostnames` and renews at 2/3 of its lifetime. Either is
 * swapped into the running server with setSecureContext: connections already open keep theirs, new ones
 * get the new certificate, and the listener never closes.
 */

const DAY_MS = 86_400_000;
/** Renewal at this fraction of the auto-issued certificate's lifetime. */
export const RENEW_AT_FRACTION = 2 / 3;
/** A failed renewal is tried again after this long. */
const RETRY_MS = 60_000;
/** setTimeout's largest delay. */
const MAX_TIMER_MS = 2 ** 31 - 1;

export interface TlsListenerOptions {
  tls: TlsConfig;
  ca: CaMaterial;
  /** Key type of auto-issued server certificates. */
  keyType: KeyType;
  clock: Clock;
  clientTrust: ClientTrust | undefined;
  log: { info(msg: string): void; warn(msg: string): void; error(obj: unknown, msg: string): void };
}

export class TlsListener {
  readonly #o: TlsListenerOptions;
  readonly #groups: string[];
  /** Configured groups this OpenSSL lacks (not offered; the server logs them). */
  readonly unsupportedGroups: readonly string[];
  #key = '';
  #cert = '';
  #certificate!: X509Certificate;
  /** When the current auto-issued certificate is due for renewal (epoch ms); undefined for files. */
  #renewAt: number | undefined;
  #server: TlsServer | undefined;
  #timer: NodeJS.Timeout | undefined;
  #renewing: Promise<void> | undefined;

  constructor(o: TlsListenerOptions) {
    this.#o = o;
    const { usable, unsupported } = usableGroups(o.tls.groups);
    if (usable.length === 0)
      throw new Error(`tls.groups: none of ${o.tls.groups.join(', ')} is supported here`);
    this.#groups = usable;
    this.unsupportedGroups = unsupported;
    this.#load();
  }

  /** The groups actually offered, most preferred first. */
  get groups(): readonly string[] {
    return this.#groups;
  }

  /** The certificate new connections are served. */
  get certificate(): X509Certificate {
    return this.#certificate;
  }

  /** When the auto-issued certificate will be renewed (epoch ms); undefined with operator files. */
  get renewAt(): number | undefined {
    return this.#renewAt;
  }

  /** The secure context options of the current certificate (for setSecureContext and the server itself). */
  contextOptions(): Record<string, unknown> {
    const trust = this.#o.clientTrust?.pem;
    return {
      ...protocolOptions(this.#o.tls.min_version, this.#groups),
      key: this.#key,
      cert: this.#cert,
      ...(trust ? { ca: trust } : {}),
    };
  }

  /** Options of the HTTPS (or HTTP/2 with HTTP/1.1 fallback) server. */
  serverOptions(): Record<string, unknown> {
    return {
      ...this.contextOptions(),
      // Ask for a client certificate; the chain is judged per request (client-auth.ts) so every rule
      // applies the same way to forwarded certificates and refusals are problem documents.
      requestCert: this.#o.tls.client_auth !== 'none',
      rejectUnauthorized: false,
      ...(this.#o.tls.http2 ? { allowHTTP1: true } : {}),
    };
  }

  /** Starts renewing (auto) on the listening server. */
  attach(server: TlsServer): void {
    this.#server = server;
    this.#schedule();
  }

  stop(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#server = undefined;
  }

  /**
   * Loads the certificate again — re-reads the operator's files, or issues a new one — and the client
   * trust anchors, and swaps them into the running listener (SIGHUP; `akamu serve`).
   */
  async reload(): Promise<void> {
    this.#load(); // throws before changing anything
    try {
      this.#o.clientTrust?.reload();
    } finally {
      this.#apply();
      this.#schedule();
    }
  }

  /** Renews the auto-issued certificate if it is due by the clock; true when it did. */
  async renewIfDue(): Promise<boolean> {
    if (this.#renewAt === undefined || this.#o.clock.now() < this.#renewAt) return false;
    this.#renewing ??= (async () => {
      this.#load();
      this.#apply();
      this.#o.log.info(
        `renewed the server certificate (serial ${this.#certificate.serialNumber.toLowerCase()}, valid to ${this.#certificate.validTo})`,
      );
    })().finally(() => {
      this.#renewing = undefined;
    });
    await this.#renewing;
    return true;
  }

  #load(): void {
    const { tls } = this.#o;
    if (tls.mode === 'files') {
      if (!tls.cert_file || !tls.key_file)
        throw new Error('tls.mode = "files" needs tls.cert_file and tls.key_file');
      const cert = readFileSync(tls.cert_file, 'utf8');
      const key = readFileSync(tls.key_file, 'utf8');
      const certificate = new X509Certificate(cert);
      if (!certificate.checkPrivateKey(createKey(key, tls.key_file))) {
        throw new Error(`tls.key_file ${tls.key_file} does not match the certificate in ${tls.cert_file}`);
      }
      this.#cert = cert;
      this.#key = key;
      this.#certificate = certificate;
      this.#renewAt = undefined;
      return;
    }
    const now = this.#o.clock.now();
    const issued = issueServerCertificate(
      this.#o.ca,
      tls.hostnames,
      tls.auto_validity / DAY_MS,
      this.#o.keyType,
      {
        now: () => new Date(now),
      },
    );
    this.#cert = issued.certChainPem;
    this.#key = issued.keyPem;
    this.#certificate = new X509Certificate(issued.certDer);
    this.#renewAt = now + Math.floor(tls.auto_validity * RENEW_AT_FRACTION);
  }

  #apply(): void {
    this.#server?.setSecureContext(this.contextOptions() as Parameters<TlsServer['setSecureContext']>[0]);
  }

  #schedule(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    if (!this.#server || this.#renewAt === undefined) return;
    const delay = Math.min(MAX_TIMER_MS, Math.max(250, this.#renewAt - this.#o.clock.now()));
    this.#timer = setTimeout(() => {
      this.renewIfDue()
        .then(() => this.#schedule())
        .catch((err) => {
          this.#o.log.error({ err }, 'server certificate renewal failed');
          if (this.#server) this.#timer = setTimeout(() => this.#schedule(), RETRY_MS).unref();
        });
    }, delay);
    this.#timer.unref();
  }
}

function createKey(pem: string, file: string) {
  try {
    return createPrivateKey(pem);
  } catch (e) {
    throw new Error(`tls.key_file ${file}: ${(e as Error).message}`);
  }
}
