import { createHmac, hkdfSync, timingSafeEqual } from 'node:crypto';
import { fromB64u, type Jwk, jwkThumbprint, publicJwk } from '@akamu/protocol';
import { malformed, unauthorized } from '../errors.ts';

/**
 * External account binding (RFC 8555 §7.3.4): the pure rules. The binding is a flattened JWS whose
 * protected header carries a MAC algorithm, the CA-issued key identifier and the new-account URL (and no
 * nonce), whose payload is the account's public JWK, and whose signature is a MAC under the CA-issued key.
 */

/** RFC 7518 §3.2: the MAC algorithms accepted for a binding. */
export const EAB_ALGORITHMS = ['HS256', 'HS384', 'HS512'] as const;
export type EabAlgorithm = (typeof EAB_ALGORITHMS)[number];

/** Key identifiers: printable, URL- and TOML-key-friendly, at most 128 characters. */
export const EAB_KID = /^[A-Za-z0-9][A-Za-z0-9._~:@+=-]{0,127}$/;
/** RFC 7518 §3.2 asks for a key at least as long as the hash output; 256 bits is the floor for every key. */
export const MIN_EAB_KEY_BYTES = 32;
/** Longest accepted MAC key (the column holds its base64url form). */
export const MAX_EAB_KEY_BYTES = 128;

export interface ParsedEab {
  alg: EabAlgorithm;
  kid: string;
  url: string;
  /** The payload: the public JWK the binding vouches for. */
  jwk: Jwk;
  /** ASCII(protected || '.' || payload), the MAC input (RFC 7515 §5.1). */
  signingInput: Buffer;
  mac: Buffer;
}

/**
 * RFC 8555 §7.3.4 / RFC 7515 §7.2.2: a flattened JWS with exactly `protected`, `payload` and `signature`;
 * the header names a MAC `alg`, a string `kid` and `url`, no `nonce`, `jwk` or `crit`; the payload is a JWK.
 * Anything else is `malformed`.
 */
export function parseExternalAccountBinding(value: unknown): ParsedEab {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw malformed('"externalAccountBinding" must be a flattened JWS object');
  }
  const v = value as Record<string, unknown>;
  if ('signatures' in v || 'header' in v) {
    throw malformed('"externalAccountBinding" must be a flattened JWS with no unprotected header');
  }
  if (typeof v.protected !== 'string' || typeof v.payload !== 'string' || typeof v.signature !== 'string') {
    throw malformed('"externalAccountBinding" must have string "protected", "payload" and "signature"');
  }
  const protectedRaw = fromB64u(v.protected);
  const payloadRaw = fromB64u(v.payload);
  const mac = fromB64u(v.signature);
  if (!protectedRaw || !payloadRaw || !mac || v.protected === '' || v.payload === '' || mac.length === 0) {
    throw malformed('the "externalAccountBinding" members must be non-empty base64url without padding');
  }
  const header = parseJsonObject(protectedRaw, 'protected header');
  if (typeof header.alg !== 'string' || !(EAB_ALGORITHMS as readonly string[]).includes(header.alg)) {
    throw malformed(
      `the external account binding "alg" must be one of ${EAB_ALGORITHMS.join(', ')}, not ${JSON.stringify(header.alg)}`,
    );
  }
  if (typeof header.kid !== 'string' || header.kid === '') {
    throw malformed('the external account binding must name its key in "kid"');
  }
  if (typeof header.url !== 'string') throw malformed('the external account binding must carry a "url"');
  if ('nonce' in header) throw malformed('the external account binding must not carry a "nonce"');
  if ('jwk' in header) throw malformed('the external account binding must not carry a "jwk"');
  if ('crit' in header)
    throw malformed('no "crit" extensions are understood in the external account binding');
  const payload = parseJsonObject(payloadRaw, 'payload');
  let jwk: Jwk;
  try {
    jwk = publicJwk(payload as Jwk);
  } catch (e) {
    throw malformed(`the external account binding payload is not a public JWK: ${(e as Error).message}`);
  }
  if ('d' in payload) throw malformed('the external account binding payload contains private key material');
  return {
    alg: header.alg as EabAlgorithm,
    kid: header.kid,
    url: header.url,
    jwk,
    signingInput: Buffer.from(`${v.protected}.${v.payload}`, 'ascii'),
    mac,
  };
}

function parseJsonObject(raw: Buffer, what: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw.toString('utf8'));
  } catch {
    throw malformed(`the external account binding ${what} is not valid JSON`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw malformed(`the external account binding ${what} is not a JSON object`);
  }
  return parsed as Record<string, unknown>;
}

/**
 * RFC 8555 §7.3.4: the binding's `url` is the new-account URL, and its payload is the same key as the
 * outer JWS's `jwk` (compared by RFC 7638 thumbprint, so member order and extra members do not matter).
 */
export function checkEabBindsAccountKey(
  eab: ParsedEab,
  newAccountUrl: string,
  accountThumbprint: string,
): void {
  if (eab.url !== newAccountUrl) {
    throw malformed(
      `the external account binding "url" ${JSON.stringify(eab.url)} is not the new-account URL ${newAccountUrl}`,
    );
  }
  let thumbprint: string;
  try {
    thumbprint = jwkThumbprint(eab.jwk);
  } catch (e) {
    throw malformed(`the external account binding payload is not a usable JWK: ${(e as Error).message}`);
  }
  if (thumbprint !== accountThumbprint) {
    throw malformed('the external account binding payload is not the account key of the request');
  }
}

/** The binding's MAC under `hmacKey`, compared in constant time (crypto.timingSafeEqual). */
export function verifyEabMac(eab: ParsedEab, hmacKey: Buffer): boolean {
  const expected = createHmac(`sha${eab.alg.slice(2)}`, hmacKey)
    .update(eab.signingInput)
    .digest();
  return expected.length === eab.mac.length && timingSafeEqual(expected, eab.mac);
}

/** Whether a stored key is past its expiry at `now` (expiresAt null: it never expires). */
export function isEabKeyExpired(expiresAt: number | null, now: number): boolean {
  return expiresAt !== null && expiresAt <= now;
}

/** Throws `unauthorized` for a key that cannot bind an account now: used, or expired. */
export function assertEabKeyUsable(
  key: { kid: string; usedBy: string | null; expiresAt: number | null },
  now: number,
): void {
  if (key.usedBy !== null) throw unauthorized(`the external account key "${key.kid}" has already been used`);
  if (isEabKeyExpired(key.expiresAt, now))
    throw unauthorized(`the external account key "${key.kid}" has expired`);
}

/** Parses a base64url MAC key (configuration, createEabKey); undefined when it is not one or is too short/long. */
export function parseEabHmacKey(text: string): Buffer | undefined {
  const key = fromB64u(text);
  if (!key || key.length < MIN_EAB_KEY_BYTES || key.length > MAX_EAB_KEY_BYTES) return undefined;
  return key;
}

const KID_INFO = 'akamu eab v1 kid\0';
const KEY_INFO = 'akamu eab v1 hmac\0';
/** Derived key identifiers start with this, so they never collide with static or created ones by chance. */
export const DERIVED_KID_PREFIX = 'hkdf-';

/**
 * HKDF-SHA-256 (RFC 5869) from the master secret, no salt (§2.2: HashLen zero bytes; the master secret is
 * already uniformly random). Two outputs separated by `info`: a 128-bit key identifier and a 256-bit MAC
 * key, both stable for a principal, so a client may ask again and get the same pair.
 */
export function deriveEabCredentials(
  masterSecret: Buffer,
  principal: string,
): { kid: string; hmacKey: Buffer } {
  const p = Buffer.from(principal, 'utf8');
  const kid = Buffer.from(
    hkdfSync('sha256', masterSecret, Buffer.alloc(0), Buffer.concat([Buffer.from(KID_INFO), p]), 16),
  );
  const hmacKey = Buffer.from(
    hkdfSync('sha256', masterSecret, Buffer.alloc(0), Buffer.concat([Buffer.from(KEY_INFO), p]), 32),
  );
  return { kid: DERIVED_KID_PREFIX + kid.toString('base64url'), hmacKey };
}

/**
 * A principal named by the reverse proxy's header: 1–255 characters, no control characters (it is
 * stored and shown to operators). Undefined when absent or unacceptable.
 */
export function parsePrincipal(header: string | string[] | undefined): string | undefined {
  if (typeof header !== 'string') return undefined;
  const p = header.trim();
  // biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters is the point
  if (p === '' || p.length > 255 || /[\u0000-\u001f\u007f]/.test(p)) return undefined;
  return p;
}
