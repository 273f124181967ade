import type { KeyDescription } from '../ca/csr.ts';

/**
 * Certificate-profile rules applied at finalization (draft-ietf-acme-profiles leaves the content of a
 * profile to the CA): which certificate keys a profile accepts, and the KeyUsage and ExtendedKeyUsage
 * (RFC 5280 §4.2.1.3, §4.2.1.12) it writes.
 */

/** Key type names a profile may list in `allowed_key_types`: a family, or a family and size/curve. */
export const PROFILE_KEY_TYPES = [
  'rsa',
  'rsa:2048',
  'rsa:3072',
  'rsa:4096',
  'ec',
  'ec:P-256',
  'ec:P-384',
  'ec:P-521',
  'ed25519',
  'ed448',
  'ml-dsa',
  'ml-dsa-44',
  'ml-dsa-65',
  'ml-dsa-87',
] as const;
export type ProfileKeyType = (typeof PROFILE_KEY_TYPES)[number];

/** The names a key answers to: `rsa` and `rsa:<bits>`, `ec` and `ec:<curve>`, `ed25519`, `ed448`, `ml-dsa` and `ml-dsa-<n>`. */
export function keyTypeNames(d: KeyDescription): string[] {
  if (d.type === 'rsa') return ['rsa', `rsa:${d.bits}`];
  if (d.type === 'ec') return ['ec', `ec:${d.curve}`];
  if (d.type.startsWith('ml-dsa-')) return ['ml-dsa', d.type];
  return [d.type];
}

/** Why a profile refuses the key, or undefined when it accepts it (an empty list accepts every key). */
export function keyTypeRefusal(d: KeyDescription, allowed: readonly string[]): string | undefined {
  if (allowed.length === 0) return undefined;
  const names = keyTypeNames(d);
  if (names.some((n) => allowed.includes(n))) return undefined;
  return `this profile accepts ${allowed.join(', ')} keys, not ${names.at(-1)}`;
}

/** RFC 5280 §4.2.1.3 KeyUsage bit numbers by name. */
export const KEY_USAGE_BITS = {
  digitalSignature: 0,
  contentCommitment: 1,
  keyEncipherment: 2,
  dataEncipherment: 3,
  keyAgreement: 4,
} as const;
export type KeyUsageName = keyof typeof KEY_USAGE_BITS;

/**
 * The KeyUsage bits of a leaf for a key: encipherment only fits RSA keys and key agreement only EC keys
 * (RFC 5480 §3, RFC 8410 §5), so those are left out for other keys. Empty when nothing fits.
 */
export function keyUsageBitsFor(names: readonly KeyUsageName[], keyType: string): number[] {
  const bits = new Set<number>();
  for (const name of names) {
    if ((name === 'keyEncipherment' || name === 'dataEncipherment') && keyType !== 'rsa') continue;
    if (name === 'keyAgreement' && keyType !== 'ec') continue;
    bits.add(KEY_USAGE_BITS[name]);
  }
  return [...bits].sort((a, b) => a - b);
}

/** RFC 5280 §4.2.1.12 key purposes by name; a profile may also list dotted OIDs. */
export const EKU_OIDS: Record<string, string> = {
  serverAuth: '1.3.6.1.5.5.7.3.1',
  clientAuth: '1.3.6.1.5.5.7.3.2',
  codeSigning: '1.3.6.1.5.5.7.3.3',
  emailProtection: '1.3.6.1.5.5.7.3.4',
  timeStamping: '1.3.6.1.5.5.7.3.8',
  ocspSigning: '1.3.6.1.5.5.7.3.9',
};

const DOTTED_OID = /^[0-2](?:\.(?:0|[1-9]\d*))+$/;

/** The OID of an `extended_key_usages` entry, or undefined when it is neither a known name nor an OID. */
export function ekuOid(entry: string): string | undefined {
  return EKU_OIDS[entry] ?? (DOTTED_OID.test(entry) ? entry : undefined);
}
