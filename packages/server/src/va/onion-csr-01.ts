import { timingSafeEqual } from 'node:crypto';
import {
  contentOf,
  decodeOid,
  expectTag,
  type Identifier,
  readChildren,
  readWhole,
  TAG,
} from '@akamu/protocol';
import { CsrError, parseCsr } from '../ca/csr.ts';
import { ED25519_SPKI_PREFIX, isOnionName, ONION_NONCE_MAX_AGE_MS, onionServiceKey } from '../core/onion.ts';
import {
  type ChallengeValidator,
  problem,
  type ValidationOutcome,
  type ValidationRequest,
} from './validator.ts';

/** CA/Browser Forum attributes (BR Appendix B): the CA's nonce and the applicant's. */
export const OID_CA_SIGNING_NONCE = '2.23.140.41';
export const OID_APPLICANT_SIGNING_NONCE = '2.23.140.42';
/** BR Appendix B: the applicant's nonce has at least 64 bits of entropy. */
const MIN_APPLICANT_NONCE_BYTES = 8;
/** Largest CSR accepted in a challenge response (an Ed25519 CSR is a few hundred bytes). */
const MAX_CSR_BYTES = 16 * 1024;

/**
 * RFC 9799 §3.2: the challenge's `nonce` is the base64 (with padding) of 256 random bits; here they are
 * the challenge token's, so nothing more is stored.
 */
export function onionNonce(token: string): string {
  return Buffer.from(token, 'base64url').toString('base64');
}

/** The values of each attribute of a PKCS#10 request (RFC 2986 §4.1), by OID; each value's DER content. */
export function readCsrAttributes(der: Buffer): Map<string, { tag: number; content: Buffer }[]> {
  const out = new Map<string, { tag: number; content: Buffer }[]>();
  const req = readWhole(der, TAG.SEQUENCE, 'CertificationRequest');
  const [info] = readChildren(der, req);
  if (!info) return out;
  const attrs = readChildren(der, info).find((t) => t.tag === 0xa0);
  if (!attrs) return out;
  for (const attr of readChildren(der, attrs)) {
    expectTag(attr, TAG.SEQUENCE, 'Attribute');
    const [type, values] = readChildren(der, attr);
    if (!type || !values) continue;
    expectTag(type, TAG.OID, 'attribute type');
    expectTag(values, TAG.SET, 'attribute values');
    const oid = decodeOid(contentOf(der, type));
    const list = out.get(oid) ?? [];
    for (const v of readChildren(der, values))
      list.push({ tag: v.tag, content: Buffer.from(contentOf(der, v)) });
    out.set(oid, list);
  }
  return out;
}

/**
 * RFC 9799 §3.2 onion-csr-01 for v3 ".onion" names (wildcards included: the service key controls every
 * name below its address). The client posts `{ csr }`, a base64url DER CSR that is signed by the
 * hidden service's Ed25519 key (the key the address encodes), and carries the cabf-caSigningNonce
 * attribute with the challenge's `nonce` and a cabf-applicantSigningNonce of at least 64 bits.
 * http-01 and tls-alpn-01 would need a connection over Tor, which akamu does not make, so for ".onion"
 * names this is the only challenge offered (dns-01 is forbidden for them by §3.1).
 */
export class OnionCsr01Validator implements ChallengeValidator {
  readonly type = 'onion-csr-01';
  readonly #now: () => number;

  constructor(opts: { now?: () => number } = {}) {
    this.#now = opts.now ?? Date.now;
  }

  supports(identifier: Identifier): boolean {
    return identifier.type === 'dns' && isOnionName(identifier.value);
  }

  challengeFields(token: string): Record<string, unknown> {
    return { nonce: onionNonce(token) };
  }

  async validate(req: ValidationRequest): Promise<ValidationOutcome> {
    const { identifier } = req;
    const service = onionServiceKey(identifier.value);
    if ('error' in service) return problem('rejectedIdentifier', service.error, identifier);
    const now = this.#now();
    if (
      req.authorizationCreatedAt !== undefined &&
      now - req.authorizationCreatedAt > ONION_NONCE_MAX_AGE_MS
    ) {
      return problem('unauthorized', 'the challenge nonce is older than 30 days (RFC 9799 §3.2)', identifier);
    }
    const csrText = req.payload?.csr;
    if (typeof csrText !== 'string' || !/^[A-Za-z0-9_-]+$/.test(csrText)) {
      return problem(
        'malformed',
        'the onion-csr-01 response must carry "csr", a base64url DER CSR',
        identifier,
      );
    }
    const der = Buffer.from(csrText, 'base64url');
    if (der.length > MAX_CSR_BYTES)
      return problem('badCSR', `the CSR is larger than ${MAX_CSR_BYTES} bytes`, identifier);
    let csr: ReturnType<typeof parseCsr>;
    let attributes: ReturnType<typeof readCsrAttributes>;
    try {
      csr = parseCsr(der);
      attributes = readCsrAttributes(der);
    } catch (e) {
      const why = e instanceof CsrError ? e.message : `malformed CSR: ${(e as Error).message}`;
      return problem('badCSR', why, identifier);
    }
    if (!csr.signatureValid) return problem('badCSR', 'the CSR signature does not verify', identifier);
    const spki = csr.spki;
    const isEd25519 = spki.length === 44 && spki.subarray(0, 12).equals(ED25519_SPKI_PREFIX);
    if (!isEd25519 || !timingSafeEqual(spki.subarray(12), service.publicKey)) {
      return problem(
        'unauthorized',
        `the CSR is not signed by the Ed25519 key of ${identifier.value.split('.').slice(-2).join('.')}`,
        identifier,
      );
    }
    const caNonce = single(attributes.get(OID_CA_SIGNING_NONCE));
    const expected = Buffer.from(req.token, 'base64url');
    if (!caNonce || caNonce.tag !== TAG.OCTET_STRING) {
      return problem(
        'incorrectResponse',
        'the CSR has no cabf-caSigningNonce attribute (one OCTET STRING)',
        identifier,
      );
    }
    if (caNonce.content.length !== expected.length || !timingSafeEqual(caNonce.content, expected)) {
      return problem(
        'incorrectResponse',
        "the CSR's cabf-caSigningNonce is not this challenge's nonce",
        identifier,
      );
    }
    const applicantNonce = single(attributes.get(OID_APPLICANT_SIGNING_NONCE));
    if (!applicantNonce || applicantNonce.tag !== TAG.OCTET_STRING) {
      return problem(
        'incorrectResponse',
        'the CSR has no cabf-applicantSigningNonce attribute (one OCTET STRING)',
        identifier,
      );
    }
    if (applicantNonce.content.length < MIN_APPLICANT_NONCE_BYTES) {
      return problem(
        'incorrectResponse',
        'the cabf-applicantSigningNonce has fewer than 64 bits',
        identifier,
      );
    }
    return undefined;
  }
}

function single<T>(values: T[] | undefined): T | undefined {
  return values && values.length === 1 ? values[0] : undefined;
}
