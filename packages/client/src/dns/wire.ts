/**
 * The few DNS wire-format pieces (RFC 1035 §4) the DNS solvers need: queries, RFC 2136 UPDATE
 * messages, a response parser with name decompression, TSIG (RFC 8945) signing and verification, and
 * an exchange over UDP with TCP fallback (RFC 7766), each with a timeout and a size limit.
 */
import { createHmac, randomInt, timingSafeEqual } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { isIP, Socket } from 'node:net';

export const TYPE = { A: 1, NS: 2, CNAME: 5, SOA: 6, TXT: 16, AAAA: 28, TSIG: 250, ANY: 255 } as const;
export const CLASS = { IN: 1, NONE: 254, ANY: 255 } as const;
export const OPCODE = { QUERY: 0, UPDATE: 5 } as const;
export const RCODE_NAMES: Record<number, string> = {
  0: 'NOERROR',
  1: 'FORMERR',
  2: 'SERVFAIL',
  3: 'NXDOMAIN',
  4: 'NOTIMP',
  5: 'REFUSED',
  6: 'YXDOMAIN',
  7: 'YXRRSET',
  8: 'NXRRSET',
  9: 'NOTAUTH',
  10: 'NOTZONE',
  16: 'BADSIG',
  17: 'BADKEY',
  18: 'BADTIME',
  22: 'BADTRUNC',
};

export interface ResourceRecord {
  name: string;
  type: number;
  class: number;
  ttl: number;
  /** RDATA bytes (names inside are still compressed: use the parsed helpers below). */
  data: Buffer;
  /** Offset of RDATA in the message, for decompressing names inside it. */
  dataOffset: number;
  /** Offset of the record's first byte in the message. */
  start: number;
}

export interface DnsMessage {
  id: number;
  flags: number;
  opcode: number;
  rcode: number;
  truncated: boolean;
  questions: { name: string; type: number; class: number }[];
  answers: ResourceRecord[];
  authorities: ResourceRecord[];
  additionals: ResourceRecord[];
}

/** Lowercase, no trailing dot. */
export function normalizeName(name: string): string {
  return name.toLowerCase().replace(/\.$/, '');
}

/** Uncompressed wire form of a domain name (RFC 1035 §3.1). */
export function encodeName(name: string): Buffer {
  const trimmed = name.replace(/\.$/, '');
  const parts: Buffer[] = [];
  if (trimmed !== '') {
    for (const label of trimmed.split('.')) {
      const bytes = Buffer.from(label, 'ascii');
      if (bytes.length === 0 || bytes.length > 63)
        throw new TypeError(`invalid DNS name ${JSON.stringify(name)}`);
      parts.push(Buffer.from([bytes.length]), bytes);
    }
  }
  parts.push(Buffer.from([0]));
  const out = Buffer.concat(parts);
  if (out.length > 255) throw new TypeError(`DNS name too long: ${name}`);
  return out;
}

/** TXT RDATA: one or more <character-string>s of at most 255 bytes (RFC 1035 §3.3.14). */
export function encodeTxt(value: string): Buffer {
  const bytes = Buffer.from(value, 'utf8');
  const parts: Buffer[] = [];
  for (let i = 0; i === 0 || i < bytes.length; i += 255) {
    const chunk = bytes.subarray(i, i + 255);
    parts.push(Buffer.from([chunk.length]), chunk);
  }
  return Buffer.concat(parts);
}

/** The strings of a TXT RDATA, concatenated (RFC 7208 §3.3 style, as ACME validators read them). */
export function decodeTxt(data: Buffer): string {
  const parts: Buffer[] = [];
  for (let i = 0; i < data.length; ) {
    const length = data[i]!;
    if (i + 1 + length > data.length) throw new DnsWireError('truncated TXT record');
    parts.push(data.subarray(i + 1, i + 1 + length));
    i += 1 + length;
  }
  return Buffer.concat(parts).toString('utf8');
}

export class DnsWireError extends Error {
  override name = 'DnsWireError';
}

export interface RecordSpec {
  name: string;
  type: number;
  class: number;
  ttl: number;
  data: Buffer;
}

function encodeRecord(r: RecordSpec): Buffer {
  const fixed = Buffer.alloc(10);
  fixed.writeUInt16BE(r.type, 0);
  fixed.writeUInt16BE(r.class, 2);
  fixed.writeUInt32BE(r.ttl, 4);
  fixed.writeUInt16BE(r.data.length, 8);
  return Buffer.concat([encodeName(r.name), fixed, r.data]);
}

function header(id: number, flags: number, counts: [number, number, number, number]): Buffer {
  const out = Buffer.alloc(12);
  out.writeUInt16BE(id, 0);
  out.writeUInt16BE(flags, 2);
  for (let i = 0; i < 4; i++) out.writeUInt16BE(counts[i]!, 4 + 2 * i);
  return out;
}

function question(name: string, type: number, cls: number): Buffer {
  const tail = Buffer.alloc(4);
  tail.writeUInt16BE(type, 0);
  tail.writeUInt16BE(cls, 2);
  return Buffer.concat([encodeName(name), tail]);
}

/** A standard query (RD clear: the target is an authoritative server). */
export function buildQuery(name: string, type: number, id = randomInt(0x10000)): Buffer {
  return Buffer.concat([header(id, 0, [1, 0, 0, 0]), question(name, type, CLASS.IN)]);
}

/** RFC 2136 §2: zone section (the zone's SOA), no prerequisites, the given updates. */
export function buildUpdate(zone: string, updates: RecordSpec[], id = randomInt(0x10000)): Buffer {
  return Buffer.concat([
    header(id, OPCODE.UPDATE << 11, [1, 0, updates.length, 0]),
    question(zone, TYPE.SOA, CLASS.IN),
    ...updates.map(encodeRecord),
  ]);
}

/** Reads a possibly compressed name at `offset`; returns it and the offset after it. */
export function readName(msg: Buffer, offset: number): [string, number] {
  const labels: string[] = [];
  let pos = offset;
  let end = -1;
  for (let jumps = 0; ; ) {
    if (pos >= msg.length) throw new DnsWireError('truncated name');
    const length = msg[pos]!;
    if (length === 0) {
      if (end < 0) end = pos + 1;
      break;
    }
    if ((length & 0xc0) === 0xc0) {
      if (pos + 1 >= msg.length) throw new DnsWireError('truncated name pointer');
      if (++jumps > 64) throw new DnsWireError('name compression loop');
      if (end < 0) end = pos + 2;
      pos = ((length & 0x3f) << 8) | msg[pos + 1]!;
      continue;
    }
    if (length > 63) throw new DnsWireError('invalid label length');
    if (pos + 1 + length > msg.length) throw new DnsWireError('truncated label');
    labels.push(msg.toString('latin1', pos + 1, pos + 1 + length));
    pos += 1 + length;
  }
  return [labels.join('.'), end];
}

function readRecords(msg: Buffer, offset: number, count: number): [ResourceRecord[], number] {
  const out: ResourceRecord[] = [];
  let pos = offset;
  for (let i = 0; i < count; i++) {
    const start = pos;
    const [name, next] = readName(msg, pos);
    if (next + 10 > msg.length) throw new DnsWireError('truncated record');
    const length = msg.readUInt16BE(next + 8);
    const dataOffset = next + 10;
    if (dataOffset + length > msg.length) throw new DnsWireError('truncated RDATA');
    out.push({
      name,
      type: msg.readUInt16BE(next),
      class: msg.readUInt16BE(next + 2),
      ttl: msg.readUInt32BE(next + 4),
      data: msg.subarray(dataOffset, dataOffset + length),
      dataOffset,
      start,
    });
    pos = dataOffset + length;
  }
  return [out, pos];
}

export function parseMessage(msg: Buffer): DnsMessage {
  if (msg.length < 12) throw new DnsWireError('message shorter than its header');
  const flags = msg.readUInt16BE(2);
  let pos = 12;
  const questions: DnsMessage['questions'] = [];
  for (let i = 0, n = msg.readUInt16BE(4); i < n; i++) {
    const [name, next] = readName(msg, pos);
    if (next + 4 > msg.length) throw new DnsWireError('truncated question');
    questions.push({ name, type: msg.readUInt16BE(next), class: msg.readUInt16BE(next + 2) });
    pos = next + 4;
  }
  const [answers, p1] = readRecords(msg, pos, msg.readUInt16BE(6));
  const [authorities, p2] = readRecords(msg, p1, msg.readUInt16BE(8));
  const [additionals] = readRecords(msg, p2, msg.readUInt16BE(10));
  return {
    id: msg.readUInt16BE(0),
    flags,
    opcode: (flags >> 11) & 0xf,
    rcode: flags & 0xf,
    truncated: (flags & 0x0200) !== 0,
    questions,
    answers,
    authorities,
    additionals,
  };
}

// ---------------------------------------------------------------------------
// TSIG (RFC 8945)
// ---------------------------------------------------------------------------

export type TsigAlgorithm = 'hmac-sha256' | 'hmac-sha512';

export interface TsigKey {
  /** Key name as configured on the server, e.g. `acme-update`. */
  name: string;
  algorithm: TsigAlgorithm;
  /** The raw shared secret (base64-decode what the DNS server's configuration holds). */
  secret: Buffer;
}

const TSIG_FUDGE = 300;

function uint48(value: number): Buffer {
  const out = Buffer.alloc(6);
  out.writeUIntBE(value, 0, 6);
  return out;
}

function u16(value: number): Buffer {
  const out = Buffer.alloc(2);
  out.writeUInt16BE(value, 0);
  return out;
}

/** RFC 8945 §4.3.3: the TSIG variables covered by the MAC. */
function tsigVariables(
  key: TsigKey,
  timeSigned: number,
  fudge: number,
  error: number,
  other: Buffer,
): Buffer {
  const classTtl = Buffer.alloc(6);
  classTtl.writeUInt16BE(CLASS.ANY, 0);
  classTtl.writeUInt32BE(0, 2);
  return Buffer.concat([
    encodeName(normalizeName(key.name)),
    classTtl,
    encodeName(key.algorithm),
    uint48(timeSigned),
    u16(fudge),
    u16(error),
    u16(other.length),
    other,
  ]);
}

function mac(key: TsigKey, parts: Buffer[]): Buffer {
  const hmac = createHmac(key.algorithm === 'hmac-sha256' ? 'sha256' : 'sha512', key.secret);
  for (const p of parts) hmac.update(p);
  return hmac.digest();
}

/**
 * Appends a TSIG record to `message` (RFC 8945 §5.1). For a response, pass the request's MAC
 * (§5.3). Returns the signed message and its MAC (needed to verify the answer).
 */
export function signTsig(
  message: Buffer,
  key: TsigKey,
  opts: { requestMac?: Buffer; timeSigned?: number; error?: number } = {},
): { message: Buffer; mac: Buffer } {
  const timeSigned = opts.timeSigned ?? Math.floor(Date.now() / 1000);
  const error = opts.error ?? 0;
  const prefix = opts.requestMac ? [u16(opts.requestMac.length), opts.requestMac] : [];
  const digest = mac(key, [
    ...prefix,
    message,
    tsigVariables(key, timeSigned, TSIG_FUDGE, error, Buffer.alloc(0)),
  ]);
  const rdata = Buffer.concat([
    encodeName(key.algorithm),
    uint48(timeSigned),
    u16(TSIG_FUDGE),
    u16(digest.length),
    digest,
    u16(message.readUInt16BE(0)),
    u16(error),
    u16(0),
  ]);
  const signed = Buffer.concat([
    message,
    encodeRecord({ name: normalizeName(key.name), type: TYPE.TSIG, class: CLASS.ANY, ttl: 0, data: rdata }),
  ]);
  signed.writeUInt16BE(message.readUInt16BE(10) + 1, 10);
  return { message: signed, mac: digest };
}

export interface TsigCheck {
  /** The message carried a TSIG record as its last additional record. */
  signed: boolean;
  /** Its MAC matched, the key name and algorithm are ours and its time is within the fudge. */
  valid: boolean;
  /** The TSIG error field (BADSIG 16, BADKEY 17, BADTIME 18), 0 when none. */
  error: number;
  mac: Buffer | undefined;
  reason?: string;
}

/**
 * Verifies the TSIG of a message (RFC 8945 §5.2 for requests, §5.3 for responses: pass the request's
 * MAC). The MAC covers the message without the TSIG record, with ARCOUNT decremented and the ID
 * replaced by the TSIG's Original ID.
 */
export function verifyTsig(msg: Buffer, key: TsigKey, requestMac?: Buffer, now = Date.now()): TsigCheck {
  const parsed = parseMessage(msg);
  const tsig = parsed.additionals.at(-1);
  if (!tsig || tsig.type !== TYPE.TSIG)
    return { signed: false, valid: false, error: 0, mac: undefined, reason: 'unsigned' };
  const [algorithm, pos] = readName(msg, tsig.dataOffset);
  const end = tsig.dataOffset + tsig.data.length;
  if (pos + 10 > end)
    return { signed: true, valid: false, error: 0, mac: undefined, reason: 'truncated TSIG' };
  const timeSigned = msg.readUIntBE(pos, 6);
  const fudge = msg.readUInt16BE(pos + 6);
  const macSize = msg.readUInt16BE(pos + 8);
  if (pos + 10 + macSize + 6 > end)
    return { signed: true, valid: false, error: 0, mac: undefined, reason: 'truncated TSIG' };
  const theirMac = msg.subarray(pos + 10, pos + 10 + macSize);
  const originalId = msg.readUInt16BE(pos + 10 + macSize);
  const error = msg.readUInt16BE(pos + 12 + macSize);
  const otherLength = msg.readUInt16BE(pos + 14 + macSize);
  const other = msg.subarray(pos + 16 + macSize, pos + 16 + macSize + otherLength);
  const fail = (reason: string): TsigCheck => ({ signed: true, valid: false, error, mac: theirMac, reason });
  if (normalizeName(tsig.name) !== normalizeName(key.name)) return fail(`unknown key ${tsig.name}`);
  if (normalizeName(algorithm) !== key.algorithm) return fail(`algorithm ${algorithm}`);
  if (error !== 0) return fail(`TSIG error ${RCODE_NAMES[error] ?? error}`);
  const unsigned = Buffer.from(msg.subarray(0, tsig.start));
  unsigned.writeUInt16BE(originalId, 0);
  unsigned.writeUInt16BE(parsed.additionals.length - 1, 10);
  const prefix = requestMac ? [u16(requestMac.length), requestMac] : [];
  const expected = mac(key, [...prefix, unsigned, tsigVariables(key, timeSigned, fudge, error, other)]);
  if (theirMac.length !== expected.length || !timingSafeEqual(theirMac, expected)) return fail('bad MAC');
  if (Math.abs(now / 1000 - timeSigned) > fudge) return fail('time outside the fudge window');
  return { signed: true, valid: true, error: 0, mac: theirMac };
}

// ---------------------------------------------------------------------------
// Exchange
// ---------------------------------------------------------------------------

export interface DnsServerAddress {
  host: string;
  port: number;
}

/** Parses `host:port`, `[v6]:port` or a bare host (port 53). */
export function parseServer(server: string): DnsServerAddress {
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(server);
  let host: string;
  let port = 53;
  if (bracketed) {
    host = bracketed[1]!;
    if (bracketed[2]) port = Number(bracketed[2]);
  } else if (isIP(server) === 6) {
    host = server;
  } else {
    const colon = server.lastIndexOf(':');
    host = colon < 0 ? server : server.slice(0, colon);
    if (colon >= 0) port = Number(server.slice(colon + 1));
  }
  if (host === '' || !Number.isInteger(port) || port < 1 || port > 65535)
    throw new TypeError(`invalid DNS server ${JSON.stringify(server)}; expected host:port`);
  return { host, port };
}

const UDP_LIMIT = 512;

/**
 * Sends a message and returns the matching response (same ID): over UDP when it fits in 512 bytes,
 * again over TCP when the answer is truncated, over TCP directly otherwise.
 */
export async function exchange(server: DnsServerAddress, msg: Buffer, timeoutMs: number): Promise<Buffer> {
  if (msg.length <= UDP_LIMIT) {
    const answer = await exchangeUdp(server, msg, timeoutMs);
    if ((answer.readUInt16BE(2) & 0x0200) === 0) return answer;
  }
  return exchangeTcp(server, msg, timeoutMs);
}

function exchangeUdp(server: DnsServerAddress, msg: Buffer, timeoutMs: number): Promise<Buffer> {
  const id = msg.readUInt16BE(0);
  const socket = createSocket(isIP(server.host) === 6 ? 'udp6' : 'udp4');
  return new Promise<Buffer>((resolve, reject) => {
    let settled = false;
    const finish = (error: Error | undefined, answer?: Buffer) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.close();
      if (error) reject(error);
      else resolve(answer!);
    };
    const timer = setTimeout(
      () =>
        finish(new DnsWireError(`no answer from ${server.host}:${server.port} over UDP in ${timeoutMs} ms`)),
      timeoutMs,
    );
    socket.on('error', (error) => finish(error));
    socket.on('message', (answer) => {
      // Ignore stray or spoofed datagrams: only a response header with our ID answers.
      if (answer.length >= 12 && answer.readUInt16BE(0) === id && answer[2]! & 0x80)
        finish(undefined, answer);
    });
    socket.connect(server.port, server.host, () => socket.send(msg));
  });
}

function exchangeTcp(server: DnsServerAddress, msg: Buffer, timeoutMs: number): Promise<Buffer> {
  const id = msg.readUInt16BE(0);
  return new Promise<Buffer>((resolve, reject) => {
    const socket = new Socket();
    let buffered = Buffer.alloc(0);
    let settled = false;
    const finish = (error: Error | undefined, answer?: Buffer) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      if (error) reject(error);
      else resolve(answer!);
    };
    const timer = setTimeout(
      () =>
        finish(new DnsWireError(`no answer from ${server.host}:${server.port} over TCP in ${timeoutMs} ms`)),
      timeoutMs,
    );
    socket.on('error', (error) => finish(error));
    socket.on('data', (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      // A 16-bit length bounds every DNS/TCP message at 65 535 bytes (RFC 1035 §4.2.2).
      while (buffered.length >= 2 && buffered.length >= 2 + buffered.readUInt16BE(0)) {
        const answer = buffered.subarray(2, 2 + buffered.readUInt16BE(0));
        buffered = buffered.subarray(2 + answer.length);
        if (answer.length >= 12 && answer.readUInt16BE(0) === id)
          return finish(undefined, Buffer.from(answer));
      }
    });
    socket.on('end', () =>
      finish(new DnsWireError(`${server.host}:${server.port} closed the TCP connection without an answer`)),
    );
    socket.connect(server.port, server.host, () => socket.write(Buffer.concat([u16(msg.length), msg])));
  });
}
