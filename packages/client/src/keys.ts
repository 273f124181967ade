/** Key generation and PEM import/export for account and certificate keys (node:crypto KeyObjects). */
import { createPrivateKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { jwsAlgorithmForKey } from '@akamu/protocol';

export type KeySpec =
  | 'ec:P-256'
  | 'ec:P-384'
  | 'ec:P-521'
  | 'rsa:2048'
  | 'rsa:3072'
  | 'rsa:4096'
  | 'ed25519'
  | 'ed448'
  | 'ml-dsa-44'
  | 'ml-dsa-65'
  | 'ml-dsa-87';

export type MlDsaKeyType = 'ml-dsa-44' | 'ml-dsa-65' | 'ml-dsa-87';
const ML_DSA: readonly MlDsaKeyType[] = ['ml-dsa-44', 'ml-dsa-65', 'ml-dsa-87'];

/** True when node:crypto can generate ML-DSA keys (Node 24 with OpenSSL 3.5 or later). */
function mlDsaSupported(type: MlDsaKeyType): boolean {
  try {
    generateKeyPairSync(type as 'ed25519');
    return true;
  } catch {
    return false;
  }
}

/** Every key spec generateKey accepts in this runtime (ML-DSA only where node:crypto has it). */
export const KEY_SPECS: readonly KeySpec[] = [
  'ec:P-256',
  'ec:P-384',
  'ec:P-521',
  'rsa:2048',
  'rsa:3072',
  'rsa:4096',
  'ed25519',
  'ed448',
  ...ML_DSA.filter(mlDsaSupported),
];

/** Generates a private key. RSA keys use e = 65537; generating rsa:4096 takes about a second. */
export function generateKey(spec: KeySpec): KeyObject {
  switch (spec) {
    case 'ec:P-256':
    case 'ec:P-384':
    case 'ec:P-521':
      return generateKeyPairSync('ec', { namedCurve: spec.slice(3) }).privateKey;
    case 'rsa:2048':
    case 'rsa:3072':
    case 'rsa:4096':
      return generateKeyPairSync('rsa', { modulusLength: Number(spec.slice(4)), publicExponent: 65537 })
        .privateKey;
    case 'ed25519':
      return generateKeyPairSync('ed25519').privateKey;
    case 'ed448':
      return generateKeyPairSync('ed448').privateKey;
    case 'ml-dsa-44':
    case 'ml-dsa-65':
    case 'ml-dsa-87':
      if (!KEY_SPECS.includes(spec)) throw new TypeError(`${spec} is not supported by this Node.js/OpenSSL`);
      // @types/node does not list the ML-DSA overloads yet.
      return generateKeyPairSync(spec as 'ed25519').privateKey;
    default:
      throw new TypeError(`unsupported key spec ${String(spec)}; expected one of ${KEY_SPECS.join(', ')}`);
  }
}

/** The ML-DSA parameter set of a key, or undefined for any other key type. */
export function mlDsaType(key: KeyObject): MlDsaKeyType | undefined {
  const type = key.asymmetricKeyType as string | undefined;
  return ML_DSA.includes(type as MlDsaKeyType) ? (type as MlDsaKeyType) : undefined;
}

/**
 * The JWS `alg` of a key: RS256, ES256/384/512, EdDSA, and ML-DSA-44/65/87
 * (draft-ietf-cose-dilithium, "ML-DSA for JOSE and COSE").
 */
export function jwsAlgorithm(key: KeyObject): string {
  const mlDsa = mlDsaType(key);
  return mlDsa ? mlDsa.toUpperCase() : jwsAlgorithmForKey(key);
}

/**
 * Imports a PEM private key (PKCS#8, SEC1 "EC PRIVATE KEY" or PKCS#1 "RSA PRIVATE KEY", unencrypted).
 * Throws a TypeError when it is not a private key of a type ACME JWS can use.
 */
export function importPrivateKeyPem(pem: string | Buffer): KeyObject {
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: pem, format: 'pem' });
  } catch (cause) {
    throw new TypeError('not a PEM private key', { cause });
  }
  assertSigningKey(key);
  return key;
}

/** Exports a private key as unencrypted PKCS#8 PEM. */
export function exportPrivateKeyPem(key: KeyObject): string {
  assertSigningKey(key);
  return key.export({ type: 'pkcs8', format: 'pem' }) as string;
}

/** A private RSA, EC (P-256/384/521), Ed25519, Ed448 or ML-DSA key. */
export function assertSigningKey(key: KeyObject): void {
  if (key?.type !== 'private') throw new TypeError('expected a private KeyObject');
  if (key.asymmetricKeyType === 'rsa-pss')
    throw new TypeError('RSA-PSS keys are not supported; use an rsa key');
  jwsAlgorithm(key);
}
