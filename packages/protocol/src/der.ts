/**
 * A small DER (ITU-T X.690 §10) encoder and TLV reader, shared by the CA's issuance hot path
 * and the client's PKCS#10 requests.
 *
 * The encoder builds each element with a single allocation; the reader never copies:
 * it returns offsets so callers can slice the exact bytes they need (a Name, an SPKI,
 * the signed part of a CSR). Only low tag numbers (< 31) and definite, minimal lengths
 * are accepted, as DER requires.
 */

/** Universal and common tag bytes (class and constructed bits included). */
export const TAG = {
  BOOLEAN: 0x01,
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  NULL: 0x05,
  OID: 0x06,
  UTF8_STRING: 0x0c,
  PRINTABLE_STRING: 0x13,
  TELETEX_STRING: 0x14,
  IA5_STRING: 0x16,
  UTC_TIME: 0x17,
  GENERALIZED_TIME: 0x18,
  UNIVERSAL_STRING: 0x1c,
  BMP_STRING: 0x1e,
  SEQUENCE: 0x30,
  SET: 0x31,
} as const;

/** Thrown by the reader on malformed or non-DER input. */
export class DerError extends Error {
  override name = 'DerError';
}

// ---------------------------------------------------------------------------
// Encoder
// ---------------------------------------------------------------------------

function headerLength(length: number): number {
  if (length < 0x80) return 2;
  if (length < 0x100) return 3;
  if (length < 0x10000) return 4;
  if (length < 0x1000000) return 5;
  return 6;
}

function writeHeader(out: Buffer, tag: number, length: number): number {
  out[0] = tag;
  if (length < 0x80) {
    out[1] = length;
    return 2;
  }
  const n = headerLength(length) - 2;
  out[1] = 0x80 | n;
  for (let i = n; i > 0; i--) {
    out[1 + i] = length & 0xff;
    length = Math.floor(length / 256);
  }
  return 2 + n;
}

/** One TLV with the given tag byte and content. */
export function tlv(tag: number, content: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(headerLength(content.length) + content.length);
  out.set(content, writeHeader(out, tag, content.length));
  return out;
}

/** A constructed TLV whose content is the concatenation of already-encoded parts. */
export function constructed(tag: number, parts: readonly Uint8Array[]): Buffer {
  let length = 0;
  for (const p of parts) length += p.length;
  const out = Buffer.allocUnsafe(headerLength(length) + length);
  let offset = writeHeader(out, tag, length);
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}

export function sequence(...parts: Uint8Array[]): Buffer {
  return constructed(TAG.SEQUENCE, parts);
}

/** SET OF: DER (X.690 §11.6) orders the encoded elements as octet strings. */
export function setOf(...parts: Uint8Array[]): Buffer {
  const sorted = parts.length > 1 ? [...parts].sort(Buffer.compare) : parts;
  return constructed(TAG.SET, sorted);
}

/** [n] EXPLICIT: a constructed context-specific wrapper around encoded parts. */
export function explicit(n: number, ...parts: Uint8Array[]): Buffer {
  return constructed(0xa0 | n, parts);
}

/** [n] IMPLICIT: the content of the underlying type under a context-specific tag. */
export function implicit(n: number, content: Uint8Array, isConstructed = false): Buffer {
  return tlv((isConstructed ? 0xa0 : 0x80) | n, content);
}

const TRUE = Buffer.from([TAG.BOOLEAN, 1, 0xff]);
const FALSE = Buffer.from([TAG.BOOLEAN, 1, 0x00]);
export const NULL = Buffer.from([TAG.NULL, 0]);

export function boolean(value: boolean): Buffer {
  return value ? TRUE : FALSE;
}

/**
 * INTEGER. A number or bigint is encoded in minimal two's complement. A byte array is an
 * unsigned big-endian magnitude: leading zero bytes are dropped (DER forbids them) and a
 * 0x00 is prepended when the high bit is set, so the value stays positive.
 */
export function integer(value: number | bigint | Uint8Array): Buffer {
  if (value instanceof Uint8Array) {
    let i = 0;
    while (i < value.length - 1 && value[i] === 0) i++;
    if (value.length === 0) return Buffer.from([TAG.INTEGER, 1, 0]);
    const pad = (value[i]! & 0x80) !== 0 ? 1 : 0;
    const len = value.length - i + pad;
    const out = Buffer.allocUnsafe(headerLength(len) + len);
    let offset = writeHeader(out, TAG.INTEGER, len);
    if (pad) out[offset++] = 0;
    out.set(value.subarray(i), offset);
    return out;
  }
  let v = BigInt(value);
  const bytes: number[] = [];
  // Emit bytes least significant first until the remaining value is pure sign extension.
  for (;;) {
    const byte = Number(v & 0xffn);
    bytes.push(byte);
    v >>= 8n;
    if ((v === 0n && (byte & 0x80) === 0) || (v === -1n && (byte & 0x80) !== 0)) break;
  }
  return tlv(TAG.INTEGER, Uint8Array.from(bytes.reverse()));
}

const oidCache = new Map<string, Buffer>();

/** OBJECT IDENTIFIER from dotted text, e.g. '2.5.29.17'. Encodings are cached. */
export function oid(dotted: string): Buffer {
  const cached = oidCache.get(dotted);
  if (cached) return cached;
  if (!/^[0-2](\.(0|[1-9]\d*))+$/.test(dotted)) throw new TypeError(`invalid OID "${dotted}"`);
  const arcs = dotted.split('.').map((a) => BigInt(a));
  if (arcs[0]! < 2n && arcs[1]! > 39n) throw new TypeError(`invalid OID "${dotted}"`);
  const subids = [arcs[0]! * 40n + arcs[1]!, ...arcs.slice(2)];
  const bytes: number[] = [];
  for (const sub of subids) {
    const chunk: number[] = [Number(sub & 0x7fn)];
    for (let v = sub >> 7n; v > 0n; v >>= 7n) chunk.push(Number(v & 0x7fn) | 0x80);
    bytes.push(...chunk.reverse());
  }
  const out = tlv(TAG.OID, Uint8Array.from(bytes));
  if (oidCache.size < 1024) oidCache.set(dotted, out);
  return out;
}

/** BIT STRING with the given number of unused bits in the last byte. */
export function bitString(content: Uint8Array, unusedBits = 0): Buffer {
  const out = Buffer.allocUnsafe(headerLength(content.length + 1) + content.length + 1);
  const offset = writeHeader(out, TAG.BIT_STRING, content.length + 1);
  out[offset] = unusedBits;
  out.set(content, offset + 1);
  return out;
}

/**
 * A named-bit BIT STRING (KeyUsage and friends): bit 0 is the most significant bit of the
 * first byte, and DER (X.690 §11.2.2) drops trailing zero bits.
 */
export function namedBits(bits: readonly number[]): Buffer {
  if (bits.length === 0) return bitString(new Uint8Array(0));
  const highest = Math.max(...bits);
  const bytes = new Uint8Array((highest >> 3) + 1);
  for (const b of bits) bytes[b >> 3]! |= 0x80 >> (b & 7);
  return bitString(bytes, 7 - (highest & 7));
}

export function octetString(content: Uint8Array): Buffer {
  return tlv(TAG.OCTET_STRING, content);
}

export function utf8String(text: string): Buffer {
  return tlv(TAG.UTF8_STRING, Buffer.from(text, 'utf8'));
}

const PRINTABLE = /^[A-Za-z0-9 '()+,\-./:=?]*$/;

export function printableString(text: string): Buffer {
  if (!PRINTABLE.test(text)) throw new TypeError(`not a PrintableString: ${JSON.stringify(text)}`);
  return tlv(TAG.PRINTABLE_STRING, Buffer.from(text, 'latin1'));
}

function isAscii(text: string): boolean {
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) > 0x7f) return false;
  return true;
}

export function ia5String(text: string): Buffer {
  if (!isAscii(text)) throw new TypeError(`not an IA5String: ${JSON.stringify(text)}`);
  return tlv(TAG.IA5_STRING, Buffer.from(text, 'latin1'));
}

function pad2(n: number): string {
  return n < 10 ? `0${n}` : `${n}`;
}

function timeDigits(date: Date): string {
  if (Number.isNaN(date.getTime())) throw new RangeError('invalid date');
  return (
    pad2(date.getUTCMonth() + 1) +
    pad2(date.getUTCDate()) +
    pad2(date.getUTCHours()) +
    pad2(date.getUTCMinutes()) +
    pad2(date.getUTCSeconds()) +
    'Z'
  );
}

/** UTCTime YYMMDDHHMMSSZ; only years 1950–2049 are representable (RFC 5280 §4.1.2.5.1). */
export function utcTime(date: Date): Buffer {
  const year = date.getUTCFullYear();
  if (!(year >= 1950 && year <= 2049)) throw new RangeError(`UTCTime cannot represent year ${year}`);
  return tlv(TAG.UTC_TIME, Buffer.from(pad2(year % 100) + timeDigits(date), 'latin1'));
}

/** GeneralizedTime YYYYMMDDHHMMSSZ, no fractional seconds (RFC 5280 §4.1.2.5.2). */
export function generalizedTime(date: Date): Buffer {
  const year = date.getUTCFullYear();
  if (!(year >= 0 && year <= 9999)) throw new RangeError(`GeneralizedTime cannot represent year ${year}`);
  return tlv(TAG.GENERALIZED_TIME, Buffer.from(String(year).padStart(4, '0') + timeDigits(date), 'latin1'));
}

/** RFC 5280 §4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050 (and before 1950). */
export function time(date: Date): Buffer {
  const year = date.getUTCFullYear();
  return year >= 1950 && year <= 2049 ? utcTime(date) : generalizedTime(date);
}

// ---------------------------------------------------------------------------
// Reader
// ---------------------------------------------------------------------------

/** Offsets of one TLV inside a buffer. `end` is exclusive; content is [contentStart, end). */
export interface Tlv {
  tag: number;
  start: number;
  headerLength: number;
  contentStart: number;
  length: number;
  end: number;
}

/** Reads the TLV at `offset`, which must fit entirely before `limit`. */
export function readTlv(buf: Uint8Array, offset = 0, limit = buf.length): Tlv {
  if (offset + 2 > limit) throw new DerError('truncated: missing tag or length');
  const tag = buf[offset]!;
  if ((tag & 0x1f) === 0x1f) throw new DerError('high tag numbers are not supported');
  let length = buf[offset + 1]!;
  let pos = offset + 2;
  if (length & 0x80) {
    const n = length & 0x7f;
    if (n === 0) throw new DerError('indefinite length is not DER');
    if (n > 4) throw new DerError('length too large');
    if (pos + n > limit) throw new DerError('truncated: length bytes missing');
    if (buf[pos] === 0) throw new DerError('non-minimal length encoding');
    length = 0;
    for (let i = 0; i < n; i++) length = length * 256 + buf[pos + i]!;
    if (length < 0x80) throw new DerError('non-minimal length encoding');
    pos += n;
  }
  if (length > limit - pos) throw new DerError('truncated: content extends past the end');
  return { tag, start: offset, headerLength: pos - offset, contentStart: pos, length, end: pos + length };
}

/** Reads a TLV that must occupy `buf` exactly (no trailing bytes). */
export function readWhole(buf: Uint8Array, expectedTag?: number, what = 'value'): Tlv {
  const t = readTlv(buf, 0, buf.length);
  if (t.end !== buf.length) throw new DerError(`trailing data after ${what}`);
  if (expectedTag !== undefined) expectTag(t, expectedTag, what);
  return t;
}

/** The TLVs directly inside a constructed TLV. */
export function readChildren(buf: Uint8Array, parent: Tlv): Tlv[] {
  if ((parent.tag & 0x20) === 0) throw new DerError('expected a constructed value');
  const out: Tlv[] = [];
  for (let pos = parent.contentStart; pos < parent.end; ) {
    const t = readTlv(buf, pos, parent.end);
    out.push(t);
    pos = t.end;
  }
  return out;
}

export function expectTag(t: Tlv, tag: number, what: string): void {
  if (t.tag !== tag) {
    throw new DerError(`expected ${what} (tag 0x${hex2(tag)}), found tag 0x${hex2(t.tag)}`);
  }
}

function hex2(n: number): string {
  return n.toString(16).padStart(2, '0');
}

/** The content bytes of a TLV (a view, not a copy). */
export function contentOf(buf: Buffer, t: Tlv): Buffer {
  return buf.subarray(t.contentStart, t.end);
}

/** The full encoding of a TLV, header included (a view, not a copy). */
export function rawOf(buf: Buffer, t: Tlv): Buffer {
  return buf.subarray(t.start, t.end);
}

/** Dotted text of OBJECT IDENTIFIER content bytes. */
export function decodeOid(content: Uint8Array): string {
  if (content.length === 0) throw new DerError('empty OBJECT IDENTIFIER');
  if (content[content.length - 1]! & 0x80) throw new DerError('truncated OBJECT IDENTIFIER');
  const arcs: string[] = [];
  let v = 0n;
  let first = true;
  for (let i = 0; i < content.length; i++) {
    const b = content[i]!;
    if (v === 0n && b === 0x80) throw new DerError('non-minimal OBJECT IDENTIFIER arc');
    v = (v << 7n) | BigInt(b & 0x7f);
    if (b & 0x80) continue;
    if (first) {
      const top = v < 80n ? v / 40n : 2n;
      arcs.push(String(top), String(v - top * 40n));
      first = false;
    } else {
      arcs.push(String(v));
    }
    v = 0n;
  }
  return arcs.join('.');
}

/** A non-negative INTEGER small enough for a JS number (versions, path lengths, salt lengths). */
export function decodeSmallInteger(content: Uint8Array): number {
  if (content.length === 0) throw new DerError('empty INTEGER');
  if (content.length > 1 && content[0] === 0 && (content[1]! & 0x80) === 0) {
    throw new DerError('non-minimal INTEGER');
  }
  if (content[0]! & 0x80) throw new DerError('negative INTEGER');
  if (content.length > 6) throw new DerError('INTEGER too large');
  let v = 0;
  for (const b of content) v = v * 256 + b;
  return v;
}
