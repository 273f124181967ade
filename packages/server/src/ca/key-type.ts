/**
 * Key types the CA can generate, and the X.509 signature algorithm each issuer key uses.
 */
import { createPublicKey, generateKeyPairSync, type KeyObject, sign } from 'node:crypto';
import { NULL, oid, sequence } from '@akamu/protocol';
import { importSpki } from '../core/public-key.ts';
import {
  COMPOSITE_KEY_TYPES,
  type CompositeKeyType,
  CompositeSigner,
  compositeKeyTypeOf,
  generateCompositeKey,
  isCompositeKeyType,
} from './composite.ts';

export type MlDsaKeyType = 'ml-dsa-44' | 'ml-dsa-65' | 'ml-dsa-87';
export type KeyType =
  | 'ec:P-256'
  | 'ec:P-384'
  | 'rsa:2048'
  | 'rsa:3072'
  | 'rsa:4096'
  | 'ed25519'
  | MlDsaKeyType;

/** FIPS 204 ML-DSA parameter sets, as node:crypto (OpenSSL 3.5) names them. */
export const ML_DSA_KEY_TYPES: readonly MlDsaKeyType[] = Object.freeze([
  'ml-dsa-44',
  'ml-dsa-65',
  'ml-dsa-87',
]);

export const KEY_TYPES: readonly KeyType[] = Object.freeze([
  'ec:P-256',
  'ec:P-384',
  'rsa:2048',
  'rsa:3072',
  'rsa:4096',
  'ed25519',
  ...ML_DSA_KEY_TYPES,
]);

/** The ML-DSA parameter set of a key, or undefined for any other key. */
export function mlDsaTypeOf(key: KeyObject): MlDsaKeyType | undefined {
  const type = key.asymmetricKeyType as string | undefined;
  return (ML_DSA_KEY_TYPES as readonly string[]).includes(type ?? '') ? (type as MlDsaKeyType) : undefined;
}

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
    case 'ml-dsa-44':
    case 'ml-dsa-65':
    case 'ml-dsa-87':
      // @types/node does not list the ML-DSA overloads yet; OpenSSL 3.5 (Node 24) generates them.
      return generateKeyPairSync(keyType as 'ed25519');
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
      return mlDsaTypeOf(key);
  }
}

/** What node:crypto `sign(hash, data, key)` needs, plus the AlgorithmIdentifier to embed. */
export interface SignatureAlgorithm {
  /** Name for messages, e.g. 'ecdsa-with-SHA256'. */
  name: string;
  /** Digest for node:crypto sign(); null for EdDSA and ML-DSA (both sign the message itself). */
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
// draft-ietf-lamps-dilithium-certificates §2 / FIPS 204: id-ml-dsa-44/65/87, parameters absent; pure
// ML-DSA with an empty context string (what node:crypto sign(null, ...) computes).
const ML_DSA: Record<MlDsaKeyType, SignatureAlgorithm> = {
  'ml-dsa-44': algorithm('ML-DSA-44', null, '2.16.840.1.101.3.4.3.17'),
  'ml-dsa-65': algorithm('ML-DSA-65', null, '2.16.840.1.101.3.4.3.18'),
  'ml-dsa-87': algorithm('ML-DSA-87', null, '2.16.840.1.101.3.4.3.19'),
};

/**
 * The signature algorithm an issuer key signs certificates with: ECDSA with the hash
 * matching the curve, sha256WithRSAEncryption for RSA, pure EdDSA for Ed25519/Ed448, pure ML-DSA.
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
    default: {
      const mlDsa = mlDsaTypeOf(key);
      if (mlDsa) return ML_DSA[mlDsa];
      throw new TypeError(`unsupported issuer key type ${key.asymmetricKeyType}`);
    }
  }
}

/**
 * An issuer key node:crypto cannot hold as one KeyObject (the EXPERIMENTAL composite ML-DSA keys of
 * composite.ts): it signs the to-be-signed bytes itself and names its own AlgorithmIdentifier and SPKI.
 */
export interface ExternalSigner {
  readonly algorithm: SignatureAlgorithm;
  /** SubjectPublicKeyInfo DER of the public key. */
  readonly spki: Buffer;
  sign(tbs: Buffer): Buffer;
}

/** What signs certificates, CRLs and OCSP responses: a private KeyObject or an ExternalSigner. */
export type IssuerKey = KeyObject | ExternalSigner;

export function isExternalSigner(key: IssuerKey): key is ExternalSigner {
  return typeof (key as ExternalSigner).sign === 'function' && 'spki' in key;
}

/** The signature algorithm of any issuer key (signatureAlgorithmFor for KeyObjects). */
export function issuerAlgorithm(key: IssuerKey): SignatureAlgorithm {
  return isExternalSigner(key) ? key.algorithm : signatureAlgorithmFor(key);
}

/** The SubjectPublicKeyInfo DER of any issuer key. */
export function issuerSpki(key: IssuerKey): Buffer {
  return isExternalSigner(key) ? key.spki : createPublicKey(key).export({ type: 'spki', format: 'der' });
}

/** Signs to-be-signed DER with an issuer key under `alg` (issuerAlgorithm(key)). */
export function signTbs(alg: SignatureAlgorithm, tbs: Buffer, key: IssuerKey): Buffer {
  return isExternalSigner(key) ? key.sign(tbs) : sign(alg.hash, tbs, key);
}

/**
 * A CA key type (`ca.key_type`): a KeyType, or — with `ca.experimental_composite` — an EXPERIMENTAL
 * composite ML-DSA type (composite.ts), which only akamu's own verifier checks.
 */
export type CaKeyType = KeyType | CompositeKeyType;

export const CA_KEY_TYPES: readonly CaKeyType[] = Object.freeze([...KEY_TYPES, ...COMPOSITE_KEY_TYPES]);

/** ML-DSA or (EXPERIMENTAL) composite ML-DSA: a CA whose chain is post-quantum end to end. */
export function isPostQuantumCaKeyType(type: CaKeyType): boolean {
  return isCompositeKeyType(type) || (ML_DSA_KEY_TYPES as readonly string[]).includes(type);
}

/** A new CA private key: a node:crypto key, or a CompositeSigner for a composite type. */
export function generateIssuerKey(type: CaKeyType): KeyObject | CompositeSigner {
  return isCompositeKeyType(type)
    ? new CompositeSigner(generateCompositeKey(type))
    : generateKeyPair(type).privateKey;
}

/** The CaKeyType of an issuer key, or undefined when it is outside the list (e.g. P-521). */
export function issuerKeyType(key: IssuerKey): CaKeyType | undefined {
  return isExternalSigner(key) ? compositeKeyTypeOf(key.spki) : keyTypeOf(key);
}

/** Whether an issuer key is the private half of a SubjectPublicKeyInfo (DER); false for any SPKI node cannot read. */
export function issuerKeyMatches(key: IssuerKey, spki: Buffer): boolean {
  if (isExternalSigner(key)) return key.spki.equals(spki);
  try {
    return createPublicKey(key).equals(importSpki(spki));
  } catch {
    return false;
  }
}
