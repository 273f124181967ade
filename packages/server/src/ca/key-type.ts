/**
 * Key types the CA can generate, and the X.509 signature algorithm each issuer key uses.
 */
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { NULL, oid, sequence } from '@akamu/protocol';

export type KeyType = 'ec:P-256' | 'ec:P-384' | 'rsa:2048' | 'rsa:3072' | 'rsa:4096' | 'ed25519';

export const KEY_TYPES: readonly KeyType[] = Object.freeze([
  'ec:P-256',
  'ec:P-384',
  'rsa:2048',
  'rsa:3072',
  'rsa:4096',
  'ed25519',
]);

export function isKeyType(value: unknown): value is KeyType {
  return typeof value === 'string' && (KEY_TYPES as readonly string[]).includes(value);
}

/** Parses configuration text into a KeyType; throws a TypeError naming the accepted values. */
export function parseKeyType(text: string): KeyType {
  if (isKeyType(text)) return text;
  throw new TypeError(
    `unsupported key type ${JSON.stringify(text)}; expected one of ${KEY_TYPES.join(', ')}`,
  );
}

export interface KeyPair {
  privateKey: KeyObject;
  publicKey: KeyObject;
}

export function generateKeyPair(keyType: KeyType): KeyPair {
  switch (keyType) {
    case 'ec:P-256':
    case 'ec:P-384':
      return generateKeyPairSync('ec', { namedCurve: keyType.slice(3) });
    case 'rsa:2048':
    case 'rsa:3072':
    case 'rsa:4096':
      return generateKeyPairSync('rsa', { modulusLength: Number(keyType.slice(4)), publicExponent: 65537 });
    case 'ed25519':
      return generateKeyPairSync('ed25519');
    default:
      throw new TypeError(`unsupported key type ${JSON.stringify(keyType)}`);
  }
}

/** The KeyType a key belongs to, or undefined when it is outside the list (e.g. P-521, RSA-1024). */
export function keyTypeOf(key: KeyObject): KeyType | undefined {
  const details = key.asymmetricKeyDetails ?? {};
  switch (key.asymmetricKeyType) {
    case 'ec':
      if (details.namedCurve === 'prime256v1') return 'ec:P-256';
      if (details.namedCurve === 'secp384r1') return 'ec:P-384';
      return undefined;
    case 'rsa': {
      const kt = `rsa:${details.modulusLength}`;
      return isKeyType(kt) ? kt : undefined;
    }
    case 'ed25519':
      return 'ed25519';
    default:
      return undefined;
  }
}

/** What node:crypto `sign(hash, data, key)` needs, plus the AlgorithmIdentifier to embed. */
export interface SignatureAlgorithm {
  /** Name for messages, e.g. 'ecdsa-with-SHA256'. */
  name: string;
  /** Digest for node:crypto sign(); null for EdDSA. */
  hash: 'sha256' | 'sha384' | 'sha512' | null;
  /** AlgorithmIdentifier DER, used in both tbsCertificate.signature and signatureAlgorithm. */
  algorithmIdentifier: Buffer;
}

function algorithm(name: string, hash: SignatureAlgorithm['hash'], dotted: string, params?: Buffer) {
  const algorithmIdentifier = params ? sequence(oid(dotted), params) : sequence(oid(dotted));
  return Object.freeze({ name, hash, algorithmIdentifier });
}

// RFC 5758 §3.2 (ECDSA: parameters absent), RFC 4055 §5 (RSA: parameters NULL),
// RFC 8410 §3 (EdDSA: parameters absent).
const ECDSA_SHA256 = algorithm('ecdsa-with-SHA256', 'sha256', '1.2.840.10045.4.3.2');
const ECDSA_SHA384 = algorithm('ecdsa-with-SHA384', 'sha384', '1.2.840.10045.4.3.3');
const ECDSA_SHA512 = algorithm('ecdsa-with-SHA512', 'sha512', '1.2.840.10045.4.3.4');
const RSA_SHA256 = algorithm('sha256WithRSAEncryption', 'sha256', '1.2.840.113549.1.1.11', NULL);
const ED25519 = algorithm('Ed25519', null, '1.3.101.112');
const ED448 = algorithm('Ed448', null, '1.3.101.113');

/**
 * The signature algorithm an issuer key signs certificates with: ECDSA with the hash
 * matching the curve, sha256WithRSAEncryption for RSA, pure EdDSA for Ed25519/Ed448.
 * ECDSA signatures come out DER-encoded (node's default dsaEncoding), as X.509 requires.
 */
export function signatureAlgorithmFor(key: KeyObject): SignatureAlgorithm {
  switch (key.asymmetricKeyType) {
    case 'ec': {
      const curve = key.asymmetricKeyDetails?.namedCurve;
      if (curve === 'prime256v1') return ECDSA_SHA256;
      if (curve === 'secp384r1') return ECDSA_SHA384;
      if (curve === 'secp521r1') return ECDSA_SHA512;
      throw new TypeError(`unsupported EC curve ${curve} for an issuer key`);
    }
    case 'rsa':
      return RSA_SHA256;
    case 'ed25519':
      return ED25519;
    case 'ed448':
      return ED448;
    default:
      throw new TypeError(`unsupported issuer key type ${key.asymmetricKeyType}`);
  }
}
