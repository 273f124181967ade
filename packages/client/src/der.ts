/** The few X.690 DER encodings a PKCS#10 request needs. Each returns a complete TLV. */

export function tlv(tag: number, ...contents: Buffer[]): Buffer {
  let length = 0;
  for (const c of contents) length += c.length;
  let header: Buffer;
  if (length < 0x80) header = Buffer.from([tag, length]);
  else if (length < 0x100) header = Buffer.from([tag, 0x81, length]);
  else if (length < 0x10000) header = Buffer.from([tag, 0x82, length >> 8, length & 0xff]);
  else if (length < 0x1000000)
    header = Buffer.from([tag, 0x83, length >> 16, (length >> 8) & 0xff, length & 0xff]);
  else throw new RangeError('DER value too long');
  return Buffer.concat([header, ...contents], header.length + length);
}

export const sequence = (...items: Buffer[]): Buffer => tlv(0x30, ...items);
export const set = (...items: Buffer[]): Buffer => tlv(0x31, ...items);
export const nul = (): Buffer => Buffer.from([0x05, 0x00]);
export const bool = (value: boolean): Buffer => Buffer.from([0x01, 0x01, value ? 0xff : 0x00]);
export const octetString = (bytes: Buffer): Buffer => tlv(0x04, bytes);
export const utf8String = (text: string): Buffer => tlv(0x0c, Buffer.from(text, 'utf8'));
/** BIT STRING with no unused bits. */
export const bitString = (bytes: Buffer): Buffer => tlv(0x03, Buffer.from([0]), bytes);
/** Context-specific tag [n]: constructed (EXPLICIT or IMPLICIT SET/SEQUENCE) or primitive. */
export const context = (n: number, constructed: boolean, ...contents: Buffer[]): Buffer =>
  tlv((constructed ? 0xa0 : 0x80) | n, ...contents);

/** Small non-negative INTEGER. */
export function smallInteger(value: number): Buffer {
  if (!Number.isInteger(value) || value < 0 || value > 0x7f) throw new RangeError('only 0..127 supported');
  return Buffer.from([0x02, 0x01, value]);
}

/** INTEGER from unsigned big-endian bytes (leading zeros dropped, a 0x00 added when the top bit is set). */
export function unsignedInteger(bytes: Buffer): Buffer {
  let start = 0;
  while (start < bytes.length - 1 && bytes[start] === 0) start++;
  const trimmed = bytes.subarray(start);
  return (trimmed[0]! & 0x80) === 0 ? tlv(0x02, trimmed) : tlv(0x02, Buffer.from([0]), trimmed);
}

const oidCache = new Map<string, Buffer>();

/** OBJECT IDENTIFIER from dotted notation (cached: the few OIDs a CSR uses are encoded once). */
export function oid(dotted: string): Buffer {
  const cached = oidCache.get(dotted);
  if (cached) return cached;
  const arcs = dotted.split('.').map(Number);
  if (arcs.length < 2 || arcs.some((a) => !Number.isSafeInteger(a) || a < 0))
    throw new TypeError(`bad OID ${dotted}`);
  const bytes: number[] = [];
  const push = (arc: number) => {
    const groups = [arc & 0x7f];
    for (let rest = Math.floor(arc / 128); rest > 0; rest = Math.floor(rest / 128))
      groups.unshift((rest & 0x7f) | 0x80);
    bytes.push(...groups);
  };
  push(arcs[0]! * 40 + arcs[1]!);
  for (const arc of arcs.slice(2)) push(arc);
  const encoded = tlv(0x06, Buffer.from(bytes));
  oidCache.set(dotted, encoded);
  return encoded;
}
