/**
 * RFC 8555 §6.2 flattened JWS (RFC 7515 §7.2.2) signed with node:crypto KeyObjects, and RFC 7517 JWK
 * export of their public halves. ECDSA signatures are raw r||s (RFC 7518 §3.4).
 */
import { createHmac, createPublicKey, type KeyObject, sign } from 'node:crypto';
import { b64u, ecCoordinateSize, type Jwk, jwkThumbprint, publicJwk } from '@akamu/protocol';
import { assertSigningKey, jwsAlgorithm } from './keys.ts';

export interface FlattenedJws {
  protected: string;
  payload: string;
  signature: string;
}

/**
 * The public JWK of a (private or public) key, with only the public members: RFC 7518 §6 (EC, RSA),
 * RFC 8037 (OKP) and, for ML-DSA, the AKP key type of draft-ietf-cose-dilithium (kty, alg, pub).
 */
export function exportPublicJwk(key: KeyObject): Jwk {
  const pub = key.type === 'private' ? createPublicKey(key) : key;
  const jwk = pub.export({ format: 'jwk' }) as Jwk;
  if (jwk.kty === 'AKP') return { kty: 'AKP', alg: jwk.alg, pub: jwk.pub };
  return publicJwk(jwk);
}

/** base64url of a JWS payload: '' stays '' (POST-as-GET, RFC 8555 §6.3); objects are JSON. */
export function encodePayload(payload: object | ''): string {
  return payload === '' ? '' : b64u(JSON.stringify(payload));
}

/**
 * Signs JWS with one private key. Everything that depends only on the key (alg, JWK, thumbprint,
 * digest and signature encoding) is computed once, so each signature costs one JSON.stringify,
 * two base64url encodings and one node:crypto sign.
 */
export class JwsSigner {
  readonly key: KeyObject;
  readonly alg: string;
  readonly jwk: Jwk;
  readonly #digest: string | null;
  readonly #coordinateSize: number | undefined;
  #thumbprint: string | undefined;

  constructor(key: KeyObject) {
    assertSigningKey(key);
    this.key = key;
    this.alg = jwsAlgorithm(key);
    this.jwk = exportPublicJwk(key);
    this.#coordinateSize = ecCoordinateSize(this.alg);
    // EdDSA and ML-DSA sign the message itself (ML-DSA: pure mode, empty context).
    this.#digest = this.alg === 'EdDSA' || this.alg.startsWith('ML-DSA') ? null : `sha${this.alg.slice(2)}`;
  }

  /** RFC 7638 thumbprint of the public key, base64url SHA-256. */
  get thumbprint(): string {
    this.#thumbprint ??= jwkThumbprint(this.jwk);
    return this.#thumbprint;
  }

  /** Signs `payload` (already base64url-encoded, see encodePayload) under the given protected header. */
  sign(protectedHeader: Record<string, unknown>, encodedPayload: string): FlattenedJws {
    const prot = b64u(JSON.stringify({ alg: this.alg, ...protectedHeader }));
    const input = Buffer.from(`${prot}.${encodedPayload}`, 'latin1');
    const der = sign(this.#digest, input, this.key);
    const signature = this.#coordinateSize === undefined ? der : ecdsaDerToRaw(der, this.#coordinateSize);
    return { protected: prot, payload: encodedPayload, signature: b64u(signature) };
  }
}

/**
 * ECDSA-Sig-Value DER (SEQUENCE { r INTEGER, s INTEGER }) to the JWS form r||s, each left-padded to
 * `size` bytes (RFC 7518 §3.4). node:crypto can produce this itself (dsaEncoding 'ieee-p1363'), but
 * with OpenSSL 3 that doubles the cost of a P-256 signature (~66 µs against ~34 µs), so convert here.
 */
export function ecdsaDerToRaw(der: Buffer, size: number): Buffer {
  const fail = () => new TypeError('malformed ECDSA signature');
  if (der[0] !== 0x30) throw fail();
  let offset = der[1]! & 0x80 ? 2 + (der[1]! & 0x7f) : 2;
  const out = Buffer.alloc(2 * size);
  for (let i = 0; i < 2; i++) {
    if (der[offset] !== 0x02) throw fail();
    const length = der[offset + 1]!;
    let start = offset + 2;
    const end = start + length;
    if (end > der.length) throw fail();
    while (start < end && der[start] === 0) start++;
    if (end - start > size) throw fail();
    der.copy(out, (i + 1) * size - (end - start), start, end);
    offset = end;
  }
  return out;
}

export type HmacAlgorithm = 'HS256' | 'HS384' | 'HS512';

/**
 * RFC 8555 §7.3.4 external account binding: a JWS over the account's public JWK, MACed with the
 * CA-issued key, protected header {alg, kid, url} (no nonce).
 */
export function signExternalAccountBinding(opts: {
  accountJwk: Jwk;
  kid: string;
  hmacKey: Buffer;
  url: string;
  alg?: HmacAlgorithm;
}): FlattenedJws {
  const alg = opts.alg ?? 'HS256';
  if (alg !== 'HS256' && alg !== 'HS384' && alg !== 'HS512')
    throw new TypeError(`unsupported EAB alg ${alg}`);
  const prot = b64u(JSON.stringify({ alg, kid: opts.kid, url: opts.url }));
  const payload = b64u(JSON.stringify(opts.accountJwk));
  const mac = createHmac(`sha${alg.slice(2)}`, opts.hmacKey)
    .update(`${prot}.${payload}`)
    .digest();
  return { protected: prot, payload, signature: b64u(mac) };
}
