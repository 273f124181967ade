/**
 * PKCS#10 certificate signing requests (RFC 2986), parsed strictly as DER and verified
 * with node:crypto over the exact certificationRequestInfo bytes.
 *
 * Any malformed input becomes a CsrError (ACME `badCSR`, RFC 8555 §7.4); nothing else
 * escapes parseCsr().
 */
import { constants, type KeyObject, verify } from 'node:crypto';
import {
  contentOf,
  decodeOid,
  decodeSmallInteger,
  expectTag,
  ipFromBytes,
  oid,
  rawOf,
  readChildren,
  readTlv,
  readWhole,
  TAG,
  type Tlv,
} from '@akamu/protocol';
import { importSpki } from '../core/public-key.ts';

export class CsrError extends Error {
  override name = 'CsrError';
  /** The RFC 8555 §6.7 problem type this maps to. */
  readonly code = 'badCSR';
}

/** A requested extension other than subjectAltName, reported for the key/extension policy. */
export interface RequestedExtension {
  oid: string;
  critical: boolean;
  /** extnValue contents (the DER inside the OCTET STRING). */
  value: Buffer;
}

export interface ParsedCsr {
  /** SubjectPublicKeyInfo DER, ready to embed in a certificate. */
  spki: Buffer;
  publicKey: KeyObject;
  /** The subject CN, verbatim. */
  commonName?: string;
  /** dNSName SANs, lowercased, duplicates removed, in request order. */
  dnsNames: string[];
  /** iPAddress SANs as canonical text (RFC 5952 for IPv6), duplicates removed. */
  ipAddresses: string[];
  /** SAN kinds we do not issue for that the CSR contains, e.g. ['rfc822Name']. */
  unsupportedNames: string[];
  /** Requested extensions other than subjectAltName. */
  unknownExtensions: RequestedExtension[];
  /** e.g. 'ecdsa-with-SHA256', 'RSASSA-PSS'. */
  signatureAlgorithm: string;
  signatureValid: boolean;
}

export interface KeyDescription {
  type:
    | 'rsa'
    | 'rsa-pss'
    | 'ec'
    | 'ed25519'
    | 'ed448'
    | 'ml-dsa-44'
    | 'ml-dsa-65'
    | 'ml-dsa-87'
    | (string & {});
  /** RSA modulus length or EC field size. */
  bits?: number;
  /** 'P-256', 'P-384', 'P-521', or OpenSSL's name for other curves. */
  curve?: string;
  publicExponent?: bigint;
}

const CURVES: Record<string, { name: string; bits: number }> = {
  prime256v1: { name: 'P-256', bits: 256 },
  secp384r1: { name: 'P-384', bits: 384 },
  secp521r1: { name: 'P-521', bits: 521 },
};

/** Type and size of a public key, for the key policy. */
export function describeKey(publicKey: KeyObject): KeyDescription {
  const type = publicKey.asymmetricKeyType ?? 'unknown';
  const details = publicKey.asymmetricKeyDetails ?? {};
  switch (type) {
    case 'rsa':
    case 'rsa-pss':
      return { type, bits: details.modulusLength, publicExponent: details.publicExponent };
    case 'ec': {
      const raw = details.namedCurve ?? 'unknown';
      const known = CURVES[raw];
      return known ? { type, curve: known.name, bits: known.bits } : { type, curve: raw };
    }
    default:
      return { type };
  }
}

type SigKind = 'ecdsa' | 'rsa' | 'rsa-pss' | 'eddsa' | 'ml-dsa';
interface SigAlg {
  name: string;
  kind: SigKind;
  hash: string | null;
  keyTypes: readonly string[];
}

const SIG_ALGS = new Map<string, SigAlg>();
function addSigAlg(dotted: string, name: string, kind: SigKind, hash: string | null, keyTypes: string[]) {
  SIG_ALGS.set(oid(dotted).toString('hex'), { name, kind, hash, keyTypes });
}
addSigAlg('1.2.840.10045.4.3.2', 'ecdsa-with-SHA256', 'ecdsa', 'sha256', ['ec']);
addSigAlg('1.2.840.10045.4.3.3', 'ecdsa-with-SHA384', 'ecdsa', 'sha384', ['ec']);
addSigAlg('1.2.840.10045.4.3.4', 'ecdsa-with-SHA512', 'ecdsa', 'sha512', ['ec']);
addSigAlg('1.2.840.113549.1.1.11', 'sha256WithRSAEncryption', 'rsa', 'sha256', ['rsa']);
addSigAlg('1.2.840.113549.1.1.12', 'sha384WithRSAEncryption', 'rsa', 'sha384', ['rsa']);
addSigAlg('1.2.840.113549.1.1.13', 'sha512WithRSAEncryption', 'rsa', 'sha512', ['rsa']);
addSigAlg('1.2.840.113549.1.1.10', 'RSASSA-PSS', 'rsa-pss', null, ['rsa', 'rsa-pss']);
addSigAlg('1.3.101.112', 'Ed25519', 'eddsa', null, ['ed25519']);
addSigAlg('1.3.101.113', 'Ed448', 'eddsa', null, ['ed448']);
// FIPS 204 pure ML-DSA (draft-ietf-lamps-dilithium-certificates §3): parameters absent, empty context.
addSigAlg('2.16.840.1.101.3.4.3.17', 'ML-DSA-44', 'ml-dsa', null, ['ml-dsa-44']);
addSigAlg('2.16.840.1.101.3.4.3.18', 'ML-DSA-65', 'ml-dsa', null, ['ml-dsa-65']);
addSigAlg('2.16.840.1.101.3.4.3.19', 'ML-DSA-87', 'ml-dsa', null, ['ml-dsa-87']);

const HASHES = new Map<string, string>([
  [oid('2.16.840.1.101.3.4.2.1').toString('hex'), 'sha256'],
  [oid('2.16.840.1.101.3.4.2.2').toString('hex'), 'sha384'],
  [oid('2.16.840.1.101.3.4.2.3').toString('hex'), 'sha512'],
]);

const OID_MGF1 = oid('1.2.840.113549.1.1.8');
const OID_CN = oid('2.5.4.3');
const OID_EXTENSION_REQUEST = oid('1.2.840.113549.1.9.14');
const OID_SAN = oid('2.5.29.17');

const GENERAL_NAME_KINDS = [
  'otherName',
  'rfc822Name',
  'dNSName',
  'x400Address',
  'directoryName',
  'ediPartyName',
  'uniformResourceIdentifier',
  'iPAddress',
  'registeredID',
];

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Parses and verifies a DER PKCS#10 request. Throws CsrError, and only CsrError. */
export function parseCsr(der: Uint8Array): ParsedCsr {
  if (!(der instanceof Uint8Array)) throw new CsrError('the CSR must be DER bytes');
  const buf = Buffer.isBuffer(der) ? der : Buffer.from(der.buffer, der.byteOffset, der.byteLength);
  try {
    return parse(buf);
  } catch (err) {
    if (err instanceof CsrError) throw err;
    const detail = err instanceof Error ? err.message : String(err);
    throw new CsrError(`malformed CSR: ${detail}`, { cause: err });
  }
}

function fail(message: string): never {
  throw new CsrError(message);
}

function parse(buf: Buffer): ParsedCsr {
  if (buf.length === 0) fail('the CSR is empty');
  const outer = readWhole(buf, TAG.SEQUENCE, 'CertificationRequest');
  const top = readChildren(buf, outer);
  if (top.length !== 3) fail('CertificationRequest must have exactly three fields');
  const [infoTlv, algTlv, sigTlv] = top as [Tlv, Tlv, Tlv];
  expectTag(infoTlv, TAG.SEQUENCE, 'certificationRequestInfo');
  expectTag(algTlv, TAG.SEQUENCE, 'signatureAlgorithm');
  expectTag(sigTlv, TAG.BIT_STRING, 'signature');

  const info = readChildren(buf, infoTlv);
  if (info.length < 3 || info.length > 4) fail('certificationRequestInfo has the wrong number of fields');
  const [versionTlv, subjectTlv, spkiTlv, attrsTlv] = info as [Tlv, Tlv, Tlv, Tlv | undefined];
  expectTag(versionTlv, TAG.INTEGER, 'version');
  if (decodeSmallInteger(contentOf(buf, versionTlv)) !== 0) fail('unsupported CSR version (expected v1)');
  expectTag(subjectTlv, TAG.SEQUENCE, 'subject');
  expectTag(spkiTlv, TAG.SEQUENCE, 'subjectPKInfo');
  if (attrsTlv) expectTag(attrsTlv, 0xa0, 'attributes');

  const commonName = readCommonName(buf, subjectTlv);
  const spki = Buffer.from(rawOf(buf, spkiTlv));
  let publicKey: KeyObject;
  try {
    publicKey = importSpki(spki);
  } catch (err) {
    throw new CsrError(`unsupported or malformed public key: ${(err as Error).message}`, { cause: err });
  }

  const result: ParsedCsr = {
    spki,
    publicKey,
    commonName,
    dnsNames: [],
    ipAddresses: [],
    unsupportedNames: [],
    unknownExtensions: [],
    signatureAlgorithm: '',
    signatureValid: false,
  };
  if (attrsTlv) readAttributes(buf, attrsTlv, result);

  const { alg, options } = readSignatureAlgorithm(buf, algTlv);
  result.signatureAlgorithm = alg.name;
  if (sigTlv.length < 2 || buf[sigTlv.contentStart] !== 0) fail('malformed signature BIT STRING');
  const signature = buf.subarray(sigTlv.contentStart + 1, sigTlv.end);
  const signed = rawOf(buf, infoTlv);
  const keyType = publicKey.asymmetricKeyType ?? '';
  if (alg.keyTypes.includes(keyType)) {
    try {
      // A bare KeyObject is measurably faster than the { key } form, so use it when we can.
      const key = options.padding ? { key: publicKey, ...options.padding } : publicKey;
      result.signatureValid = verify(options.hash, signed, key, signature);
    } catch {
      // e.g. an ECDSA signature that is not a valid DER Ecdsa-Sig-Value.
      result.signatureValid = false;
    }
  }
  return result;
}

function readCommonName(buf: Buffer, subject: Tlv): string | undefined {
  let cn: string | undefined;
  for (const rdn of readChildren(buf, subject)) {
    expectTag(rdn, TAG.SET, 'RelativeDistinguishedName');
    const atvs = readChildren(buf, rdn);
    if (atvs.length === 0) fail('empty RelativeDistinguishedName in subject');
    for (const atv of atvs) {
      expectTag(atv, TAG.SEQUENCE, 'AttributeTypeAndValue');
      const parts = readChildren(buf, atv);
      if (parts.length !== 2) fail('malformed AttributeTypeAndValue in subject');
      const [type, value] = parts as [Tlv, Tlv];
      expectTag(type, TAG.OID, 'attribute type');
      if (!rawOf(buf, type).equals(OID_CN)) continue;
      if (cn !== undefined) fail('the subject has more than one commonName');
      cn = decodeDirectoryString(buf, value);
    }
  }
  return cn;
}

function decodeDirectoryString(buf: Buffer, t: Tlv): string {
  const bytes = contentOf(buf, t);
  switch (t.tag) {
    case TAG.UTF8_STRING:
      return utf8.decode(bytes);
    case TAG.PRINTABLE_STRING:
    case TAG.IA5_STRING:
    case 0x1a: // VisibleString
      if (!bytes.every((b) => b < 0x80)) fail('non-ASCII byte in an ASCII string type');
      return bytes.toString('latin1');
    case TAG.TELETEX_STRING:
      return bytes.toString('latin1');
    case TAG.BMP_STRING: {
      if (bytes.length % 2 !== 0) fail('BMPString with an odd length');
      const swapped = Buffer.from(bytes);
      swapped.swap16();
      return swapped.toString('utf16le');
    }
    case TAG.UNIVERSAL_STRING: {
      if (bytes.length % 4 !== 0) fail('UniversalString length is not a multiple of 4');
      let s = '';
      for (let i = 0; i < bytes.length; i += 4) {
        const cp = bytes.readUInt32BE(i);
        if (cp > 0x10ffff) fail('invalid code point in UniversalString');
        s += String.fromCodePoint(cp);
      }
      return s;
    }
    default:
      return fail(`unsupported string type (tag 0x${t.tag.toString(16)}) in the subject`);
  }
}

function readAttributes(buf: Buffer, attrs: Tlv, out: ParsedCsr): void {
  let sawExtensionRequest = false;
  for (const attr of readChildren(buf, attrs)) {
    expectTag(attr, TAG.SEQUENCE, 'Attribute');
    const parts = readChildren(buf, attr);
    if (parts.length !== 2) fail('malformed CSR attribute');
    const [type, values] = parts as [Tlv, Tlv];
    expectTag(type, TAG.OID, 'attribute type');
    expectTag(values, TAG.SET, 'attribute values');
    if (!rawOf(buf, type).equals(OID_EXTENSION_REQUEST)) continue; // e.g. challengePassword
    if (sawExtensionRequest) fail('more than one extensionRequest attribute');
    sawExtensionRequest = true;
    const vals = readChildren(buf, values);
    if (vals.length !== 1) fail('extensionRequest must have exactly one value');
    readExtensions(buf, vals[0]!, out);
  }
}

function readExtensions(buf: Buffer, exts: Tlv, out: ParsedCsr): void {
  expectTag(exts, TAG.SEQUENCE, 'Extensions');
  const seen = new Set<string>();
  for (const ext of readChildren(buf, exts)) {
    expectTag(ext, TAG.SEQUENCE, 'Extension');
    const parts = readChildren(buf, ext);
    if (parts.length !== 2 && parts.length !== 3) fail('malformed requested extension');
    const idTlv = parts[0]!;
    const valueTlv = parts[parts.length - 1]!;
    expectTag(idTlv, TAG.OID, 'extnID');
    expectTag(valueTlv, TAG.OCTET_STRING, 'extnValue');
    let critical = false;
    if (parts.length === 3) {
      const c = parts[1]!;
      expectTag(c, TAG.BOOLEAN, 'critical');
      if (c.length !== 1) fail('malformed BOOLEAN');
      critical = buf[c.contentStart] !== 0;
    }
    const idHex = rawOf(buf, idTlv).toString('hex');
    if (seen.has(idHex)) fail(`extension ${decodeOid(contentOf(buf, idTlv))} requested twice`);
    seen.add(idHex);
    if (rawOf(buf, idTlv).equals(OID_SAN)) {
      readSubjectAltNames(buf, valueTlv, out);
    } else {
      out.unknownExtensions.push({
        oid: decodeOid(contentOf(buf, idTlv)),
        critical,
        value: Buffer.from(contentOf(buf, valueTlv)),
      });
    }
  }
}

function readSubjectAltNames(buf: Buffer, value: Tlv, out: ParsedCsr): void {
  const names = readTlv(buf, value.contentStart, value.end);
  if (names.end !== value.end) fail('trailing data after subjectAltName');
  expectTag(names, TAG.SEQUENCE, 'GeneralNames');
  const dns = new Set<string>();
  const ips = new Set<string>();
  const unsupported = new Set<string>();
  for (const name of readChildren(buf, names)) {
    const kind = name.tag & 0x1f;
    if ((name.tag & 0xc0) !== 0x80 || kind > 8) fail('malformed GeneralName in subjectAltName');
    const bytes = contentOf(buf, name);
    if (name.tag === 0x82) {
      if (bytes.length === 0 || !bytes.every((b) => b > 0x20 && b < 0x7f)) {
        fail('a dNSName must be non-empty printable ASCII');
      }
      dns.add(bytes.toString('latin1').toLowerCase());
    } else if (name.tag === 0x87) {
      if (bytes.length !== 4 && bytes.length !== 16) fail('an iPAddress SAN must have 4 or 16 octets');
      ips.add(ipFromBytes(bytes));
    } else {
      unsupported.add(GENERAL_NAME_KINDS[kind]!);
    }
  }
  out.dnsNames = [...dns];
  out.ipAddresses = [...ips];
  out.unsupportedNames = [...unsupported];
}

interface VerifyOptions {
  hash: string | null;
  padding?: { padding: number; saltLength: number };
}

function readSignatureAlgorithm(buf: Buffer, algTlv: Tlv): { alg: SigAlg; options: VerifyOptions } {
  const parts = readChildren(buf, algTlv);
  if (parts.length < 1 || parts.length > 2) fail('malformed signatureAlgorithm');
  const [idTlv, params] = parts as [Tlv, Tlv | undefined];
  expectTag(idTlv, TAG.OID, 'signature algorithm OID');
  const alg = SIG_ALGS.get(rawOf(buf, idTlv).toString('hex'));
  if (!alg) fail(`unsupported signature algorithm ${decodeOid(contentOf(buf, idTlv))}`);
  switch (alg.kind) {
    case 'rsa':
      // RFC 4055 §5: parameters NULL; absent is tolerated as many encoders once did.
      if (params && !(params.tag === TAG.NULL && params.length === 0))
        fail(`${alg.name} parameters must be NULL`);
      return { alg, options: { hash: alg.hash } };
    case 'ecdsa':
    case 'eddsa':
    case 'ml-dsa':
      if (params) fail(`${alg.name} parameters must be absent`);
      return { alg, options: { hash: alg.hash } };
    case 'rsa-pss': {
      if (!params) fail('RSASSA-PSS requires parameters');
      const pss = readPssParams(buf, params);
      return {
        alg: { ...alg, name: `RSASSA-PSS-${pss.hash.toUpperCase()}` },
        options: {
          hash: pss.hash,
          padding: { padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: pss.saltLength },
        },
      };
    }
  }
}

/** RFC 4055 §3.1 RSASSA-PSS-params, limited to SHA-2 with MGF1 over the same hash. */
function readPssParams(buf: Buffer, params: Tlv): { hash: string; saltLength: number } {
  expectTag(params, TAG.SEQUENCE, 'RSASSA-PSS-params');
  let hash: string | undefined;
  let mgfHash: string | undefined;
  let saltLength = 20;
  let lastTag = -1;
  for (const field of readChildren(buf, params)) {
    if (field.tag <= lastTag || field.tag < 0xa0 || field.tag > 0xa3) fail('malformed RSASSA-PSS-params');
    lastTag = field.tag;
    const inner = readTlv(buf, field.contentStart, field.end);
    if (inner.end !== field.end) fail('malformed RSASSA-PSS-params');
    if (field.tag === 0xa0) {
      hash = readHashAlgorithm(buf, inner);
    } else if (field.tag === 0xa1) {
      expectTag(inner, TAG.SEQUENCE, 'maskGenAlgorithm');
      const [mgfId, mgfParams] = readChildren(buf, inner);
      if (!mgfId || !mgfParams || !rawOf(buf, mgfId).equals(OID_MGF1)) fail('RSASSA-PSS must use MGF1');
      mgfHash = readHashAlgorithm(buf, mgfParams);
    } else if (field.tag === 0xa2) {
      expectTag(inner, TAG.INTEGER, 'saltLength');
      saltLength = decodeSmallInteger(contentOf(buf, inner));
    } else {
      expectTag(inner, TAG.INTEGER, 'trailerField');
      if (decodeSmallInteger(contentOf(buf, inner)) !== 1) fail('RSASSA-PSS trailerField must be 1');
    }
  }
  if (!hash) fail('RSASSA-PSS with SHA-1 is not accepted');
  if (mgfHash !== hash) fail('RSASSA-PSS must use MGF1 with the same hash as the signature');
  return { hash, saltLength };
}

function readHashAlgorithm(buf: Buffer, t: Tlv): string {
  expectTag(t, TAG.SEQUENCE, 'hash AlgorithmIdentifier');
  const parts = readChildren(buf, t);
  if (parts.length < 1 || parts.length > 2) fail('malformed hash AlgorithmIdentifier');
  const [id, params] = parts as [Tlv, Tlv | undefined];
  expectTag(id, TAG.OID, 'hash OID');
  if (params && !(params.tag === TAG.NULL && params.length === 0))
    fail('hash parameters must be NULL or absent');
  const hash = HASHES.get(rawOf(buf, id).toString('hex'));
  if (!hash) fail(`unsupported hash algorithm ${decodeOid(contentOf(buf, id))}`);
  return hash;
}
