/**
 * CRLs and OCSP assembled from the configuration: the one object app.ts wires in. It supplies the
 * certificate issuer (which writes the CRL distribution point and OCSP URL into every certificate),
 * learns of revocations, and registers GET /ca/crl[/<n>], POST /ca/ocsp and GET /ca/ocsp/<request>.
 */
import type { FastifyInstance } from 'fastify';
import type { CaMaterial } from '../ca/ca-store.ts';
import { CertificateIssuer, type LeafRequest } from '../ca/certificate-issuer.ts';
import { CrlSigner } from '../ca/crl.ts';
import { issuerSpki } from '../ca/key-type.ts';
import type { Clock } from '../clock.ts';
import type { Config } from '../config.ts';
import type { StorageAuthority } from '../sa/storage-authority.ts';
import { registerCrl } from '../wfe/routes/crl.ts';
import { registerOcsp } from '../wfe/routes/ocsp.ts';
import { CrlService } from './crl-service.ts';
import { OcspResponder } from './ocsp-responder.ts';
import { RevocationUrls } from './revocation-urls.ts';

/** A CertificateIssuer whose leaves carry this CA's CRL and OCSP URLs unless the request names its own. */
class RevocationAwareIssuer extends CertificateIssuer {
  readonly #urls: RevocationUrls;
  constructor(ca: CaMaterial, urls: RevocationUrls) {
    super(ca);
    this.#urls = urls;
  }
  override issue(req: LeafRequest): Buffer {
    return super.issue({ ...this.#urls.forCertificate(req.serial.toString('hex')), ...req });
  }
}

export interface RevocationServicesOptions {
  config: Pick<Config, 'crl' | 'ocsp' | 'ca'>;
  ca: CaMaterial;
  sa: StorageAuthority;
  clock: Clock;
  /** The server's external base URL, known once it listens. */
  base: () => string;
  onError: (err: unknown, what: string) => void;
}

/**
 * A counter in the crl_numbers table that every revocation through any process increments, so that
 * processes sharing the database learn of each other's revocations by reading one row.
 */
export const REVOCATION_COUNTER = 'revocations';

export class RevocationServices {
  readonly issuer: CertificateIssuer;
  readonly urls: RevocationUrls;
  readonly crls: CrlService;
  readonly ocsp: OcspResponder;
  readonly #o: RevocationServicesOptions;
  /** The revocation counter as this process last knew it; undefined until the first poll. */
  #seen: number | undefined;
  #pollTimer: NodeJS.Timeout | undefined;

  constructor(o: RevocationServicesOptions) {
    const { crl, ocsp } = o.config;
    this.#o = o;
    this.urls = new RevocationUrls({ crl, ocsp }, o.base);
    this.issuer = new RevocationAwareIssuer(o.ca, this.urls);
    const issuerInfo = {
      issuerName: this.issuer.issuerName,
      authorityKeyId: this.issuer.authorityKeyId,
    };
    this.crls = new CrlService({
      sa: o.sa,
      clock: o.clock,
      signer: new CrlSigner({ ...issuerInfo, key: o.ca.issuerKey }),
      lifetimeMs: crl.lifetime,
      refreshMs: crl.refresh,
      shards: crl.shards,
      shardUrl: (n) => this.urls.crlShard(n),
      onError: (err) => o.onError(err, 'CRL build'),
    });
    this.ocsp = new OcspResponder({
      sa: o.sa,
      clock: o.clock,
      issuerKey: o.ca.issuerKey,
      ...issuerInfo,
      issuerSpki: issuerSpki(o.ca.issuerKey),
      responder: ocsp.responder,
      lifetimeMs: ocsp.lifetime,
      refreshMs: ocsp.refresh,
      responderValidityMs: ocsp.responder_validity,
      cacheSize: ocsp.cache_size,
      responderName: `${o.config.ca.name} OCSP Responder`,
      onError: (err) => o.onError(err, 'OCSP response'),
    });
  }

  /** Called by the RA after a revocation committed: the serial's OCSP responses and the CRLs change now. */
  revoked(serialHex: string): void {
    this.ocsp.revoked(serialHex);
    this.crls.revoked();
    // Tell the other processes. When the counter moved by exactly one, it was only us.
    this.#o.sa
      .nextCrlNumber(REVOCATION_COUNTER, this.#o.clock.now())
      .then((n) => {
        if (this.#seen !== undefined && n === this.#seen + 1) this.#seen = n;
      })
      .catch((err) => this.#o.onError(err, 'revocation counter update'));
  }

  /**
   * Reads the revocation counter; when another process revoked since the last look, every cached OCSP
   * response is dropped and the CRLs are rebuilt (their revocations are in the database already).
   */
  async poll(): Promise<void> {
    const current = await this.#o.sa.currentCrlNumber(REVOCATION_COUNTER);
    if (this.#seen === undefined) {
      this.#seen = current;
      return;
    }
    if (current > this.#seen) {
      this.#seen = current;
      this.ocsp.clear();
      this.crls.revoked();
    }
  }

  register(app: FastifyInstance): void {
    registerCrl(app, this.crls);
    registerOcsp(app, this.ocsp);
  }

  start(): void {
    this.crls.start();
    const every = this.#o.config.ocsp.revocation_poll;
    if (every > 0) {
      const poll = () => this.poll().catch((err) => this.#o.onError(err, 'revocation poll'));
      poll();
      this.#pollTimer = setInterval(poll, every);
      this.#pollTimer.unref();
    }
  }

  async stop(): Promise<void> {
    if (this.#pollTimer) clearInterval(this.#pollTimer);
    await this.crls.stop();
  }
}
