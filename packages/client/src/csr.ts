/**
 * PKCS#10 certificate requests (RFC 2986) for RFC 8555 §7.4 finalize: subject CN (optional) and a
 * subjectAltName extension request with dNSName and iPAddress entries, signed with node:crypto.
 */
import { createPublicKey, type KeyObject, sign } from 'node:crypto';
import {
  bitString,
  boolean,
  constructed,
  fromB64u,
  implicit,
  integer,
  ipToBytes,
  type Jwk,
  NULL,
  octetString,
  oid,
  sequence,
  setOf,
  utf8String,
} from '@akamu/protocol';
import { exportPublicJwk } from './jws.ts';
import { assertSigningKey, jwsAlgorithm } from './keys.ts';

export interface CsrOptions {
  key: KeyObject;
  /** At most 64 characters (RFC 5280 ub-common-name). Also list it in dnsNames/ipAddresses for ACME. */
  commonName?: string;
  dnsNames?: string[];
  ipAddresses?: string[];
  /**
   * Ask for OCSP Must-Staple: the TLS Feature extension with status_request (RFC 7633). The CA copies it
   * into the certificate; TLS clients then expect an OCSP response stapled in every handshake.
   */
  mustStaple?: boolean;
}

const OID_CN = '2.5.4.3';
const OID_EXTENSION_REQUEST = '1.2.840.113549.1.9.14';
const OID_SAN = '2.5.29.17';
const OID_TLS_FEATURE = '1.3.6.1.5.5.7.1.24';
/** RFC 7633 §6: the TLS extension number of status_request (RFC 6066). */
const TLS_FEATURE_STATUS_REQUEST = 5;

/** [digest for node:crypto sign, AlgorithmIdentifier DER] per JWS alg of the key. */
export function signatureAlgorithm(key: KeyObject): [string | null, Buffer] {
  switch (jwsAlgorithm(key)) {
    case 'ES256':
      return ['sha256', sequence(oid('1.2.840.10045.4.3.2'))];
    case 'ES384':
      return ['sha384', sequence(oid('1.2.840.10045.4.3.3'))];
    case 'ES512':
      return ['sha512', sequence(oid('1.2.840.10045.4.3.4'))];
    case 'RS256':
      return ['sha256', sequence(oid('1.2.840.113549.1.1.11'), NULL)];
    case 'EdDSA':
      return [null, sequence(oid(key.asymmetricKeyType === 'ed448' ? '1.3.101.113' : '1.3.101.112'))];
    // FIPS 204: the NIST OIDs id-ml-dsa-44/65/87, parameters absent.
    case 'ML-DSA-44':
      return [null, sequence(oid('2.16.840.1.101.3.4.3.17'))];
    case 'ML-DSA-65':
      return [null, sequence(oid('2.16.840.1.101.3.4.3.18'))];
    case 'ML-DSA-87':
      return [null, sequence(oid('2.16.840.1.101.3.4.3.19'))];
    default:
      throw new TypeError(`unsupported CSR key type ${key.asymmetricKeyType}`);
  }
}

/** Builds a DER PKCS#10 request. SAN is marked critical when the subject is empty (RFC 5280 §4.2.1.6). */
export function createCsr(opts: CsrOptions): Buffer {
  assertSigningKey(opts.key);
  const dnsNames = opts.dnsNames ?? [];
  const ipAddresses = opts.ipAddresses ?? [];
  const { commonName } = opts;
  if (commonName !== undefined && (commonName.length === 0 || commonName.length > 64)) {
    throw new TypeError('commonName must be 1 to 64 characters');
  }
  if (commonName === undefined && dnsNames.length === 0 && ipAddresses.length === 0) {
    throw new TypeError('a CSR needs a commonName, dnsNames or ipAddresses');
  }

  const subject =
    commonName === undefined ? sequence() : sequence(setOf(sequence(oid(OID_CN), utf8String(commonName))));
  const generalNames: Buffer[] = [];
  for (const name of dnsNames) {
    if (typeof name !== 'string' || name.length === 0 || !/^[\x21-\x7e]+$/.test(name)) {
      throw new TypeError(`invalid DNS name ${JSON.stringify(name)}`);
    }
    generalNames.push(implicit(2, Buffer.from(name, 'ascii')));
  }
  for (const ip of ipAddresses) generalNames.push(implicit(7, ipToBytes(ip)));

  const extensions: Buffer[] = [];
  if (generalNames.length > 0) {
    extensions.push(
      sequence(
        oid(OID_SAN),
        ...(commonName === undefined ? [boolean(true)] : []),
        octetString(sequence(...generalNames)),
      ),
    );
  }
  if (opts.mustStaple) {
    extensions.push(
      sequence(oid(OID_TLS_FEATURE), octetString(sequence(integer(TLS_FEATURE_STATUS_REQUEST)))),
    );
  }
  const attributes: Buffer[] = [];
  if (extensions.length > 0)
    attributes.push(sequence(oid(OID_EXTENSION_REQUEST), setOf(sequence(...extensions))));

  return signCsr(opts.key, subject, attributes);
}

/**
 * Encodes and signs a CertificationRequest (RFC 2986 §4) from a DER subject Name and DER Attribute
 * SEQUENCEs.
 */
export function signCsr(key: KeyObject, subject: Buffer, attributes: Buffer[]): Buffer {
  // attributes [0] IMPLICIT SET OF Attribute (RFC 2986 §4.1).
  const info = sequence(integer(0), subject, subjectPublicKeyInfo(key), constructed(0xa0, attributes));
  const [digest, algorithm] = signatureAlgorithm(key);
  return sequence(info, algorithm, bitString(sign(digest, info, key)));
}

const spkiCache = new WeakMap<KeyObject, Buffer>();
const EC_CURVES: Record<string, [string, number]> = {
  'P-256': ['1.2.840.10045.3.1.7', 32],
  'P-384': ['1.3.132.0.34', 48],
  'P-521': ['1.3.132.0.35', 66],
};

/**
 * The key's SubjectPublicKeyInfo (RFC 5280 §4.1.2.7), built from its JWK and cached per KeyObject.
 * With OpenSSL 3, node:crypto's SPKI export costs about as much as an ECDSA signature; the JWK
 * export plus this encoding costs less than half of it.
 */
export function subjectPublicKeyInfo(key: KeyObject): Buffer {
  const cached = spkiCache.get(key);
  if (cached) return cached;
  const jwk = exportPublicJwk(key);
  const spki =
    jwk.kty === 'AKP'
      ? (createPublicKey(key).export({ type: 'spki', format: 'der' }) as Buffer)
      : spkiFromJwk(jwk);
  spkiCache.set(key, spki);
  return spki;
}

function spkiFromJwk(jwk: Jwk): Buffer {
  const bytes = (member: string) => fromB64u(String(jwk[member]))!;
  if (jwk.kty === 'EC') {
    const curve = EC_CURVES[String(jwk.crv)];
    if (!curve) throw new TypeError(`unsupported EC curve ${String(jwk.crv)}`);
    const [curveOid, size] = curve;
    const point = Buffer.alloc(1 + 2 * size);
    point[0] = 0x04; // uncompressed (SEC 1 §2.3.3)
    const x = bytes('x');
    const y = bytes('y');
    x.copy(point, 1 + size - x.length);
    y.copy(point, 1 + 2 * size - y.length);
    return sequence(sequence(oid('1.2.840.10045.2.1'), oid(curveOid)), bitString(point));
  }
  if (jwk.kty === 'RSA') {
    const rsaPublicKey = sequence(integer(bytes('n')), integer(bytes('e')));
    return sequence(sequence(oid('1.2.840.113549.1.1.1'), NULL), bitString(rsaPublicKey));
  }
  if (jwk.kty === 'OKP' && (jwk.crv === 'Ed25519' || jwk.crv === 'Ed448')) {
    return sequence(
      sequence(oid(jwk.crv === 'Ed25519' ? '1.3.101.112' : '1.3.101.113')),
      bitString(bytes('x')),
    );
  }
  throw new TypeError(`unsupported key type ${jwk.kty}`);
}
