import { constants, type KeyObject, type VerifyKeyObjectInput, verify } from 'node:crypto';
import { ecCoordinateSize, fromB64u, type Jwk, jwkThumbprint, publicJwk } from '@akamu/protocol';
import { importPublicJwk } from '../core/public-key.ts';
import { AcmeError, malformed } from '../errors.ts';

type VerifyKeyWithOptions = VerifyKeyObjectInput & { padding: number; saltLength: number };

/**
 * RFC 8555 §6.2: the accepted JWS algorithms. MAC algorithms and "none" are never accepted. ML-DSA-44/65/87
 * are FIPS 204 pure ML-DSA with an empty context, keys as AKP JWKs (draft-ietf-cose-dilithium §3, §5).
 */
export const JWS_ALGORITHMS = [
  'RS256',
  'PS256',
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
  'ML-DSA-44',
  'ML-DSA-65',
  'ML-DSA-87',
] as const;
export type JwsAlgorithm = (typeof JWS_ALGORITHMS)[number];

export interface ProtectedHeader {
  alg: JwsAlgorithm;
  nonce?: string;
  url: string;
  jwk?: Jwk;
  kid?: string;
  [other: string]: unknown;
}

export interface FlattenedJws {
  protectedB64: string;
  payloadB64: string;
  signature: Buffer;
  header: ProtectedHeader;
  /** The decoded payload: undefined for POST-as-GET (empty payload, RFC 8555 §6.3). */
  payload: unknown;
}

/** RFC 8555 §6.2: flattened JSON serialization, one signature, no unprotected header. */
export function parseFlattenedJws(body: unknown): FlattenedJws {
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    throw malformed('the body is not a JWS object');
  const b = body as Record<string, unknown>;
  if ('signatures' in b)
    throw malformed('the JWS must use the flattened JSON serialization with one signature');
  if ('header' in b) throw malformed('the JWS unprotected header must not be used');
  if (typeof b.protected !== 'string' || typeof b.payload !== 'string' || typeof b.signature !== 'string') {
    throw malformed('the JWS must have string "protected", "payload" and "signature" members');
  }
  const protectedRaw = fromB64u(b.protected);
  const signature = fromB64u(b.signature);
  const payloadRaw = fromB64u(b.payload);
  if (!protectedRaw || !signature || !payloadRaw)
    throw malformed('the JWS members must be base64url without padding');
  const header = parseJson(protectedRaw, 'protected header');
  if (typeof header !== 'object' || header === null || Array.isArray(header)) {
    throw malformed('the JWS protected header is not a JSON object');
  }
  const payload = b.payload === '' ? undefined : parseJson(payloadRaw, 'payload');
  return {
    protectedB64: b.protected,
    payloadB64: b.payload,
    signature,
    header: checkHeader(header as Record<string, unknown>),
    payload,
  };
}

function parseJson(raw: Buffer, what: string): unknown {
  try {
    return JSON.parse(raw.toString('utf8'));
  } catch {
    throw malformed(`the JWS ${what} is not valid JSON`);
  }
}

/** RFC 8555 §6.2: alg from the allow-list; exactly one of jwk and kid; url a string; RFC 7515 §4.1.11 crit. */
function checkHeader(h: Record<string, unknown>): ProtectedHeader {
  if (typeof h.alg !== 'string' || !(JWS_ALGORITHMS as readonly string[]).includes(h.alg)) {
    throw new AcmeError('badSignatureAlgorithm', `JWS algorithm ${JSON.stringify(h.alg)} is not accepted`, {
      extra: { algorithms: [...JWS_ALGORITHMS] },
    });
  }
  if ((h.jwk === undefined) === (h.kid === undefined)) {
    throw malformed('the JWS protected header must contain exactly one of "jwk" and "kid"');
  }
  if (
    h.jwk !== undefined &&
    (typeof h.jwk !== 'object' || h.jwk === null || typeof (h.jwk as Jwk).kty !== 'string')
  ) {
    throw malformed('the JWS "jwk" is not a JSON Web Key');
  }
  if (h.kid !== undefined && typeof h.kid !== 'string') throw malformed('the JWS "kid" must be a string');
  if (typeof h.url !== 'string') throw malformed('the JWS protected header must contain a "url"');
  if (h.nonce !== undefined && typeof h.nonce !== 'string')
    throw malformed('the JWS "nonce" must be a string');
  if (h.crit !== undefined) throw malformed('no JWS "crit" extensions are understood');
  return h as ProtectedHeader;
}

export interface PublicJwk {
  key: KeyObject;
  jwk: Jwk;
  thumbprint: string;
}

/** Minimum RSA modulus for account keys. */
const MIN_RSA_BITS = 2048;
const MAX_RSA_BITS = 8192;

/**
 * Imports a client's JWK as a public key, checking it fits the algorithm (RFC 7518 §3): EC curve per ES*,
 * RSA of 2048–8192 bits for RS256/PS256, Ed25519/Ed448 for EdDSA, an AKP key whose own `alg` is the JWS
 * alg for ML-DSA-* (draft-ietf-cose-dilithium §3, §7.4). Private members are refused.
 */
export function importJwk(raw: Jwk, alg: JwsAlgorithm): PublicJwk {
  if ('d' in raw || 'p' in raw || 'q' in raw || 'priv' in raw)
    throw new AcmeError('badPublicKey', 'the JWK contains private key material');
  if (raw.kty === 'AKP' && raw.alg !== alg) {
    // §7.4: an AKP key is bound to one algorithm; a key used under another is refused before import.
    throw new AcmeError('badPublicKey', `an AKP key for ${String(raw.alg)} cannot sign ${alg}`);
  }
  let jwk: Jwk;
  let thumbprint: string;
  let key: KeyObject;
  try {
    jwk = publicJwk(raw);
    thumbprint = jwkThumbprint(jwk);
    key = importPublicJwk(jwk as import('node:crypto').JsonWebKey);
  } catch (e) {
    throw new AcmeError('badPublicKey', `the JWK is not a usable public key: ${(e as Error).message}`);
  }
  checkKeyMatchesAlg(key, alg);
  return { key, jwk, thumbprint };
}

const CURVE_FOR_ALG: Record<string, string> = { ES256: 'prime256v1', ES384: 'secp384r1', ES512: 'secp521r1' };

export function checkKeyMatchesAlg(key: KeyObject, alg: JwsAlgorithm): void {
  const type = key.asymmetricKeyType as string | undefined;
  const ok =
    alg === 'EdDSA'
      ? type === 'ed25519' || type === 'ed448'
      : alg === 'RS256' || alg === 'PS256'
        ? type === 'rsa'
        : alg.startsWith('ML-DSA-')
          ? type === alg.toLowerCase()
          : type === 'ec' && key.asymmetricKeyDetails?.namedCurve === CURVE_FOR_ALG[alg];
  if (!ok) throw new AcmeError('badPublicKey', `a ${describe(key)} key cannot sign ${alg}`);
  if (type === 'rsa') {
    const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
    if (bits < MIN_RSA_BITS || bits > MAX_RSA_BITS) {
      throw new AcmeError(
        'badPublicKey',
        `RSA keys must be ${MIN_RSA_BITS} to ${MAX_RSA_BITS} bits, not ${bits}`,
      );
    }
  }
}

function describe(key: KeyObject): string {
  const d = key.asymmetricKeyDetails;
  return key.asymmetricKeyType === 'ec' ? `EC ${d?.namedCurve}` : String(key.asymmetricKeyType);
}

/** node:crypto's verify() arguments for a JWS (RFC 7515 §5.2), or undefined when the signature cannot fit. */
function verifyArgs(
  jws: FlattenedJws,
  key: KeyObject,
): [hash: string | null, data: Buffer, key: KeyObject | VerifyKeyWithOptions, signature: Buffer] | undefined {
  const data = Buffer.from(`${jws.protectedB64}.${jws.payloadB64}`, 'ascii');
  const alg = jws.header.alg;
  switch (alg) {
    case 'RS256':
      return ['sha256', data, key, jws.signature];
    case 'PS256':
      return [
        'sha256',
        data,
        { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_DIGEST },
        jws.signature,
      ];
    case 'EdDSA':
    case 'ML-DSA-44':
    case 'ML-DSA-65':
    case 'ML-DSA-87':
      // Pure EdDSA and pure ML-DSA (FIPS 204 Algorithm 3, empty context) verify the message itself.
      return [null, data, key, jws.signature];
    default: {
      const size = ecCoordinateSize(alg)!;
      if (jws.signature.length !== 2 * size) return undefined;
      const hash = alg === 'ES256' ? 'sha256' : alg === 'ES384' ? 'sha384' : 'sha512';
      return [hash, data, key, ecdsaRawToDer(jws.signature, size)];
    }
  }
}

/** Verifies the JWS signature over ASCII(protected || '.' || payload) with node:crypto (RFC 7515 §5.2). */
export function verifyJwsSignature(jws: FlattenedJws, key: KeyObject): boolean {
  const args = verifyArgs(jws, key);
  if (!args) return false;
  try {
    return verify(...args);
  } catch {
    return false;
  }
}

/** verifyJwsSignature on a libuv thread-pool thread (node:crypto's verify with a callback). */
export function verifyJwsSignatureInPool(jws: FlattenedJws, key: KeyObject): Promise<boolean> {
  const args = verifyArgs(jws, key);
  if (!args) return Promise.resolve(false);
  return new Promise((resolve) => {
    try {
      verify(...args, (error, ok) => resolve(!error && ok));
    } catch {
      resolve(false);
    }
  });
}

/**
 * JWS ECDSA signatures are r||s (RFC 7518 §3.4); node:crypto verifies the DER form ~30% faster than it
 * verifies dsaEncoding 'ieee-p1363', so convert: SEQUENCE { INTEGER r, INTEGER s }.
 */
export function ecdsaRawToDer(raw: Buffer, size: number): Buffer {
  const r = derInteger(raw.subarray(0, size));
  const s = derInteger(raw.subarray(size));
  const body = r.length + s.length;
  const header = body < 128 ? Buffer.from([0x30, body]) : Buffer.from([0x30, 0x81, body]);
  return Buffer.concat([header, r, s]);
}

function derInteger(bytes: Buffer): Buffer {
  let i = 0;
  while (i < bytes.length - 1 && bytes[i] === 0) i++;
  const v = bytes.subarray(i);
  const pad = (v[0]! & 0x80) !== 0 ? 1 : 0;
  const out = Buffer.allocUnsafe(2 + pad + v.length);
  out[0] = 0x02;
  out[1] = pad + v.length;
  if (pad) out[2] = 0;
  v.copy(out, 2 + pad);
  return out;
}
