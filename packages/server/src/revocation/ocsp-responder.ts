/**
 * The OCSP responder (RFC 6960) with its response cache.
 *
 * A request for one certificate without a nonce (what browsers, openssl and RFC 5019 clients send) is
 * answered from a per-serial cache of signed responses. A response older than `refresh` is still served
 * while a fresh one is signed in the background, and one that would be past its nextUpdate is re-signed
 * before it is served, so the cache never serves a stale response. A revocation through this process
 * drops the serial's cached responses at once. Requests with a nonce (RFC 8954) or several CertIDs are
 * signed for the request; their statuses come from the same store.
 */
import { createHash } from 'node:crypto';
import { newSerial } from '../ca/certificate-issuer.ts';
import {
  generateIssuerKey,
  type IssuerKey,
  isPostQuantumCaKeyType,
  issuerKeyType,
  issuerSpki,
} from '../ca/key-type.ts';
import {
  buildOcspResponse,
  type CertStatus,
  createResponderCertificate,
  IssuerHashes,
  type OcspCertId,
  OcspRequestError,
  OcspResponseStatus,
  type OcspSigner,
  ocspErrorResponse,
  ocspSigner,
  parseOcspRequest,
  singleResponse,
} from '../ca/ocsp.ts';
import type { Clock } from '../clock.ts';
import { ConfigError } from '../config.ts';
import type { StorageAuthority } from '../sa/storage-authority.ts';

export interface OcspResponderOptions {
  sa: StorageAuthority;
  clock: Clock;
  issuerKey: IssuerKey;
  /** The issuing CA's subject Name DER, key identifier and SubjectPublicKeyInfo DER. */
  issuerName: Buffer;
  authorityKeyId: Buffer;
  issuerSpki: Buffer;
  responder: 'delegated' | 'ca';
  lifetimeMs: number;
  refreshMs: number;
  responderValidityMs: number;
  cacheSize: number;
  /** Common name of the delegated responder certificate. */
  responderName: string;
  onError: (err: unknown) => void;
}

export interface OcspAnswer {
  body: Buffer;
  /** Set for a successful response that may be cached by HTTP caches (one CertID, no nonce). */
  cache?: { thisUpdate: number; nextUpdate: number; etag: string; maxAgeSeconds: number };
}

interface CachedResponse {
  der: Buffer;
  thisUpdate: number;
  nextUpdate: number;
  etag: string;
  refreshing: boolean;
}

const MALFORMED = ocspErrorResponse(OcspResponseStatus.malformedRequest);
const INTERNAL_ERROR = ocspErrorResponse(OcspResponseStatus.internalError);
/** Responder certificates start an hour early, like the CA's own certificates, for slow clocks. */
const RESPONDER_BACKDATE_MS = 3_600_000;

export class OcspResponder {
  readonly #o: OcspResponderOptions;
  readonly #hashes: IssuerHashes;
  /** serial → (CertID DER hex → response). Map order is insertion order: the oldest serial is evicted first. */
  readonly #cache = new Map<string, Map<string, CachedResponse>>();
  /** Incremented by every revocation: a response signed from a status read before it is not cached. */
  #generation = 0;
  #signer!: OcspSigner;
  #renewAt = Number.POSITIVE_INFINITY;
  /** The delegated responder certificate (DER), when there is one. */
  responderCertDer: Buffer | undefined;

  constructor(opts: OcspResponderOptions) {
    if (!(opts.refreshMs > 0 && opts.refreshMs < opts.lifetimeMs)) {
      throw new ConfigError('ocsp.refresh must be positive and shorter than ocsp.lifetime');
    }
    if (opts.responder === 'delegated' && opts.responderValidityMs < 2 * opts.lifetimeMs) {
      // Renewed halfway through its validity, the certificate must outlive every response it signed.
      throw new ConfigError('ocsp.responder_validity must be at least twice ocsp.lifetime');
    }
    this.#o = opts;
    this.#hashes = new IssuerHashes(opts.issuerName, opts.issuerSpki);
    this.#setUpSigner();
  }

  /** RFC 6960 §4.2.2.2: a delegated responder certificate issued by the CA, or the CA itself (§4.2.2.1 case 1). */
  #setUpSigner(): void {
    const o = this.#o;
    if (o.responder === 'ca') {
      this.#signer = ocspSigner(o.issuerKey);
      return;
    }
    const now = o.clock.now();
    // The responder key is of the CA's kind for ML-DSA and (EXPERIMENTAL) composite CAs (an all
    // post-quantum chain), EC P-256 otherwise.
    const caType = issuerKeyType(o.issuerKey);
    const responderKey = generateIssuerKey(
      caType !== undefined && isPostQuantumCaKeyType(caType) ? caType : 'ec:P-256',
    );
    const certDer = createResponderCertificate({
      issuerKey: o.issuerKey,
      issuerName: o.issuerName,
      authorityKeyId: o.authorityKeyId,
      responderSpki: issuerSpki(responderKey),
      commonName: o.responderName,
      serial: newSerial(),
      notBefore: new Date(now - RESPONDER_BACKDATE_MS),
      notAfter: new Date(now + o.responderValidityMs),
    });
    this.#signer = ocspSigner(responderKey, certDer);
    this.responderCertDer = certDer;
    this.#renewAt = now + o.responderValidityMs / 2;
    // Responses signed by the previous certificate stay valid, but new ones should carry the new one.
    this.#cache.clear();
  }

  /** Answers a DER OCSPRequest; never throws (a bad request gets malformedRequest, a failure internalError). */
  async respond(requestDer: Buffer): Promise<OcspAnswer> {
    let request: ReturnType<typeof parseOcspRequest>;
    try {
      request = parseOcspRequest(requestDer);
    } catch (err) {
      if (err instanceof OcspRequestError) return { body: MALFORMED };
      this.#o.onError(err);
      return { body: MALFORMED };
    }
    try {
      const now = this.#o.clock.now();
      if (now >= this.#renewAt) this.#setUpSigner();
      const [only] = request.certIds;
      if (request.certIds.length === 1 && !request.nonceExtension && only) {
        const r = await this.#cachedResponse(only, now);
        // RFC 5019 §6.2: HTTP caches may keep it until this responder would re-sign it.
        const until = Math.min(r.thisUpdate + this.#o.refreshMs, r.nextUpdate);
        const maxAgeSeconds = Math.max(0, Math.floor((until - now) / 1000));
        const { thisUpdate, nextUpdate, etag } = r;
        return { body: r.der, cache: { thisUpdate, nextUpdate, etag, maxAgeSeconds } };
      }
      const thisUpdate = new Date(now);
      const nextUpdate = new Date(now + this.#o.lifetimeMs);
      const singles = await Promise.all(
        request.certIds.map(async (id) =>
          singleResponse(id.raw, await this.#status(id), thisUpdate, nextUpdate),
        ),
      );
      return { body: buildOcspResponse(this.#signer, thisUpdate, singles, request.nonceExtension) };
    } catch (err) {
      this.#o.onError(err);
      return { body: INTERNAL_ERROR };
    }
  }

  /** A certificate was revoked: its cached responses are dropped at once. */
  revoked(serialHex: string): void {
    this.#generation++;
    this.#cache.delete(serialHex);
  }

  /** Revocations happened elsewhere (another process): every cached response is dropped. */
  clear(): void {
    this.#generation++;
    this.#cache.clear();
  }

  /** Cached responses, for tests and operators. */
  get cachedSerials(): number {
    return this.#cache.size;
  }

  async #cachedResponse(certId: OcspCertId, now: number): Promise<CachedResponse> {
    const key = certId.raw.toString('hex');
    const hit = this.#cache.get(certId.serial)?.get(key);
    if (hit) {
      // Re-sign before it goes stale: in the background once `refresh` passed, inline when the cached
      // response would be less than `refresh` from its nextUpdate (RFC 5019 §6.2 freshness).
      if (now < hit.thisUpdate + this.#o.refreshMs) return hit;
      if (now < hit.nextUpdate - this.#o.refreshMs) {
        if (!hit.refreshing) {
          hit.refreshing = true;
          this.#sign(certId, key).catch((err) => {
            hit.refreshing = false;
            this.#o.onError(err);
          });
        }
        return hit;
      }
    }
    return this.#sign(certId, key);
  }

  async #sign(certId: OcspCertId, key: string): Promise<CachedResponse> {
    const generation = this.#generation;
    const status = await this.#status(certId);
    const now = this.#o.clock.now();
    const thisUpdate = new Date(now);
    const nextUpdate = new Date(now + this.#o.lifetimeMs);
    const der = buildOcspResponse(this.#signer, thisUpdate, [
      singleResponse(certId.raw, status, thisUpdate, nextUpdate),
    ]);
    const entry: CachedResponse = {
      der,
      thisUpdate: now,
      nextUpdate: now + this.#o.lifetimeMs,
      etag: `"${createHash('sha256').update(der).digest('base64url').slice(0, 22)}"`,
      refreshing: false,
    };
    if (generation === this.#generation && this.#o.cacheSize > 0) this.#store(certId.serial, key, entry);
    return entry;
  }

  #store(serial: string, key: string, entry: CachedResponse): void {
    let bySerial = this.#cache.get(serial);
    if (!bySerial) {
      if (this.#cache.size >= this.#o.cacheSize) {
        const oldest = this.#cache.keys().next().value;
        if (oldest !== undefined) this.#cache.delete(oldest);
      }
      bySerial = new Map();
      this.#cache.set(serial, bySerial);
    }
    bySerial.set(key, entry);
  }

  /** RFC 6960 §2.2: good, revoked with time and reason, or unknown for what this CA did not issue. */
  async #status(certId: OcspCertId): Promise<CertStatus> {
    if (!this.#hashes.matches(certId)) return { status: 'unknown' };
    const cert = await this.#o.sa.getCertificateBySerial(certId.serial);
    if (!cert) return { status: 'unknown' };
    if (cert.status === 'revoked') {
      return {
        status: 'revoked',
        revokedAt: cert.revokedAt ?? cert.createdAt,
        reason: cert.revocationReason ?? 0,
      };
    }
    return { status: 'good' };
  }
}
