import { randomBytesPooled } from './random.ts';

/** Object ids: 96 random bits, base64url (16 characters). */
export function newId(): string {
  return randomBytesPooled(12).toString('base64url');
}

/** Challenge tokens: 256 random bits, base64url (RFC 8555 §8.3 asks for at least 128). */
export function newToken(): string {
  return randomBytesPooled(32).toString('base64url');
}
