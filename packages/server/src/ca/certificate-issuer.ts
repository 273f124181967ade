/**
 * Builds and signs X.509 v3 certificates (RFC 5280) with a hand-written DER encoder.
 *
 * Everything that is the same for every certificate — the issuer Name, the authority key
 * identifier, the signature AlgorithmIdentifier, the fixed extensions — is encoded once
 * when the issuer is constructed, so issuing a leaf costs a few buffer copies, one SHA-1
 * and one signature.
 */
import { createHash, randomBytes } from 'node:crypto';
import {
  bitString,
  boolean,
  contentOf,
  expectTag,
  explicit,
  implicit,
  integer,
  ipToBytes,
  namedBits,
  octetString,
  oid,
  rawOf,
  readChildren,
  readTlv,
  readWhole,
  sequence,
  setOf,
  TAG,
  time,
  utf8String,
} from '@akamu/protocol';
import {
  type IssuerKey,
  isExternalSigner,
  issuerAlgorithm,
  issuerKeyMatches,
  issuerSpki,
  type SignatureAlgorithm,
  signTbs,
} from './key-type.ts';

export const EKU_SERVER_AUTH = '1.3.6.1.5.5.7.3.1';
export const EKU_CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';

/** Everything that varies per leaf certificate. */
export interface LeafRequest {
  /** Unsigned big-endian serial, 1–20 bytes; see newSerial(). Encoded as a positive INTEGER. */
  serial: Buffer;
  /** SubjectPublicKeyInfo DER (from the CSR), embedded verbatim. */
  spki: Buffer;
  dnsNames: string[];
  /** IP addresses as text (v4 dotted, v6 any valid form) for iPAddress SANs. */
  ipAddresses: string[];
  /** Subject CN; defaults to the first DNS name. Omitted when longer than 64 characters. */
  commonName?: string;
  notBefore: Date;
  notAfter: Date;
  /**
   * KeyUsage bit numbers (RFC 5280 §4.2.1.3, 0 = digitalSignature); default digitalSignature, plus
   * keyEncipherment for RSA keys. Must not be empty.
   */
  keyUsages?: number[];
  /** EKU OIDs; defaults to [serverAuth]. An empty array omits the extension. */
  extendedKeyUsages?: string[];
  crlUrl?: string;
  ocspUrl?: string;
  caIssuersUrl?: string;
  /** Pre-encoded Extension DER, appended after the standard extensions. */
  extraExtensions?: Buffer[];
}

/** A subordinate CA certificate. */
export interface CaRequest {
  serial: Buffer;
  spki: Buffer;
  commonName: string;
  notBefore: Date;
  notAfter: Date;
  /** BasicConstraints pathLenConstraint; omitted when undefined. */
  pathLen?: number;
  crlUrl?: string;
  ocspUrl?: string;
  caIssuersUrl?: string;
}

export interface IssuerMaterial {
  /** A private KeyObject, or an ExternalSigner (EXPERIMENTAL composite ML-DSA, composite.ts). */
  issuerKey: IssuerKey;
  issuerCertDer: Buffer;
}

const OID_EXT_SKI = '2.5.29.14';
const OID_EXT_KU = '2.5.29.15';
const OID_EXT_SAN = '2.5.29.17';
const OID_EXT_BC = '2.5.29.19';
const OID_EXT_CRLDP = '2.5.29.31';
const OID_EXT_AKI = '2.5.29.35';
const OID_EXT_EKU = '2.5.29.37';
const OID_EXT_AIA = '1.3.6.1.5.5.7.1.1';
const OID_AD_OCSP = '1.3.6.1.5.5.7.48.1';
const OID_AD_CA_ISSUERS = '1.3.6.1.5.5.7.48.2';
const OID_CN = '2.5.4.3';
const RSA_ENCRYPTION = oid('1.2.840.113549.1.1.1');

/** The extension OIDs issue() writes itself; extraExtensions may not repeat them. */
const STANDARD_EXTENSIONS = new Set(
  [
    OID_EXT_SKI,
    OID_EXT_KU,
    OID_EXT_SAN,
    OID_EXT_BC,
    OID_EXT_CRLDP,
    OID_EXT_AKI,
    OID_EXT_EKU,
    OID_EXT_AIA,
  ].map((o) => oid(o).toString('hex')),
);

// KeyUsage bits, RFC 5280 §4.2.1.3.
const KU_DIGITAL_SIGNATURE = 0;
const KU_KEY_ENCIPHERMENT = 2;
const KU_KEY_CERT_SIGN = 5;
const KU_CRL_SIGN = 6;

const VERSION_V3 = explicit(0, integer(2));
const EMPTY_NAME = sequence();

/** An Extension: SEQUENCE { extnID, critical BOOLEAN DEFAULT FALSE, extnValue OCTET STRING }. */
export function extension(oidText: string, critical: boolean, value: Uint8Array): Buffer {
  return critical
    ? sequence(oid(oidText), boolean(true), octetString(value))
    : sequence(oid(oidText), octetString(value));
}

const KU_LEAF = extension(OID_EXT_KU, true, namedBits([KU_DIGITAL_SIGNATURE]));
const KU_LEAF_RSA = extension(OID_EXT_KU, true, namedBits([KU_DIGITAL_SIGNATURE, KU_KEY_ENCIPHERMENT]));
const KU_ROOT = extension(OID_EXT_KU, true, namedBits([KU_KEY_CERT_SIGN, KU_CRL_SIGN]));
// The issuing CA also signs OCSP responses itself (RFC 6960 §4.2.2.2), hence digitalSignature.
const KU_INTERMEDIATE = extension(
  OID_EXT_KU,
  true,
  namedBits([KU_DIGITAL_SIGNATURE, KU_KEY_CERT_SIGN, KU_CRL_SIGN]),
);
const BC_LEAF = extension(OID_EXT_BC, true, sequence());

function basicConstraintsCa(pathLen?: number): Buffer {
  if (pathLen !== undefined && !(Number.isInteger(pathLen) && pathLen >= 0)) {
    throw new RangeError(`pathLen must be a non-negative integer, got ${pathLen}`);
  }
  const body = pathLen === undefined ? sequence(boolean(true)) : sequence(boolean(true), integer(pathLen));
  return extension(OID_EXT_BC, true, body);
}

/** A Name holding at most one CN, as UTF8String (RFC 5280 §4.1.2.6); empty when cn is undefined. */
export function commonNameToName(commonName: string | undefined): Buffer {
  if (commonName === undefined) return EMPTY_NAME;
  return sequence(setOf(sequence(oid(OID_CN), utf8String(commonName))));
}

/** 16 random bytes whose first byte is 0x01–0x7f: positive, minimal, and stable as hex. */
export function newSerial(random: (size: number) => Buffer = randomBytes): Buffer {
  for (;;) {
    const serial = random(16);
    serial[0]! &= 0x7f;
    if (serial[0] !== 0) return serial;
  }
}

interface SpkiInfo {
  isRsa: boolean;
  /** The subjectPublicKey BIT STRING contents without the unused-bits byte. */
  keyBits: Buffer;
}

function inspectSpki(spki: Buffer): SpkiInfo {
  let t: ReturnType<typeof readTlv>;
  try {
    t = readWhole(spki, TAG.SEQUENCE, 'SubjectPublicKeyInfo');
    const [alg, key] = readChildren(spki, t);
    if (!alg || !key) throw new TypeError('SubjectPublicKeyInfo needs an algorithm and a key');
    expectTag(alg, TAG.SEQUENCE, 'AlgorithmIdentifier');
    expectTag(key, TAG.BIT_STRING, 'subjectPublicKey');
    const algOid = readTlv(spki, alg.contentStart, alg.end);
    expectTag(algOid, TAG.OID, 'algorithm OID');
    if (key.length < 2 || spki[key.contentStart] !== 0)
      throw new TypeError('bad subjectPublicKey BIT STRING');
    return {
      isRsa: rawOf(spki, algOid).equals(RSA_ENCRYPTION),
      keyBits: spki.subarray(key.contentStart + 1, key.end),
    };
  } catch (err) {
    throw new TypeError(`malformed SubjectPublicKeyInfo: ${(err as Error).message}`);
  }
}

/** RFC 5280 §4.2.1.2 method (1): SHA-1 of the subjectPublicKey BIT STRING value. */
export function keyIdentifier(spki: Buffer): Buffer {
  return createHash('sha1').update(inspectSpki(spki).keyBits).digest();
}

function subjectKeyIdentifierExt(keyId: Buffer): Buffer {
  return extension(OID_EXT_SKI, false, octetString(keyId));
}

function authorityKeyIdentifierExt(keyId: Buffer): Buffer {
  // AuthorityKeyIdentifier ::= SEQUENCE { keyIdentifier [0] IMPLICIT OCTET STRING, … }
  return extension(OID_EXT_AKI, false, sequence(implicit(0, keyId)));
}

function crlDistributionPointsExt(url: string): Buffer {
  // SEQUENCE OF DistributionPoint { distributionPoint [0] { fullName [0] GeneralNames { [6] URI } } }
  const uri = implicit(6, asciiBytes(url, 'CRL URL'));
  return extension(OID_EXT_CRLDP, false, sequence(sequence(explicit(0, implicit(0, uri, true)))));
}

function authorityInfoAccessExt(ocspUrl?: string, caIssuersUrl?: string): Buffer {
  const descriptions: Buffer[] = [];
  if (ocspUrl) descriptions.push(sequence(oid(OID_AD_OCSP), implicit(6, asciiBytes(ocspUrl, 'OCSP URL'))));
  if (caIssuersUrl) {
    descriptions.push(
      sequence(oid(OID_AD_CA_ISSUERS), implicit(6, asciiBytes(caIssuersUrl, 'caIssuers URL'))),
    );
  }
  return extension(OID_EXT_AIA, false, sequence(...descriptions));
}

function extendedKeyUsageExt(oids: readonly string[]): Buffer {
  return extension(OID_EXT_EKU, false, sequence(...oids.map((o) => oid(o))));
}

const PRINTABLE_ASCII = /^[\x21-\x7e]+$/;

function asciiBytes(text: string, what: string): Buffer {
  if (typeof text !== 'string' || !PRINTABLE_ASCII.test(text)) {
    throw new TypeError(`${what} must be non-empty printable ASCII, got ${JSON.stringify(text)}`);
  }
  return Buffer.from(text, 'latin1');
}

function subjectAltNameExt(dnsNames: readonly string[], ipAddresses: readonly string[], critical: boolean) {
  const names: Buffer[] = [];
  for (const name of dnsNames) names.push(implicit(2, asciiBytes(name, 'DNS name')));
  for (const ip of ipAddresses) names.push(implicit(7, ipToBytes(ip)));
  return extension(OID_EXT_SAN, critical, sequence(...names));
}

function checkValidity(notBefore: Date, notAfter: Date): Buffer {
  if (!(notBefore instanceof Date) || !(notAfter instanceof Date))
    throw new TypeError('dates must be Date objects');
  if (!(notAfter.getTime() > notBefore.getTime()))
    throw new RangeError('notAfter must be later than notBefore');
  return sequence(time(notBefore), time(notAfter));
}

function checkSerial(serial: Buffer): void {
  if (!(serial instanceof Uint8Array) || serial.length === 0 || serial.length > 20) {
    throw new TypeError('serial must be 1 to 20 bytes (RFC 5280 §4.1.2.2)');
  }
  if (serial.every((b) => b === 0)) throw new TypeError('serial must be positive');
}

function isWithin64(cn: string): boolean {
  // ub-common-name is 64 characters (RFC 5280 Appendix A.1).
  return cn.length <= 64 || [...cn].length <= 64;
}

/** A tiny bounded memo for encodings keyed by configuration strings (URLs, EKU lists). */
class EncodingCache {
  #map = new Map<string, Buffer>();
  get(key: string, build: () => Buffer): Buffer {
    let v = this.#map.get(key);
    if (!v) {
      v = build();
      if (this.#map.size >= 64) this.#map.clear();
      this.#map.set(key, v);
    }
    return v;
  }
}

/** The TBSCertificate fields (RFC 5280 §4.1) that vary; every certificate here is v3 with extensions. */
interface TbsFields {
  serial: Buffer;
  issuer: Buffer;
  validity: Buffer;
  subject: Buffer;
  spki: Buffer;
  extensions: readonly Buffer[];
}

/** Encodes the TBSCertificate and signs it into a Certificate (RFC 5280 §4.1.1). */
function signCertificate(f: TbsFields, alg: SignatureAlgorithm, key: IssuerKey): Buffer {
  const tbs = sequence(
    VERSION_V3,
    integer(f.serial),
    alg.algorithmIdentifier,
    f.issuer,
    f.validity,
    f.subject,
    f.spki,
    explicit(3, sequence(...f.extensions)),
  );
  const signature = signTbs(alg, tbs, key);
  return sequence(tbs, alg.algorithmIdentifier, bitString(signature));
}

export interface SelfSignedCaOptions {
  privateKey: IssuerKey;
  commonName: string;
  serial: Buffer;
  notBefore: Date;
  notAfter: Date;
  /** BasicConstraints pathLenConstraint; unlimited when undefined. */
  pathLen?: number;
}

/** A self-signed root: CA:true, keyCertSign+cRLSign, SKI and a matching AKI. */
export function createSelfSignedCa(opts: SelfSignedCaOptions): Buffer {
  checkSerial(opts.serial);
  const spki = issuerSpki(opts.privateKey);
  const alg = issuerAlgorithm(opts.privateKey);
  const name = commonNameToName(opts.commonName);
  const keyId = keyIdentifier(spki);
  return signCertificate(
    {
      serial: opts.serial,
      issuer: name,
      validity: checkValidity(opts.notBefore, opts.notAfter),
      subject: name,
      spki,
      extensions: [
        basicConstraintsCa(opts.pathLen),
        KU_ROOT,
        subjectKeyIdentifierExt(keyId),
        authorityKeyIdentifierExt(keyId),
      ],
    },
    alg,
    opts.privateKey,
  );
}

interface IssuerCertInfo {
  subjectName: Buffer;
  spki: Buffer;
  subjectKeyId?: Buffer;
}

/** Reads the pieces of the issuer certificate that go into every certificate it signs. */
function readIssuerCert(der: Buffer): IssuerCertInfo {
  const cert = readWhole(der, TAG.SEQUENCE, 'Certificate');
  const [tbsTlv] = readChildren(der, cert);
  if (!tbsTlv) throw new TypeError('empty Certificate');
  expectTag(tbsTlv, TAG.SEQUENCE, 'tbsCertificate');
  const fields = readChildren(der, tbsTlv);
  const start = fields[0]?.tag === 0xa0 ? 1 : 0;
  // serialNumber, signature, issuer, validity, subject, subjectPublicKeyInfo, …
  const subject = fields[start + 4];
  const spki = fields[start + 5];
  if (!subject || !spki) throw new TypeError('tbsCertificate is missing fields');
  expectTag(subject, TAG.SEQUENCE, 'subject Name');
  expectTag(spki, TAG.SEQUENCE, 'SubjectPublicKeyInfo');
  let subjectKeyId: Buffer | undefined;
  const extsWrapper = fields.slice(start + 6).find((f) => f.tag === 0xa3);
  if (extsWrapper) {
    const [exts] = readChildren(der, extsWrapper);
    const skiOid = oid(OID_EXT_SKI);
    for (const ext of exts ? readChildren(der, exts) : []) {
      const parts = readChildren(der, ext);
      if (parts[0] && rawOf(der, parts[0]).equals(skiOid)) {
        const value = parts[parts.length - 1]!;
        expectTag(value, TAG.OCTET_STRING, 'extnValue');
        const inner = readTlv(der, value.contentStart, value.end);
        expectTag(inner, TAG.OCTET_STRING, 'SubjectKeyIdentifier');
        subjectKeyId = Buffer.from(contentOf(der, inner));
      }
    }
  }
  return {
    subjectName: Buffer.from(rawOf(der, subject)),
    spki: Buffer.from(rawOf(der, spki)),
    subjectKeyId,
  };
}

/**
 * Signs certificates with one issuer key. Construct once; issue() is the hot path.
 */
export class CertificateIssuer {
  /** The issuer's subject Name DER, copied verbatim into every certificate's issuer field. */
  readonly issuerName: Buffer;
  /** The issuer's key identifier, used as the AuthorityKeyIdentifier. */
  readonly authorityKeyId: Buffer;
  readonly signatureAlgorithm: SignatureAlgorithm;
  #key: IssuerKey;
  #akiExt: Buffer;
  #defaultEku: Buffer;
  #ekuCache = new EncodingCache();
  #kuCache = new EncodingCache();
  #crlCache = new EncodingCache();
  #aiaCache = new EncodingCache();

  constructor(material: IssuerMaterial) {
    const { issuerKey, issuerCertDer } = material;
    if (!isExternalSigner(issuerKey) && issuerKey.type !== 'private')
      throw new TypeError('issuerKey must be a private key');
    let info: IssuerCertInfo;
    try {
      info = readIssuerCert(issuerCertDer);
    } catch (err) {
      throw new TypeError(`cannot parse the issuer certificate: ${(err as Error).message}`);
    }
    if (!issuerKeyMatches(issuerKey, info.spki))
      throw new Error('the issuer key does not match the issuer certificate');
    this.signatureAlgorithm = issuerAlgorithm(issuerKey);
    this.issuerName = info.subjectName;
    this.authorityKeyId = info.subjectKeyId ?? keyIdentifier(info.spki);
    this.#key = issuerKey;
    this.#akiExt = authorityKeyIdentifierExt(this.authorityKeyId);
    this.#defaultEku = extendedKeyUsageExt([EKU_SERVER_AUTH]);
  }

  /** Builds and signs an end-entity certificate; returns its DER. */
  issue(req: LeafRequest): Buffer {
    checkSerial(req.serial);
    const validity = checkValidity(req.notBefore, req.notAfter);
    const { isRsa, keyBits } = inspectSpki(req.spki);
    const dnsNames = req.dnsNames ?? [];
    const ipAddresses = req.ipAddresses ?? [];
    // A certificate without names must carry its subject some other way, e.g. TNAuthList (RFC 8226).
    if (dnsNames.length === 0 && ipAddresses.length === 0 && !req.extraExtensions?.length) {
      throw new TypeError('a certificate needs at least one DNS name or IP address');
    }
    const cn = req.commonName || dnsNames[0];
    const subjectName = commonNameToName(cn !== undefined && isWithin64(cn) ? cn : undefined);
    const subjectEmpty = subjectName.length === EMPTY_NAME.length;

    const kus = req.keyUsages;
    if (kus !== undefined && kus.length === 0) throw new TypeError('keyUsages must not be empty');
    const exts: Buffer[] = [
      kus === undefined
        ? isRsa
          ? KU_LEAF_RSA
          : KU_LEAF
        : this.#kuCache.get(kus.join(','), () => extension(OID_EXT_KU, true, namedBits(kus))),
    ];
    const ekus = req.extendedKeyUsages;
    if (ekus === undefined) exts.push(this.#defaultEku);
    else if (ekus.length > 0) exts.push(this.#ekuCache.get(ekus.join(','), () => extendedKeyUsageExt(ekus)));
    exts.push(BC_LEAF);
    exts.push(subjectKeyIdentifierExt(createHash('sha1').update(keyBits).digest()));
    exts.push(this.#akiExt);
    this.#pushUrlExtensions(exts, req);
    // RFC 5280 §4.2.1.6: with an empty subject the SAN extension MUST be critical.
    if (dnsNames.length > 0 || ipAddresses.length > 0)
      exts.push(subjectAltNameExt(dnsNames, ipAddresses, subjectEmpty));
    if (req.extraExtensions) {
      for (const ext of req.extraExtensions) {
        checkExtraExtension(ext);
        exts.push(ext);
      }
    }

    return this.#sign(req, validity, subjectName, exts);
  }

  /** Builds and signs a subordinate CA certificate (CA:true, keyCertSign+cRLSign). */
  issueCa(req: CaRequest): Buffer {
    checkSerial(req.serial);
    const validity = checkValidity(req.notBefore, req.notAfter);
    const exts: Buffer[] = [
      basicConstraintsCa(req.pathLen),
      KU_INTERMEDIATE,
      subjectKeyIdentifierExt(keyIdentifier(req.spki)),
      this.#akiExt,
    ];
    this.#pushUrlExtensions(exts, req);
    return this.#sign(req, validity, commonNameToName(req.commonName), exts);
  }

  /** A certificate issued and signed by this issuer. */
  #sign(
    req: { serial: Buffer; spki: Buffer },
    validity: Buffer,
    subject: Buffer,
    extensions: Buffer[],
  ): Buffer {
    const { serial, spki } = req;
    const fields = { serial, issuer: this.issuerName, validity, subject, spki, extensions };
    return signCertificate(fields, this.signatureAlgorithm, this.#key);
  }

  #pushUrlExtensions(
    exts: Buffer[],
    req: { crlUrl?: string; ocspUrl?: string; caIssuersUrl?: string },
  ): void {
    if (req.ocspUrl || req.caIssuersUrl) {
      const key = `${req.ocspUrl ?? ''} ${req.caIssuersUrl ?? ''}`;
      exts.push(this.#aiaCache.get(key, () => authorityInfoAccessExt(req.ocspUrl, req.caIssuersUrl)));
    }
    if (req.crlUrl) {
      const url = req.crlUrl;
      exts.push(this.#crlCache.get(url, () => crlDistributionPointsExt(url)));
    }
  }
}

function checkExtraExtension(ext: Buffer): void {
  let oidHex: string;
  try {
    const t = readWhole(ext, TAG.SEQUENCE, 'Extension');
    const first = readTlv(ext, t.contentStart, t.end);
    expectTag(first, TAG.OID, 'extnID');
    oidHex = rawOf(ext, first).toString('hex');
  } catch (err) {
    throw new TypeError(`malformed extra extension: ${(err as Error).message}`);
  }
  if (STANDARD_EXTENSIONS.has(oidHex)) {
    throw new TypeError('extraExtensions may not repeat an extension the issuer writes itself');
  }
}
