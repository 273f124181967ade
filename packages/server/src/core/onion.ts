import { createHash } from 'node:crypto';
import type { Identifier } from '@akamu/protocol';
import { AcmeError } from '../errors.ts';

/** SubjectPublicKeyInfo DER of an Ed25519 key, before its 32 raw bytes (RFC 8410 §4). */
export const ED25519_SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

/**
 * ".onion" Special-Use Domain Names (RFC 7686) for RFC 9799. A version 3 onion address is the base32
 * (RFC 4648, lower case, no padding) of PUBKEY (32 bytes, the service's Ed25519 key) || CHECKSUM (2) ||
 * VERSION (1, = 3), where CHECKSUM = SHA3-256(".onion checksum" || PUBKEY || VERSION)[:2] (Tor rend-spec-v3
 * §6). Version 2 addresses (16 characters) use RSA-1024 and SHA-1 and are refused (RFC 9799 §2).
 */

const BASE32 = 'abcdefghijklmnopqrstuvwxyz234567';

export function isOnionName(name: string): boolean {
  return name === 'onion' || name.endsWith('.onion');
}

function base32Decode(text: string): Buffer | undefined {
  let bits = 0;
  let value = 0;
  const out: number[] = [];
  for (const ch of text) {
    const v = BASE32.indexOf(ch);
    if (v < 0) return undefined;
    value = (value << 5) | v;
    bits += 5;
    if (bits >= 8) {
      out.push((value >> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  return Buffer.from(out);
}

export function base32Encode(bytes: Uint8Array): string {
  let bits = 0;
  let value = 0;
  let out = '';
  for (const b of bytes) {
    value = (value << 8) | b;
    bits += 8;
    while (bits >= 5) {
      out += BASE32[(value >> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += BASE32[(value << (5 - bits)) & 31];
  return out;
}

function checksum(publicKey: Uint8Array, version: number): Buffer {
  return createHash('sha3-256')
    .update('.onion checksum')
    .update(publicKey)
    .update(Uint8Array.of(version))
    .digest()
    .subarray(0, 2);
}

/** The v3 onion address (`<56 characters>.onion`) of a raw 32-byte Ed25519 public key. */
export function onionAddress(publicKey: Uint8Array): string {
  const body = Buffer.concat([publicKey, checksum(publicKey, 3), Uint8Array.of(3)]);
  return `${base32Encode(body)}.onion`;
}

/**
 * The service's Ed25519 public key for a name under ".onion" (the label left of "onion"; names below it,
 * e.g. `www.<addr>.onion`, belong to the same service), or why the name is not a valid v3 address.
 */
export function onionServiceKey(name: string): { publicKey: Buffer } | { error: string } {
  const labels = name.split('.');
  if (labels.length < 2 || labels.at(-1) !== 'onion') return { error: 'not a ".onion" name' };
  const address = labels.at(-2)!;
  if (address.length === 16) return { error: 'version 2 onion addresses are not supported (RFC 9799 §2)' };
  if (address.length !== 56) return { error: 'an onion address must have 56 base32 characters (version 3)' };
  const bytes = base32Decode(address);
  if (bytes?.length !== 35) return { error: 'the onion address is not base32' };
  const publicKey = bytes.subarray(0, 32);
  const version = bytes[34]!;
  if (version !== 3) return { error: `onion address version ${version} is not supported` };
  if (!checksum(publicKey, version).equals(bytes.subarray(32, 34))) {
    return { error: 'the onion address checksum does not match' };
  }
  return { publicKey: Buffer.from(publicKey) };
}

/** RFC 9799 §3.2: the CA nonce of onion-csr-01 is not accepted when generated more than 30 days ago. */
export const ONION_NONCE_MAX_AGE_MS = 30 * 86_400_000;

/**
 * RFC 9799 §3.2: the key in the finalize CSR MUST NOT be the key of a ".onion" service being certified
 * (that key proves control; it must not also be the certificate's key).
 */
export function checkCsrKeyIsNotOnionKey(spki: Buffer, identifiers: Identifier[]): void {
  const ed25519 = spki.length === 44 && spki.subarray(0, 12).equals(ED25519_SPKI_PREFIX);
  if (!ed25519) return;
  const key = spki.subarray(12);
  for (const id of identifiers) {
    if (id.type !== 'dns' || !isOnionName(id.value)) continue;
    const service = onionServiceKey(id.value.replace(/^\*\./, ''));
    if ('publicKey' in service && service.publicKey.equals(key)) {
      throw new AcmeError(
        'badCSR',
        `the certificate key must not be the key of the onion service ${id.value}`,
      );
    }
  }
}
