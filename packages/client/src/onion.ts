/**
 * RFC 9799 ".onion" names: v3 onion addresses from Ed25519 public keys (Tor rend-spec-v3 §6) and the
 * onion-csr-01 CSR, signed by the hidden service's own key and carrying the CA/Browser Forum
 * signing nonces (Baseline Requirements Appendix B).
 */
import { createHash, createPublicKey, type KeyObject, randomBytes } from 'node:crypto';
import { implicit, octetString, oid, sequence, setOf } from '@akamu/protocol';
import { signCsr } from './csr.ts';

/** cabf-caSigningNonce: the nonce the CA put in the onion-csr-01 challenge. */
export const OID_CA_SIGNING_NONCE = '2.23.140.41';
/** cabf-applicantSigningNonce: a random value chosen by the applicant. */
export const OID_APPLICANT_SIGNING_NONCE = '2.23.140.42';

const BASE32 = 'abcdefghijklmnopqrstuvwxyz234567';

function base32(bytes: Uint8Array): string {
  let out = '';
  let bits = 0;
  let value = 0;
  for (const b of bytes) {
    value = (value << 8) | b;
    bits += 8;
    while (bits >= 5) {
      out += BASE32[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += BASE32[(value << (5 - bits)) & 31];
  return out;
}

/** The 32 raw bytes of an Ed25519 public key (from a private or public KeyObject, or raw bytes). */
function ed25519PublicBytes(key: KeyObject | Uint8Array): Buffer {
  if (key instanceof Uint8Array) {
    if (key.length !== 32) throw new TypeError('an Ed25519 public key has 32 bytes');
    return Buffer.from(key);
  }
  if (key.asymmetricKeyType !== 'ed25519') throw new TypeError('onion services use Ed25519 keys');
  const pub = key.type === 'private' ? createPublicKey(key) : key;
  return Buffer.from(String(pub.export({ format: 'jwk' }).x), 'base64url');
}

/**
 * The v3 onion address of an Ed25519 key: base32(PUBKEY || CHECKSUM || VERSION) + ".onion", where
 * CHECKSUM = SHA3-256(".onion checksum" || PUBKEY || VERSION)[:2] and VERSION = 0x03.
 */
export function onionAddressFromKey(publicKey: KeyObject | Uint8Array): string {
  const pub = ed25519PublicBytes(publicKey);
  const version = Buffer.from([3]);
  const checksum = createHash('sha3-256')
    .update('.onion checksum')
    .update(pub)
    .update(version)
    .digest()
    .subarray(0, 2);
  return `${base32(Buffer.concat([pub, checksum, version]))}.onion`;
}

export interface OnionCsrOptions {
  /** The hidden service's Ed25519 private key (its address must be the last labels of onionName). */
  key: KeyObject;
  /** The name to validate: `<56 characters>.onion`, or a subdomain of it. */
  onionName: string;
  /** The challenge's `nonce` (base64, RFC 9799 §3.2) or its decoded bytes; at least 64 bits. */
  caNonce: string | Uint8Array;
  /** The applicant's own nonce; 16 random bytes by default. */
  applicantNonce?: Uint8Array;
}

/**
 * The onion-csr-01 response CSR (RFC 9799 §3.2): subjectAltName dNSName = onionName, attributes
 * cabf-caSigningNonce (the CA's nonce) and cabf-applicantSigningNonce (ours), each a single OCTET
 * STRING, signed by the hidden-service key. Send it with
 * `client.respondChallenge(challenge.url, { csr: csr.toString('base64url') })`.
 */
export function createOnionCsr(opts: OnionCsrOptions): Buffer {
  const { key } = opts;
  if (key?.type !== 'private' || key.asymmetricKeyType !== 'ed25519')
    throw new TypeError('key must be the hidden service Ed25519 private key');
  const name = opts.onionName.toLowerCase().replace(/\.$/, '');
  const address = onionAddressFromKey(key);
  if (name !== address && !name.endsWith(`.${address}`))
    throw new TypeError(`${opts.onionName} is not the onion name of this key (${address})`);
  const caNonce =
    typeof opts.caNonce === 'string' ? Buffer.from(opts.caNonce, 'base64') : Buffer.from(opts.caNonce);
  if (caNonce.length < 8) throw new TypeError('caNonce must carry at least 64 bits');
  const applicantNonce = Buffer.from(opts.applicantNonce ?? randomBytes(16));
  if (applicantNonce.length < 8) throw new TypeError('applicantNonce must carry at least 64 bits');

  const san = sequence(oid('2.5.29.17'), octetString(sequence(implicit(2, Buffer.from(name, 'ascii')))));
  const attributes = [
    sequence(oid('1.2.840.113549.1.9.14'), setOf(sequence(san))),
    sequence(oid(OID_CA_SIGNING_NONCE), setOf(octetString(caNonce))),
    sequence(oid(OID_APPLICANT_SIGNING_NONCE), setOf(octetString(applicantNonce))),
  ];
  return signCsr(key, sequence(), attributes);
}
