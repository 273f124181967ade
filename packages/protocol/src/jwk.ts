import { createHash, type KeyObject } from 'node:crypto';
import { b64u } from './base64url.ts';

export type Jwk = Record<string, unknown> & { kty: string };

/** RFC 7638 §3.2: the required members, in lexicographic order (AKP: draft-ietf-cose-dilithium §6). */
const THUMBPRINT_MEMBERS: Record<string, string[]> = {
  EC: ['crv', 'kty', 'x', 'y'],
  RSA: ['e', 'kty', 'n'],
  OKP: ['crv', 'kty', 'x'],
  AKP: ['alg', 'kty', 'pub'],
};

/**
 * Only the public members of a JWK (RFC 7518 §6.2.1, §6.3.1; RFC 8037 §2): EC kty crv x y,
 * RSA kty n e, OKP kty crv x; draft-ietf-cose-dilithium AKP kty alg pub. Throws a TypeError on any other
 * key type.
 */
export function publicJwk(jwk: Jwk): Jwk {
  switch (jwk.kty) {
    case 'EC':
      return { kty: 'EC', crv: jwk.crv, x: jwk.x, y: jwk.y };
    case 'RSA':
      return { kty: 'RSA', n: jwk.n, e: jwk.e };
    case 'OKP':
      return { kty: 'OKP', crv: jwk.crv, x: jwk.x };
    case 'AKP': // draft-ietf-cose-dilithium §3: alg is required, priv must not be present.
      return { kty: 'AKP', alg: jwk.alg, pub: jwk.pub };
    default:
      throw new TypeError(`unsupported JWK key type ${String(jwk.kty)}`);
  }
}

/** RFC 7638 JWK thumbprint (SHA-256, base64url). Throws on an unknown key type. */
export function jwkThumbprint(jwk: Jwk): string {
  const members = THUMBPRINT_MEMBERS[jwk.kty];
  if (!members) throw new TypeError(`unsupported JWK key type ${jwk.kty}`);
  const canonical: Record<string, unknown> = {};
  for (const m of members) {
    if (typeof jwk[m] !== 'string') throw new TypeError(`JWK member ${m} missing`);
    canonical[m] = jwk[m];
  }
  return b64u(createHash('sha256').update(JSON.stringify(canonical)).digest());
}

/** RFC 8555 §8.1: keyAuthorization = token || '.' || base64url(Thumbprint(accountKey)). */
export function keyAuthorization(token: string, thumbprint: string): string {
  return `${token}.${thumbprint}`;
}

/** RFC 8555 §8.4: the dns-01 TXT value, base64url(SHA-256(keyAuthorization)). */
export function dns01TxtValue(keyAuth: string): string {
  return b64u(createHash('sha256').update(keyAuth).digest());
}

/** The JWS `alg` for a key: RS256, ES256/384/512 by curve, EdDSA for Ed25519/Ed448. */
export function jwsAlgorithmForKey(key: KeyObject): string {
  switch (key.asymmetricKeyType) {
    case 'rsa':
      return 'RS256';
    case 'rsa-pss':
      return 'PS256';
    case 'ec': {
      const curve = key.asymmetricKeyDetails?.namedCurve;
      if (curve === 'prime256v1') return 'ES256';
      if (curve === 'secp384r1') return 'ES384';
      if (curve === 'secp521r1') return 'ES512';
      throw new TypeError(`unsupported EC curve ${curve}`);
    }
    case 'ed25519':
    case 'ed448':
      return 'EdDSA';
    default:
      throw new TypeError(`unsupported key type ${key.asymmetricKeyType}`);
  }
}

/** ECDSA JWS signatures are r||s of fixed width (RFC 7518 §3.4). */
export function ecCoordinateSize(alg: string): number | undefined {
  return alg === 'ES256' ? 32 : alg === 'ES384' ? 48 : alg === 'ES512' ? 66 : undefined;
}
