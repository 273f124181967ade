/**
 * EXPERIMENTAL — Composite ML-DSA signatures (draft-ietf-lamps-pq-composite-sigs, -13/-14 text of
 * December 2025): one CA key made of an ML-DSA key and a traditional key, whose signatures verify only
 * when both component signatures verify. The draft is not an RFC yet and may still change its encodings,
 * labels and OIDs; no browser, OpenSSL release or other tool verifies these signatures today, so only the
 * verifier below (written from the draft) checks them. Keys and certificates made here are for trials.
 *
 * - Message representative (§3.2): M' = Prefix || Label || len(ctx) || ctx || PH(M), with Prefix the
 *   ASCII "CompositeAlgorithmSignatures2025" and Label per algorithm (§7).
 * - Sign (§4.2): mldsaSig = ML-DSA.Sign(sk, M', ctx = Label) (pure ML-DSA), tradSig = Trad.Sign(sk, M');
 *   the signature value is mldsaSig || tradSig (§5.3), ECDSA as a DER Ecdsa-Sig-Value.
 * - Public key (§5.1): mldsaPK || tradPK (ECDSA: uncompressed X9.62 point; Ed25519: 32 raw bytes), in the
 *   SubjectPublicKeyInfo BIT STRING with the composite OID and absent parameters (§6.1, §6.3).
 * - Private key (§5.2): mldsaSeed (32 bytes) || tradSK (ECPrivateKey with the curve and no publicKey;
 *   Ed25519: 32 raw bytes), in a PKCS#8 OneAsymmetricKey with the composite OID (§6.3).
 */
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
  randomBytes,
  sign,
  verify,
} from 'node:crypto';
import {
  bitString,
  contentOf,
  decodeOid,
  explicit,
  integer,
  octetString,
  oid,
  rawOf,
  readChildren,
  readWhole,
  sequence,
  TAG,
  type Tlv,
} from '@akamu/protocol';
import type { ExternalSigner, MlDsaKeyType, SignatureAlgorithm } from './key-type.ts';

/** §3.2: the byte encoding of the ASCII string "CompositeAlgorithmSignatures2025". */
export const COMPOSITE_PREFIX = Buffer.from('CompositeAlgorithmSignatures2025', 'ascii');

type TradKind =
  | { type: 'ecdsa'; curve: 'P-256' | 'P-384'; curveOid: string; hash: 'sha256' | 'sha384' }
  | { type: 'ed25519' };

interface CompositeAlgorithm {
  /** Configuration name, e.g. composite:ml-dsa-65+ecdsa-p256. */
  name: string;
  /** §7 identifier name, e.g. id-MLDSA65-ECDSA-P256-SHA512. */
  id: string;
  oid: string;
  label: string;
  /** PH, the pre-hash of the message (§3.1). */
  preHash: 'sha256' | 'sha512';
  mlDsa: MlDsaKeyType;
  trad: TradKind;
}

const P256 = { type: 'ecdsa', curve: 'P-256', curveOid: '1.2.840.10045.3.1.7', hash: 'sha256' } as const;
const P384 = { type: 'ecdsa', curve: 'P-384', curveOid: '1.3.132.0.34', hash: 'sha384' } as const;

/** §7: the composite algorithms akamu implements (the ECDSA and Ed25519 ones; no RSA). */
const ALGORITHMS: readonly CompositeAlgorithm[] = [
  {
    name: 'composite:ml-dsa-44+ecdsa-p256',
    id: 'id-MLDSA44-ECDSA-P256-SHA256',
    oid: '1.3.6.1.5.5.7.6.40',
    label: 'COMPSIG-MLDSA44-ECDSA-P256-SHA256',
    preHash: 'sha256',
    mlDsa: 'ml-dsa-44',
    trad: P256,
  },
  {
    name: 'composite:ml-dsa-65+ecdsa-p256',
    id: 'id-MLDSA65-ECDSA-P256-SHA512',
    oid: '1.3.6.1.5.5.7.6.45',
    label: 'COMPSIG-MLDSA65-ECDSA-P256-SHA512',
    preHash: 'sha512',
    mlDsa: 'ml-dsa-65',
    trad: P256,
  },
  {
    name: 'composite:ml-dsa-65+ecdsa-p384',
    id: 'id-MLDSA65-ECDSA-P384-SHA512',
    oid: '1.3.6.1.5.5.7.6.46',
    label: 'COMPSIG-MLDSA65-ECDSA-P384-SHA512',
    preHash: 'sha512',
    mlDsa: 'ml-dsa-65',
    trad: P384,
  },
  {
    name: 'composite:ml-dsa-65+ed25519',
    id: 'id-MLDSA65-Ed25519-SHA512',
    oid: '1.3.6.1.5.5.7.6.48',
    label: 'COMPSIG-MLDSA65-Ed25519-SHA512',
    preHash: 'sha512',
    mlDsa: 'ml-dsa-65',
    trad: { type: 'ed25519' },
  },
  {
    name: 'composite:ml-dsa-87+ecdsa-p384',
    id: 'id-MLDSA87-ECDSA-P384-SHA512',
    oid: '1.3.6.1.5.5.7.6.49',
    label: 'COMPSIG-MLDSA87-ECDSA-P384-SHA512',
    preHash: 'sha512',
    mlDsa: 'ml-dsa-87',
    trad: P384,
  },
];

export type CompositeKeyType =
  | 'composite:ml-dsa-44+ecdsa-p256'
  | 'composite:ml-dsa-65+ecdsa-p256'
  | 'composite:ml-dsa-65+ecdsa-p384'
  | 'composite:ml-dsa-65+ed25519'
  | 'composite:ml-dsa-87+ecdsa-p384';

export const COMPOSITE_KEY_TYPES = ALGORITHMS.map((a) => a.name) as readonly CompositeKeyType[];

export function isCompositeKeyType(value: unknown): value is CompositeKeyType {
  return typeof value === 'string' && (COMPOSITE_KEY_TYPES as readonly string[]).includes(value);
}

/** FIPS 204 Table 2 sizes: [public key, signature] bytes (composite draft §5 Table 1). */
const ML_DSA_SIZES: Record<MlDsaKeyType, [number, number]> = {
  'ml-dsa-44': [1312, 2420],
  'ml-dsa-65': [1952, 3309],
  'ml-dsa-87': [2592, 4627],
};
const ML_DSA_OIDS: Record<MlDsaKeyType, string> = {
  'ml-dsa-44': '2.16.840.1.101.3.4.3.17',
  'ml-dsa-65': '2.16.840.1.101.3.4.3.18',
  'ml-dsa-87': '2.16.840.1.101.3.4.3.19',
};
const OID_EC_PUBLIC_KEY = '1.2.840.10045.2.1';
const OID_ED25519 = '1.3.101.112';
const SEED_BYTES = 32;

function algorithmByName(name: string): CompositeAlgorithm {
  const alg = ALGORITHMS.find((a) => a.name === name);
  if (!alg) {
    throw new TypeError(
      `unsupported composite key type ${JSON.stringify(name)}; expected one of ${COMPOSITE_KEY_TYPES.join(', ')}`,
    );
  }
  return alg;
}

function algorithmByOid(dotted: string): CompositeAlgorithm | undefined {
  return ALGORITHMS.find((a) => a.oid === dotted);
}

/**
 * The composite key type of a SubjectPublicKeyInfo or a PKCS#8 OneAsymmetricKey (DER), read from its
 * AlgorithmIdentifier (the first SEQUENCE inside either); undefined for any other key or malformed DER.
 */
export function compositeKeyTypeOf(der: Buffer): CompositeKeyType | undefined {
  try {
    const algId = readChildren(der, readWhole(der, TAG.SEQUENCE)).find((t) => t.tag === TAG.SEQUENCE);
    const [algOid] = algId ? readChildren(der, algId) : [];
    if (algOid?.tag !== TAG.OID) return undefined;
    return algorithmByOid(decodeOid(contentOf(der, algOid)))?.name as CompositeKeyType | undefined;
  } catch {
    return undefined;
  }
}

/** A composite private key: the ML-DSA seed and key, and the traditional key. */
export interface CompositePrivateKey {
  readonly type: CompositeKeyType;
  readonly seed: Buffer;
  readonly mlDsa: KeyObject;
  readonly trad: KeyObject;
}

/** §4.1 KeyGen: a fresh ML-DSA key from a random 32-byte seed and a fresh traditional key. */
export function generateCompositeKey(type: CompositeKeyType): CompositePrivateKey {
  const alg = algorithmByName(type);
  const seed = randomBytes(SEED_BYTES);
  const trad =
    alg.trad.type === 'ecdsa'
      ? generateKeyPairSync('ec', { namedCurve: alg.trad.curve }).privateKey
      : generateKeyPairSync('ed25519').privateKey;
  return Object.freeze({
    type: alg.name as CompositeKeyType,
    seed,
    mlDsa: mlDsaFromSeed(alg.mlDsa, seed),
    trad,
  });
}

/** FIPS 204 KeyGen_internal(seed), through PKCS#8 with the seed-only ML-DSA-PrivateKey ([0] seed). */
function mlDsaFromSeed(type: MlDsaKeyType, seed: Buffer): KeyObject {
  if (seed.length !== SEED_BYTES) throw new TypeError('an ML-DSA seed is 32 bytes');
  const der = sequence(integer(0), sequence(oid(ML_DSA_OIDS[type])), octetString(implicitPrimitive(0, seed)));
  return createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
}

function implicitPrimitive(n: number, content: Buffer): Buffer {
  return Buffer.concat([Buffer.from([0x80 | n, content.length]), content]);
}

/** The subjectPublicKey bytes of a key's SPKI (the raw key for ML-DSA, the X9.62 point for EC, 32 bytes for Ed25519). */
function rawPublicKey(key: KeyObject): Buffer {
  const spki = createPublicKey(key).export({ type: 'spki', format: 'der' });
  const [, bits] = readChildren(spki, readWhole(spki, TAG.SEQUENCE)) as [Tlv, Tlv];
  return contentOf(spki, bits).subarray(1);
}

/** §5.1 SerializePublicKey: mldsaPK || tradPK. */
export function compositePublicKey(key: CompositePrivateKey): Buffer {
  return Buffer.concat([rawPublicKey(key.mlDsa), rawPublicKey(key.trad)]);
}

/** §6.1: SubjectPublicKeyInfo { AlgorithmIdentifier { composite OID } , BIT STRING (mldsaPK || tradPK) }. */
export function compositeSpki(key: CompositePrivateKey): Buffer {
  return sequence(sequence(oid(algorithmByName(key.type).oid)), bitString(compositePublicKey(key)));
}

/** §5.2 / §6.3: PKCS#8 OneAsymmetricKey (v0) with privateKey = mldsaSeed || tradSK. */
export function exportCompositePrivateKey(key: CompositePrivateKey): Buffer {
  const alg = algorithmByName(key.type);
  let tradSk: Buffer;
  const jwk = key.trad.export({ format: 'jwk' });
  const d = Buffer.from(String(jwk.d), 'base64url');
  if (alg.trad.type === 'ecdsa') {
    // RFC 5915 ECPrivateKey { version 1, privateKey, [0] parameters (named curve) } without publicKey.
    tradSk = sequence(integer(1), octetString(d), explicit(0, oid(alg.trad.curveOid)));
  } else {
    tradSk = d; // 32 raw bytes (RFC 8032 §3)
  }
  return sequence(integer(0), sequence(oid(alg.oid)), octetString(Buffer.concat([key.seed, tradSk])));
}

/** Reads exportCompositePrivateKey's PKCS#8 (DER). Throws a TypeError on anything else. */
export function importCompositePrivateKey(der: Buffer): CompositePrivateKey {
  try {
    const parts = readChildren(der, readWhole(der, TAG.SEQUENCE, 'OneAsymmetricKey'));
    const [version, algId, privateKey] = parts as [Tlv, Tlv, Tlv];
    if (version?.tag !== TAG.INTEGER || algId?.tag !== TAG.SEQUENCE || privateKey?.tag !== TAG.OCTET_STRING)
      throw new TypeError('not a OneAsymmetricKey');
    const algParts = readChildren(der, algId);
    if (algParts.length !== 1) throw new TypeError('composite AlgorithmIdentifier parameters must be absent');
    const alg = algorithmByOid(decodeOid(contentOf(der, algParts[0]!)));
    if (!alg) throw new TypeError('not a composite ML-DSA key akamu knows');
    const bytes = contentOf(der, privateKey);
    const seed = Buffer.from(bytes.subarray(0, SEED_BYTES));
    const tradSk = bytes.subarray(SEED_BYTES);
    let trad: KeyObject;
    if (alg.trad.type === 'ecdsa') {
      trad = createPrivateKey({ key: Buffer.from(tradSk), format: 'der', type: 'sec1' });
      if (trad.asymmetricKeyDetails?.namedCurve !== (alg.trad.curve === 'P-256' ? 'prime256v1' : 'secp384r1'))
        throw new TypeError('the ECDSA component is on the wrong curve');
    } else {
      if (tradSk.length !== 32) throw new TypeError('an Ed25519 private key is 32 bytes');
      const pkcs8 = sequence(integer(0), sequence(oid(OID_ED25519)), octetString(octetString(tradSk)));
      trad = createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' });
    }
    return Object.freeze({
      type: alg.name as CompositeKeyType,
      seed,
      mlDsa: mlDsaFromSeed(alg.mlDsa, seed),
      trad,
    });
  } catch (err) {
    throw new TypeError(`not a composite ML-DSA private key: ${(err as Error).message}`, { cause: err });
  }
}

/** §3.2: M' = Prefix || Label || len(ctx) || ctx || PH(M). */
export function messageRepresentative(
  type: CompositeKeyType,
  message: Buffer,
  ctx: Buffer = Buffer.alloc(0),
): Buffer {
  const alg = algorithmByName(type);
  if (ctx.length > 255) throw new RangeError('the context is at most 255 bytes');
  return Buffer.concat([
    COMPOSITE_PREFIX,
    Buffer.from(alg.label, 'ascii'),
    Buffer.from([ctx.length]),
    ctx,
    createHash(alg.preHash).update(message).digest(),
  ]);
}

/** §4.2 Composite-ML-DSA.Sign(sk, M, ctx): mldsaSig || tradSig. */
export function compositeSign(key: CompositePrivateKey, message: Buffer, ctx?: Buffer): Buffer {
  const alg = algorithmByName(key.type);
  const mPrime = messageRepresentative(key.type, message, ctx);
  // Pure ML-DSA with ctx = Label (FIPS 204 Algorithm 2); node:crypto takes the context as `context`.
  const mlDsaSig = sign(null, mPrime, { key: key.mlDsa, context: Buffer.from(alg.label, 'ascii') } as never);
  const tradSig =
    alg.trad.type === 'ecdsa' ? sign(alg.trad.hash, mPrime, key.trad) : sign(null, mPrime, key.trad);
  return Buffer.concat([mlDsaSig, tradSig]);
}

/**
 * §4.3 Composite-ML-DSA.Verify(pk, M, s, ctx) for a composite SubjectPublicKeyInfo: true only when the
 * ML-DSA signature (ctx = Label) and the traditional signature both verify over M'. Never throws.
 */
export function compositeVerify(spki: Buffer, message: Buffer, signature: Buffer, ctx?: Buffer): boolean {
  try {
    const [algId, bits] = readChildren(spki, readWhole(spki, TAG.SEQUENCE)) as [Tlv, Tlv];
    const algParts = readChildren(spki, algId);
    if (algParts.length !== 1) return false;
    const alg = algorithmByOid(decodeOid(contentOf(spki, algParts[0]!)));
    if (!alg || bits.tag !== TAG.BIT_STRING) return false;
    const pk = contentOf(spki, bits);
    if (pk[0] !== 0) return false;
    const [pkLength, sigLength] = ML_DSA_SIZES[alg.mlDsa];
    const mlDsaPk = pk.subarray(1, 1 + pkLength);
    const tradPk = pk.subarray(1 + pkLength);
    if (mlDsaPk.length !== pkLength || signature.length <= sigLength) return false;
    const mlDsaKey = createPublicKey({
      key: sequence(sequence(oid(ML_DSA_OIDS[alg.mlDsa])), bitString(mlDsaPk)),
      format: 'der',
      type: 'spki',
    });
    const tradKey = createPublicKey({
      key:
        alg.trad.type === 'ecdsa'
          ? sequence(sequence(oid(OID_EC_PUBLIC_KEY), oid(alg.trad.curveOid)), bitString(tradPk))
          : sequence(sequence(oid(OID_ED25519)), bitString(tradPk)),
      format: 'der',
      type: 'spki',
    });
    const mPrime = messageRepresentative(alg.name as CompositeKeyType, message, ctx);
    const mlDsaOk = verify(
      null,
      mPrime,
      { key: mlDsaKey, context: Buffer.from(alg.label, 'ascii') } as never,
      signature.subarray(0, sigLength),
    );
    if (!mlDsaOk) return false;
    const tradSig = signature.subarray(sigLength);
    return alg.trad.type === 'ecdsa'
      ? verify(alg.trad.hash, mPrime, tradKey, tradSig)
      : verify(null, mPrime, tradKey, tradSig);
  } catch {
    return false;
  }
}

/** The composite algorithm of a composite SPKI or AlgorithmIdentifier OID, e.g. for messages. */
export function compositeAlgorithmName(dottedOid: string): string | undefined {
  return algorithmByOid(dottedOid)?.id;
}

/**
 * An ExternalSigner for CertificateIssuer, createSelfSignedCa, CrlSigner and the OCSP builders:
 * AlgorithmIdentifier { composite OID } with absent parameters (§6.3), signatures per compositeSign.
 */
export class CompositeSigner implements ExternalSigner {
  readonly algorithm: SignatureAlgorithm;
  readonly spki: Buffer;
  readonly #key: CompositePrivateKey;

  constructor(key: CompositePrivateKey) {
    const alg = algorithmByName(key.type);
    this.#key = key;
    this.spki = compositeSpki(key);
    this.algorithm = Object.freeze({ name: alg.id, hash: null, algorithmIdentifier: sequence(oid(alg.oid)) });
  }

  get type(): CompositeKeyType {
    return this.#key.type;
  }

  sign(tbs: Buffer): Buffer {
    return compositeSign(this.#key, tbs);
  }

  /** The private key as PKCS#8 DER (exportCompositePrivateKey), e.g. to store it. */
  exportPkcs8(): Buffer {
    return exportCompositePrivateKey(this.#key);
  }
}

/** [tbs, signatureAlgorithm OID, signature] of a signed X.509 structure (Certificate, CertificateList). */
function signedParts(der: Buffer): { tbs: Buffer; algorithmOid: string; signature: Buffer } {
  const [tbs, alg, sig] = readChildren(der, readWhole(der, TAG.SEQUENCE)) as [Tlv, Tlv, Tlv];
  const algParts = readChildren(der, alg);
  return {
    tbs: rawOf(der, tbs),
    algorithmOid: decodeOid(contentOf(der, algParts[0]!)),
    signature: contentOf(der, sig).subarray(1),
  };
}

/**
 * Verifies a certificate or CRL (DER) signed with a composite key, given the signer's composite SPKI: the
 * outer signatureAlgorithm must be the SPKI's composite algorithm, and the composite signature must verify.
 */
export function verifyCompositeSigned(der: Buffer, issuerSpki: Buffer): boolean {
  try {
    const { tbs, algorithmOid, signature } = signedParts(der);
    const [algId] = readChildren(issuerSpki, readWhole(issuerSpki, TAG.SEQUENCE)) as [Tlv];
    const keyOid = decodeOid(contentOf(issuerSpki, readChildren(issuerSpki, algId)[0]!));
    return algorithmOid === keyOid && compositeVerify(issuerSpki, tbs, signature);
  } catch {
    return false;
  }
}

/** The SubjectPublicKeyInfo DER of a certificate (for verifyCompositeSigned of what it issued). */
export function certificateSpki(certDer: Buffer): Buffer {
  const [tbs] = readChildren(certDer, readWhole(certDer, TAG.SEQUENCE)) as [Tlv];
  const fields = readChildren(certDer, tbs);
  // [0] version, serial, signature, issuer, validity, subject, subjectPublicKeyInfo
  const offset = fields[0]!.tag === 0xa0 ? 1 : 0;
  return rawOf(certDer, fields[offset + 5]!);
}
