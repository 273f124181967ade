/**
 * OCSP (RFC 6960) on the wire: parsing requests with the DER reader, building and signing
 * BasicOCSPResponses with the DER encoder, and the delegated responder certificate (§4.2.2.2).
 */
import { createHash } from 'node:crypto';
import {
  bitString,
  contentOf,
  DerError,
  decodeOid,
  expectTag,
  explicit,
  generalizedTime,
  integer,
  NULL,
  namedBits,
  octetString,
  oid,
  rawOf,
  readChildren,
  readTlv,
  readWhole,
  sequence,
  TAG,
  type Tlv,
  time,
  tlv,
} from '@akamu/protocol';
import { commonNameToName, extension, keyIdentifier } from './certificate-issuer.ts';
import { type IssuerKey, issuerAlgorithm, issuerSpki, type SignatureAlgorithm, signTbs } from './key-type.ts';

export const OID_OCSP_BASIC = '1.3.6.1.5.5.7.48.1.1';
export const OID_OCSP_NONCE = '1.3.6.1.5.5.7.48.1.2';
export const OID_OCSP_NOCHECK = '1.3.6.1.5.5.7.48.1.5';
export const EKU_OCSP_SIGNING = '1.3.6.1.5.5.7.3.9';

/** RFC 6960 §4.2.1 OCSPResponseStatus. */
export const OcspResponseStatus = {
  successful: 0,
  malformedRequest: 1,
  internalError: 2,
  tryLater: 3,
  sigRequired: 5,
  unauthorized: 6,
} as const;

/** CertID hash algorithms accepted in requests (RFC 6960 §4.1.1; SHA-1 is what most clients send). */
const CERT_ID_HASHES: Record<string, string> = {
  '1.3.14.3.2.26': 'sha1',
  '2.16.840.1.101.3.4.2.1': 'sha256',
  '2.16.840.1.101.3.4.2.2': 'sha384',
  '2.16.840.1.101.3.4.2.3': 'sha512',
};

export class OcspRequestError extends Error {
  override name = 'OcspRequestError';
}

/** One CertID of a request (RFC 6960 §4.1.1). */
export interface OcspCertId {
  /** node:crypto hash name, or undefined when the algorithm is not one we can match. */
  hash: string | undefined;
  issuerNameHash: Buffer;
  issuerKeyHash: Buffer;
  /** Lower-case hex of the serial's unsigned magnitude, as the certificates table stores it. */
  serial: string;
  /** The CertID's exact DER, echoed in the SingleResponse. */
  raw: Buffer;
}

export interface OcspRequest {
  certIds: OcspCertId[];
  /** The request's nonce Extension DER (RFC 8954), echoed verbatim in the response. */
  nonceExtension?: Buffer;
}

/** RFC 8954 §2.1: a nonce is 1 to 32 octets; responders should refuse longer ones. */
const MAX_NONCE_LENGTH = 32;
/** A bound on requestList so one request cannot ask for unbounded work. */
export const MAX_CERT_IDS = 32;

/**
 * Parses an OCSPRequest (RFC 6960 §4.1.1). Signed requests are accepted and their signature ignored:
 * the responder answers anyone (§4.1.2 makes signing optional).
 */
export function parseOcspRequest(der: Buffer): OcspRequest {
  try {
    const top = readWhole(der, TAG.SEQUENCE, 'OCSPRequest');
    const [tbs] = readChildren(der, top);
    if (!tbs) throw new OcspRequestError('empty OCSPRequest');
    expectTag(tbs, TAG.SEQUENCE, 'TBSRequest');
    let fields = readChildren(der, tbs);
    if (fields[0]?.tag === 0xa0) {
      const [version] = readChildren(der, fields[0]);
      if (
        !version ||
        version.tag !== TAG.INTEGER ||
        version.length !== 1 ||
        der[version.contentStart] !== 0
      ) {
        throw new OcspRequestError('unsupported OCSPRequest version');
      }
      fields = fields.slice(1);
    }
    if (fields[0]?.tag === 0xa1) fields = fields.slice(1); // requestorName
    const list = fields[0];
    if (!list) throw new OcspRequestError('missing requestList');
    expectTag(list, TAG.SEQUENCE, 'requestList');
    const requests = readChildren(der, list);
    if (requests.length === 0) throw new OcspRequestError('empty requestList');
    if (requests.length > MAX_CERT_IDS) throw new OcspRequestError(`more than ${MAX_CERT_IDS} requests`);
    const certIds = requests.map((r) => parseRequest(der, r));
    let nonceExtension: Buffer | undefined;
    const rest = fields.slice(1);
    if (rest[0]?.tag === 0xa2) {
      nonceExtension = findNonce(der, rest[0]);
      rest.shift();
    }
    if (rest.length > 0) throw new OcspRequestError('unexpected fields in TBSRequest');
    return nonceExtension ? { certIds, nonceExtension } : { certIds };
  } catch (err) {
    if (err instanceof OcspRequestError) throw err;
    if (err instanceof DerError) throw new OcspRequestError(err.message);
    throw err;
  }
}

function parseRequest(der: Buffer, request: Tlv): OcspCertId {
  expectTag(request, TAG.SEQUENCE, 'Request');
  const [certId] = readChildren(der, request);
  if (!certId) throw new OcspRequestError('empty Request');
  expectTag(certId, TAG.SEQUENCE, 'CertID');
  const [alg, nameHash, keyHash, serial, extra] = readChildren(der, certId);
  if (!alg || !nameHash || !keyHash || !serial || extra)
    throw new OcspRequestError('CertID needs four fields');
  expectTag(alg, TAG.SEQUENCE, 'hashAlgorithm');
  const algOid = readTlv(der, alg.contentStart, alg.end);
  expectTag(algOid, TAG.OID, 'hashAlgorithm OID');
  expectTag(nameHash, TAG.OCTET_STRING, 'issuerNameHash');
  expectTag(keyHash, TAG.OCTET_STRING, 'issuerKeyHash');
  expectTag(serial, TAG.INTEGER, 'serialNumber');
  return {
    hash: CERT_ID_HASHES[decodeOid(contentOf(der, algOid))],
    issuerNameHash: Buffer.from(contentOf(der, nameHash)),
    issuerKeyHash: Buffer.from(contentOf(der, keyHash)),
    serial: serialHex(contentOf(der, serial)),
    raw: Buffer.from(rawOf(der, certId)),
  };
}

/** Hex of an INTEGER's magnitude; a negative or empty serial is malformed (RFC 5280 §4.1.2.2). */
function serialHex(content: Buffer): string {
  if (content.length === 0 || content.length > 21) throw new OcspRequestError('bad serialNumber length');
  if (content[0]! & 0x80) throw new OcspRequestError('negative serialNumber');
  let i = 0;
  while (i < content.length - 1 && content[i] === 0) i++;
  return content.subarray(i).toString('hex');
}

function findNonce(der: Buffer, wrapper: Tlv): Buffer | undefined {
  const [exts] = readChildren(der, wrapper);
  if (!exts) throw new OcspRequestError('empty requestExtensions');
  expectTag(exts, TAG.SEQUENCE, 'Extensions');
  const nonceOid = oid(OID_OCSP_NONCE);
  for (const ext of readChildren(der, exts)) {
    expectTag(ext, TAG.SEQUENCE, 'Extension');
    const parts = readChildren(der, ext);
    const value = parts[parts.length - 1];
    if (!parts[0] || !value || parts.length < 2) throw new OcspRequestError('malformed Extension');
    if (!rawOf(der, parts[0]).equals(nonceOid)) continue;
    expectTag(value, TAG.OCTET_STRING, 'extnValue');
    // RFC 8954 §2.1: Nonce ::= OCTET STRING (SIZE(1..32)) inside extnValue.
    const inner = value.length >= 2 ? readTlv(der, value.contentStart, value.end) : undefined;
    const nonceLength =
      inner && inner.tag === TAG.OCTET_STRING && inner.end === value.end ? inner.length : value.length;
    if (nonceLength < 1 || nonceLength > MAX_NONCE_LENGTH) {
      throw new OcspRequestError(`nonce must be 1 to ${MAX_NONCE_LENGTH} octets`);
    }
    return Buffer.from(rawOf(der, ext));
  }
  return undefined;
}

/** An OCSPResponse carrying only an error status (RFC 6960 §4.2.1: no responseBytes). */
export function ocspErrorResponse(status: number): Buffer {
  return sequence(tlv(0x0a, Uint8Array.of(status)));
}

export type CertStatus =
  | { status: 'good' }
  | { status: 'revoked'; revokedAt: number; reason: number }
  | { status: 'unknown' };

const GOOD = Buffer.from([0x80, 0x00]);
const UNKNOWN = Buffer.from([0x82, 0x00]);

/** A SingleResponse (RFC 6960 §4.2.1) for one CertID. */
export function singleResponse(certIdRaw: Buffer, s: CertStatus, thisUpdate: Date, nextUpdate: Date): Buffer {
  let certStatus: Buffer;
  if (s.status === 'good') certStatus = GOOD;
  else if (s.status === 'unknown') certStatus = UNKNOWN;
  else {
    // revoked [1] IMPLICIT RevokedInfo { revocationTime, revocationReason [0] EXPLICIT CRLReason }
    certStatus = tlv(
      0xa1,
      Buffer.concat([
        generalizedTime(new Date(s.revokedAt)),
        explicit(0, tlv(0x0a, Uint8Array.of(s.reason))),
      ]),
    );
  }
  return sequence(
    certIdRaw,
    certStatus,
    generalizedTime(thisUpdate),
    explicit(0, generalizedTime(nextUpdate)),
  );
}

/** What signs responses: the key, its certificate (sent in `certs` when delegated) and the byKey hash. */
export interface OcspSigner {
  key: IssuerKey;
  algorithm: SignatureAlgorithm;
  /** RFC 6960 §4.2.2.3 ResponderID byKey: SHA-1 of the responder's public key BIT STRING value. */
  keyHash: Buffer;
  /** The delegated responder certificate; absent when the CA signs itself. */
  certDer?: Buffer;
}

export function ocspSigner(key: IssuerKey, certDer?: Buffer): OcspSigner {
  const spki = issuerSpki(key);
  return {
    key,
    algorithm: issuerAlgorithm(key),
    keyHash: keyIdentifier(spki),
    ...(certDer ? { certDer } : {}),
  };
}

/** A successful OCSPResponse with a signed BasicOCSPResponse (RFC 6960 §4.2.1). */
export function buildOcspResponse(
  signer: OcspSigner,
  producedAt: Date,
  singles: readonly Buffer[],
  nonceExtension?: Buffer,
): Buffer {
  const parts: Buffer[] = [
    explicit(2, octetString(signer.keyHash)), // responderID byKey
    generalizedTime(producedAt),
    sequence(...singles),
  ];
  if (nonceExtension) parts.push(explicit(1, sequence(nonceExtension)));
  const tbs = sequence(...parts);
  const signature = signTbs(signer.algorithm, tbs, signer.key);
  const basic = signer.certDer
    ? sequence(
        tbs,
        signer.algorithm.algorithmIdentifier,
        bitString(signature),
        explicit(0, sequence(signer.certDer)),
      )
    : sequence(tbs, signer.algorithm.algorithmIdentifier, bitString(signature));
  const responseBytes = sequence(oid(OID_OCSP_BASIC), octetString(basic));
  return sequence(tlv(0x0a, Uint8Array.of(OcspResponseStatus.successful)), explicit(0, responseBytes));
}

/** The issuer's CertID hashes for each accepted algorithm (RFC 6960 §4.1.1). */
export class IssuerHashes {
  readonly #byHash = new Map<string, { name: Buffer; key: Buffer }>();

  /** `issuerName` is the issuer's subject Name DER; `issuerSpki` its SubjectPublicKeyInfo DER. */
  constructor(issuerName: Buffer, issuerSpki: Buffer) {
    const spki = readWhole(issuerSpki, TAG.SEQUENCE, 'SubjectPublicKeyInfo');
    const [, bits] = readChildren(issuerSpki, spki);
    if (!bits) throw new TypeError('malformed issuer SubjectPublicKeyInfo');
    // issuerKeyHash: the hash of the subjectPublicKey BIT STRING value, without tag, length and unused bits.
    const keyBits = issuerSpki.subarray(bits.contentStart + 1, bits.end);
    for (const hash of new Set(Object.values(CERT_ID_HASHES))) {
      this.#byHash.set(hash, {
        name: createHash(hash).update(issuerName).digest(),
        key: createHash(hash).update(keyBits).digest(),
      });
    }
  }

  /** Whether the CertID names this issuer. */
  matches(certId: OcspCertId): boolean {
    const h = certId.hash && this.#byHash.get(certId.hash);
    return !!h && h.name.equals(certId.issuerNameHash) && h.key.equals(certId.issuerKeyHash);
  }
}

const OID_EXT_KU = '2.5.29.15';
const OID_EXT_BC = '2.5.29.19';
const OID_EXT_EKU = '2.5.29.37';
const OID_EXT_SKI = '2.5.29.14';
const OID_EXT_AKI = '2.5.29.35';

export interface ResponderCertificateRequest {
  issuerKey: IssuerKey;
  /** The issuing CA's subject Name DER and key identifier. */
  issuerName: Buffer;
  authorityKeyId: Buffer;
  responderSpki: Buffer;
  commonName: string;
  serial: Buffer;
  notBefore: Date;
  notAfter: Date;
}

/**
 * The delegated OCSP responder certificate (RFC 6960 §4.2.2.2): issued by the CA that issued the
 * certificates, extendedKeyUsage id-kp-OCSPSigning, and id-pkix-ocsp-nocheck (§4.2.2.2.1) so relying
 * parties do not check its own status; digitalSignature only; not a CA.
 */
export function createResponderCertificate(req: ResponderCertificateRequest): Buffer {
  const alg = issuerAlgorithm(req.issuerKey);
  const exts = [
    extension(OID_EXT_BC, true, sequence()),
    extension(OID_EXT_KU, true, namedBits([0])), // digitalSignature
    extension(OID_EXT_EKU, false, sequence(oid(EKU_OCSP_SIGNING))),
    extension(OID_OCSP_NOCHECK, false, NULL),
    extension(OID_EXT_SKI, false, octetString(keyIdentifier(req.responderSpki))),
    extension(OID_EXT_AKI, false, sequence(tlv(0x80, req.authorityKeyId))),
  ];
  const tbs = sequence(
    explicit(0, integer(2)),
    integer(req.serial),
    alg.algorithmIdentifier,
    req.issuerName,
    sequence(time(req.notBefore), time(req.notAfter)),
    commonNameToName(req.commonName),
    req.responderSpki,
    explicit(3, sequence(...exts)),
  );
  return sequence(tbs, alg.algorithmIdentifier, bitString(signTbs(alg, tbs, req.issuerKey)));
}
