/**
 * Builds and signs X.509 v2 CRLs (RFC 5280 §5) with the DER encoder of @akamu/protocol.
 *
 * Everything constant per issuer (its Name, the AKI extension, the algorithm identifier, the entry
 * extension of each reason code) is encoded once, so a CRL of 100,000 entries costs three small
 * allocations per entry, one copy into the final buffer and one signature.
 */
import {
  bitString,
  constructed,
  explicit,
  implicit,
  integer,
  sequence,
  TAG,
  time,
  tlv,
} from '@akamu/protocol';
import { extension } from './certificate-issuer.ts';
import { type IssuerKey, issuerAlgorithm, type SignatureAlgorithm, signTbs } from './key-type.ts';

const OID_CRL_NUMBER = '2.5.29.20';
const OID_REASON_CODE = '2.5.29.21';
const OID_ISSUING_DISTRIBUTION_POINT = '2.5.29.28';
const OID_AKI = '2.5.29.35';

/** RFC 5280 §5.1.2.1: version v2 is INTEGER 1 (needed as soon as any extension is present). */
const VERSION_V2 = integer(1);

/** One revoked certificate. */
export interface CrlEntry {
  /** The serial number as lower-case hex of its unsigned magnitude (how the certificates table stores it). */
  serial: string;
  /** Revocation time, epoch milliseconds. */
  revokedAt: number;
  /** RFC 5280 §5.3.1 CRLReason. */
  reason: number;
}

export interface CrlContent {
  /** RFC 5280 §5.2.3: a monotonically increasing sequence number for this CRL scope. */
  crlNumber: number | bigint;
  thisUpdate: Date;
  nextUpdate: Date;
  entries: readonly CrlEntry[];
  /** For a partitioned CRL: the URL of this shard, written into a critical Issuing Distribution Point. */
  issuingDistributionPoint?: string;
}

/** RFC 5280 §5.3.1: reasonCode is an ENUMERATED; 7 is unused and values above 10 are undefined. */
export function isCrlReason(reason: number): boolean {
  return Number.isInteger(reason) && reason >= 0 && reason <= 10 && reason !== 7;
}

/**
 * The crlEntryExtensions of each reason code. RFC 5280 §5.3.1: the reasonCode extension SHOULD be absent
 * instead of using the unspecified (0) reason code, so reason 0 has none.
 */
const REASON_EXTENSIONS: (Buffer | undefined)[] = Array.from({ length: 11 }, (_, r) =>
  r === 0 || r === 7
    ? undefined
    : sequence(extension(OID_REASON_CODE, false, tlv(0x0a /* ENUMERATED */, Uint8Array.of(r)))),
);

/** One revokedCertificates element: SEQUENCE { userCertificate, revocationDate, crlEntryExtensions? }. */
export function encodeCrlEntry(entry: CrlEntry): Buffer {
  return encodeCrlEntries([entry])[0]!;
}

/** Largest entry: SEQUENCE header, INTEGER of 21 octets, GeneralizedTime, the longest reason extension. */
const MAX_ENTRY = 2 + 23 + 17 + Math.max(...REASON_EXTENSIONS.map((e) => e?.length ?? 0));

/**
 * Encodes many revokedCertificates elements into one buffer and returns a view of each (a CRL of 100,000
 * entries would otherwise cost several allocations per entry). Each element is
 * SEQUENCE { INTEGER serial, Time revocationDate (RFC 5280 §5.1.2.6), crlEntryExtensions (reasonCode) }.
 */
export function encodeCrlEntries(entries: readonly CrlEntry[]): Buffer[] {
  const slab = Buffer.allocUnsafe(entries.length * MAX_ENTRY);
  const out = new Array<Buffer>(entries.length);
  let pos = 0;
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i]!;
    const serial = e.serial;
    if (typeof serial !== 'string' || serial.length === 0 || serial.length > 40) {
      throw new TypeError(`bad serial ${JSON.stringify(serial)}`);
    }
    if (!isCrlReason(e.reason)) throw new RangeError(`bad CRL reason ${e.reason}`);
    let hex = serial.length % 2 === 0 ? serial : `0${serial}`;
    while (hex.length > 2 && hex.charCodeAt(0) === 0x30 && hex.charCodeAt(1) === 0x30) hex = hex.slice(2);
    const first = hex.charCodeAt(0);
    const pad = first >= 0x38 /* '8' */ ? 1 : 0; // keep it positive
    const serialLength = hex.length / 2 + pad;
    const ext = REASON_EXTENSIONS[e.reason];
    const start = pos;
    slab[pos++] = TAG.SEQUENCE;
    pos++; // length, written last (always < 128: short form)
    slab[pos++] = TAG.INTEGER;
    slab[pos++] = serialLength;
    if (pad) slab[pos++] = 0;
    // Buffer#write stops at the first character that is not hex: a short write is a bad serial.
    if (slab.write(hex, pos, 'hex') !== hex.length / 2) {
      throw new TypeError(`bad serial ${JSON.stringify(serial)}`);
    }
    pos += hex.length / 2;
    slab[pos] = TAG.UTC_TIME;
    slab[pos + 1] = 13;
    const after = writeUtcTime(slab, pos + 2, e.revokedAt);
    if (after > 0) pos = after;
    else {
      const t = time(new Date(e.revokedAt)); // GeneralizedTime outside 1950–2049
      t.copy(slab, pos);
      pos += t.length;
    }
    if (ext) {
      ext.copy(slab, pos);
      pos += ext.length;
    }
    slab[start + 1] = pos - start - 2;
    out[i] = slab.subarray(start, pos);
  }
  return out;
}

/**
 * Writes UTCTime content YYMMDDHHMMSSZ (RFC 5280 §5.1.2.6) for an epoch-ms time in 1950–2049 and returns
 * the new position, or -1 for a time outside that range. Civil date from days since the epoch by
 * H. Hinnant's algorithm: no Date object and no string per entry.
 */
function writeUtcTime(buf: Buffer, pos: number, ms: number): number {
  const secs = Math.floor(ms / 1000);
  const days = Math.floor(secs / 86_400);
  let rem = secs - days * 86_400;
  const z = days + 719_468;
  const era = Math.floor(z / 146_097);
  const doe = z - era * 146_097;
  const yoe = Math.floor(
    (doe - Math.floor(doe / 1460) + Math.floor(doe / 36_524) - Math.floor(doe / 146_096)) / 365,
  );
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const day = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const month = mp < 10 ? mp + 3 : mp - 9;
  const year = yoe + era * 400 + (month <= 2 ? 1 : 0);
  if (!(year >= 1950 && year <= 2049)) return -1;
  const hour = Math.floor(rem / 3600);
  rem -= hour * 3600;
  const minute = Math.floor(rem / 60);
  pos = twoDigits(buf, pos, year % 100);
  pos = twoDigits(buf, pos, month);
  pos = twoDigits(buf, pos, day);
  pos = twoDigits(buf, pos, hour);
  pos = twoDigits(buf, pos, minute);
  pos = twoDigits(buf, pos, rem - minute * 60);
  buf[pos] = 0x5a; // 'Z'
  return pos + 1;
}

function twoDigits(buf: Buffer, pos: number, n: number): number {
  buf[pos] = 0x30 + Math.floor(n / 10);
  buf[pos + 1] = 0x30 + (n % 10);
  return pos + 2;
}

/**
 * IssuingDistributionPoint (RFC 5280 §5.2.5) naming this partition's URL, with onlyContainsUserCerts:
 * a relying party accepts the CRL for a certificate only when the URL equals the certificate's CRL
 * distribution point. Critical, as the RFC requires.
 */
export function issuingDistributionPointExtension(url: string): Buffer {
  if (!/^[\x21-\x7e]+$/.test(url))
    throw new TypeError(`CRL URL must be printable ASCII: ${JSON.stringify(url)}`);
  const uri = implicit(6, Buffer.from(url, 'latin1'));
  // distributionPoint [0] DistributionPointName { fullName [0] IMPLICIT GeneralNames }, onlyContainsUserCerts [1] TRUE
  const value = sequence(explicit(0, implicit(0, uri, true)), implicit(1, Uint8Array.of(0xff)));
  return extension(OID_ISSUING_DISTRIBUTION_POINT, true, value);
}

/** Signs CRLs for one issuing CA. Construct once; build() is called on every rebuild. */
export class CrlSigner {
  readonly #issuerName: Buffer;
  readonly #akiExt: Buffer;
  readonly #alg: SignatureAlgorithm;
  readonly #key: IssuerKey;

  /** `issuerName` is the issuer certificate's subject Name DER; `authorityKeyId` its key identifier. */
  constructor(opts: { issuerName: Buffer; authorityKeyId: Buffer; key: IssuerKey }) {
    this.#issuerName = opts.issuerName;
    // RFC 5280 §5.2.1: conforming CRL issuers MUST include the AKI extension.
    this.#akiExt = extension(OID_AKI, false, sequence(implicit(0, opts.authorityKeyId)));
    this.#alg = issuerAlgorithm(opts.key);
    this.#key = opts.key;
  }

  /** The DER CertificateList (RFC 5280 §5.1). */
  build(content: CrlContent): Buffer {
    return this.buildEncoded(content, encodeCrlEntries(content.entries));
  }

  /**
   * The same, with the revokedCertificates elements already encoded by encodeCrlEntry (a complete CRL
   * and its shards share them); `content.entries` is ignored.
   */
  buildEncoded(content: CrlContent, encoded: readonly Buffer[]): Buffer {
    if (!(content.nextUpdate.getTime() > content.thisUpdate.getTime())) {
      throw new RangeError('nextUpdate must be later than thisUpdate');
    }
    const number = BigInt(content.crlNumber);
    // RFC 5280 §5.2.3: CRL numbers are non-negative and at most 20 octets.
    if (number < 0n || number >= 1n << 159n) throw new RangeError('CRL number out of range');
    const exts = [this.#akiExt, extension(OID_CRL_NUMBER, false, integer(number))];
    if (content.issuingDistributionPoint) {
      exts.push(issuingDistributionPointExtension(content.issuingDistributionPoint));
    }
    const parts: Buffer[] = [
      VERSION_V2,
      this.#alg.algorithmIdentifier,
      this.#issuerName,
      time(content.thisUpdate),
      time(content.nextUpdate),
    ];
    // RFC 5280 §5.1.2.6: when there are no revoked certificates the list MUST be absent.
    if (encoded.length > 0) parts.push(constructed(TAG.SEQUENCE, encoded));
    parts.push(explicit(0, sequence(...exts)));
    const tbs = sequence(...parts);
    const signature = signTbs(this.#alg, tbs, this.#key);
    return sequence(tbs, this.#alg.algorithmIdentifier, bitString(signature));
  }
}
