import { createHmac, timingSafeEqual } from 'node:crypto';
import dgram from 'node:dgram';
import net from 'node:net';
import dnsPacket from 'dns-packet';

/**
 * A small authoritative DNS server for tests: real DNS over UDP and TCP on 127.0.0.1 (RFC 1035, encoded
 * with dns-packet), so node:dns, lego, certbot hooks and knsupdate talk to it as to any name server.
 *
 * - Every name is in a zone whose apex is its last two labels (`_acme-challenge.www.example.test` is in
 *   `example.test`); SOA records are synthesized at each apex, so zone discovery (lego) works.
 * - Answers are authoritative (AA). NXDOMAIN for a name with no records and no records below it, NODATA
 *   (NOERROR, no answer, SOA in authority) for an existing name or empty non-terminal (RFC 8020).
 * - CNAMEs are chased in the answer section (RFC 1034 §4.3.2), at most 8 links.
 * - UDP answers larger than 512 bytes (or the EDNS payload size) are truncated (TC) so the client retries
 *   over TCP.
 * - RFC 2136 dynamic UPDATE: add and delete TXT, A, AAAA, CNAME and CAA records, delete RRsets and names;
 *   with `tsig`, every update must carry a valid HMAC-SHA256 TSIG (RFC 8945) and the answer is signed.
 */

type Rcode = 'SERVFAIL' | 'REFUSED';
interface Caa {
  flags: number;
  tag: string;
  value: string;
}
interface Node {
  A: string[];
  AAAA: string[];
  TXT: Buffer[][];
  CNAME?: string;
  CAA: Caa[];
}
interface Tsig {
  name: string;
  algorithm: 'hmac-sha256';
  secret: Buffer;
}

const RCODE = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5, NOTAUTH: 9 };
const OPCODE = { QUERY: 0, UPDATE: 5 };
const AA = 1 << 10;
const TC = 1 << 9;
const RD = 1 << 8;
const TTL = 1;
const TSIG_TYPE = 250;
const CLASS_ANY = 255;
const CLASS_NONE = 254;
const TSIG_BADSIG = 16;
const TSIG_BADKEY = 17;
const TSIG_BADTIME = 18;

const norm = (name: string) => name.toLowerCase().replace(/\.$/, '');

function apexOf(name: string): string {
  const labels = name.split('.');
  return labels.length <= 2 ? name : labels.slice(-2).join('.');
}

export class TestDnsServer {
  readonly host = '127.0.0.1' as const;
  readonly port: number;
  readonly #udp: dgram.Socket;
  readonly #tcp: net.Server;
  readonly #tsig: Tsig | undefined;
  readonly #nodes = new Map<string, Node>();
  readonly #failures = new Map<string, Rcode>();
  readonly #sockets = new Set<net.Socket>();

  private constructor(udp: dgram.Socket, tcp: net.Server, port: number, tsig: Tsig | undefined) {
    this.#udp = udp;
    this.#tcp = tcp;
    this.port = port;
    this.#tsig = tsig ? { ...tsig, name: norm(tsig.name) } : undefined;
    udp.on('message', (msg, rinfo) => {
      const out = this.#handle(msg, 'udp');
      if (out) udp.send(out, rinfo.port, rinfo.address);
    });
    tcp.on('connection', (socket) => this.#serveTcp(socket));
  }

  /** Listens on UDP and TCP on the same port (a free one unless `port` is given). */
  static async start(opts: { port?: number; tsig?: Tsig } = {}): Promise<TestDnsServer> {
    for (let attempt = 0; ; attempt++) {
      const udp = dgram.createSocket('udp4');
      await new Promise<void>((resolve, reject) => {
        udp.once('error', reject);
        udp.bind(opts.port ?? 0, '127.0.0.1', () => resolve());
      });
      const port = udp.address().port;
      const tcp = net.createServer();
      try {
        await new Promise<void>((resolve, reject) => {
          tcp.once('error', reject);
          tcp.listen(port, '127.0.0.1', () => resolve());
        });
      } catch (e) {
        udp.close();
        if (opts.port !== undefined || attempt >= 10) throw e;
        continue;
      }
      return new TestDnsServer(udp, tcp, port, opts.tsig);
    }
  }

  /** Replaces the TXT RRset; each value is one record, split into 255-octet character-strings. */
  setTxt(name: string, values: string[]): void {
    this.#node(name).TXT = values.map(splitTxt);
  }

  /** Removes one TXT record (by its joined value) or, without a value, the whole RRset. */
  removeTxt(name: string, value?: string): void {
    const node = this.#nodes.get(norm(name));
    if (!node) return;
    node.TXT = value === undefined ? [] : node.TXT.filter((r) => Buffer.concat(r).toString() !== value);
    this.#prune(norm(name));
  }

  setA(name: string, addresses: string[]): void {
    this.#node(name).A = [...addresses];
  }

  setAAAA(name: string, addresses: string[]): void {
    this.#node(name).AAAA = [...addresses];
  }

  setCname(name: string, target: string): void {
    this.#node(name).CNAME = norm(target);
  }

  setCaa(name: string, records: { flags: number; tag: string; value: string }[]): void {
    this.#node(name).CAA = records.map((r) => ({ ...r }));
  }

  /** Every query for this name (any type) is answered with this rcode. */
  failWith(name: string, rcode: Rcode): void {
    this.#failures.set(norm(name), rcode);
  }

  clear(): void {
    this.#nodes.clear();
    this.#failures.clear();
  }

  async stop(): Promise<void> {
    for (const s of this.#sockets) s.destroy();
    await Promise.all([
      new Promise<void>((resolve) => this.#udp.close(() => resolve())),
      new Promise<void>((resolve) => this.#tcp.close(() => resolve())),
    ]);
  }

  #node(name: string): Node {
    const key = norm(name);
    let node = this.#nodes.get(key);
    if (!node) {
      node = { A: [], AAAA: [], TXT: [], CAA: [] };
      this.#nodes.set(key, node);
    }
    return node;
  }

  #prune(key: string): void {
    const n = this.#nodes.get(key);
    if (n && !n.A.length && !n.AAAA.length && !n.TXT.length && !n.CAA.length && n.CNAME === undefined) {
      this.#nodes.delete(key);
    }
  }

  /** A name exists when it has records or a name below it has (an empty non-terminal, RFC 8020). */
  #exists(name: string): boolean {
    if (this.#nodes.has(name) || apexOf(name) === name) return true;
    const suffix = `.${name}`;
    for (const k of this.#nodes.keys()) if (k.endsWith(suffix)) return true;
    return false;
  }

  #serveTcp(socket: net.Socket): void {
    this.#sockets.add(socket);
    socket.setTimeout(10_000, () => socket.destroy());
    socket.on('close', () => this.#sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    let pending = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      while (pending.length >= 2) {
        const len = pending.readUInt16BE(0);
        if (pending.length < 2 + len) break;
        const msg = pending.subarray(2, 2 + len);
        pending = pending.subarray(2 + len);
        const out = this.#handle(msg, 'tcp');
        if (out) {
          const framed = Buffer.alloc(2 + out.length);
          framed.writeUInt16BE(out.length, 0);
          out.copy(framed, 2);
          socket.write(framed);
        }
      }
    });
  }

  #handle(msg: Buffer, transport: 'udp' | 'tcp'): Buffer | undefined {
    let req: dnsPacket.Packet;
    try {
      req = dnsPacket.decode(msg);
    } catch {
      if (msg.length < 12) return undefined;
      return header(msg.readUInt16BE(0), 0, RCODE.FORMERR);
    }
    if (req.type === 'response') return undefined;
    const opcode = ((req.flags ?? 0) >> 11) & 0xf;
    if (opcode === OPCODE.UPDATE) {
      try {
        return this.#update(msg, req);
      } catch {
        return this.#reply(req, RCODE.FORMERR, [], []);
      }
    }
    if (opcode !== OPCODE.QUERY) return this.#reply(req, RCODE.NOTIMP, [], []);
    const q = req.questions?.[0];
    if (!q) return this.#reply(req, RCODE.FORMERR, [], []);
    const { rcode, answers, authorities } = this.#answer(norm(q.name), q.type);
    let out = this.#reply(req, rcode, answers, authorities);
    if (transport === 'udp') {
      const opt = req.additionals?.find((a) => a.type === 'OPT') as { udpPayloadSize?: number } | undefined;
      const limit = Math.max(512, opt?.udpPayloadSize ?? 512);
      if (out.length > limit) out = this.#reply(req, rcode, [], [], TC);
    }
    return out;
  }

  #answer(
    qname: string,
    qtype: string,
  ): { rcode: number; answers: dnsPacket.Answer[]; authorities: dnsPacket.Answer[] } {
    const answers: dnsPacket.Answer[] = [];
    let name = qname;
    for (let hops = 0; ; hops++) {
      const failure = this.#failures.get(name);
      if (failure) return { rcode: RCODE[failure], answers: [], authorities: [] };
      const node = this.#nodes.get(name);
      if (node?.CNAME !== undefined && qtype !== 'CNAME' && hops < 8) {
        answers.push({ name, type: 'CNAME', ttl: TTL, class: 'IN', data: node.CNAME });
        name = node.CNAME;
        continue;
      }
      const found = node ? this.#records(name, node, qtype) : [];
      if (qtype === 'SOA' && apexOf(name) === name) found.push(soa(name));
      answers.push(...found);
      if (found.length > 0 || answers.length > 0) {
        return { rcode: RCODE.NOERROR, answers, authorities: found.length ? [] : [soa(apexOf(name))] };
      }
      const rcode = this.#exists(name) ? RCODE.NOERROR : RCODE.NXDOMAIN;
      return { rcode, answers, authorities: [soa(apexOf(name))] };
    }
  }

  #records(name: string, node: Node, qtype: string): dnsPacket.Answer[] {
    const base = { name, ttl: TTL, class: 'IN' as const };
    const out: dnsPacket.Answer[] = [];
    if (qtype === 'A' || qtype === 'ANY') for (const a of node.A) out.push({ ...base, type: 'A', data: a });
    if (qtype === 'AAAA' || qtype === 'ANY') {
      for (const a of node.AAAA) out.push({ ...base, type: 'AAAA', data: a });
    }
    if (qtype === 'TXT' || qtype === 'ANY')
      for (const t of node.TXT) out.push({ ...base, type: 'TXT', data: t });
    if (qtype === 'CAA' || qtype === 'ANY') {
      for (const c of node.CAA) {
        out.push({
          ...base,
          type: 'CAA',
          data: { flags: c.flags, tag: c.tag as 'issue', value: c.value },
        });
      }
    }
    if (qtype === 'CNAME' && node.CNAME !== undefined) {
      out.push({ ...base, type: 'CNAME', data: node.CNAME });
    }
    return out;
  }

  #reply(
    req: dnsPacket.Packet,
    rcode: number,
    answers: dnsPacket.Answer[],
    authorities: dnsPacket.Answer[],
    extraFlags = 0,
  ): Buffer {
    const opcode = ((req.flags ?? 0) >> 11) & 0xf;
    const flags = (opcode << 11) | AA | ((req.flags ?? 0) & RD) | extraFlags | rcode;
    return dnsPacket.encode({
      type: 'response',
      id: req.id,
      flags,
      questions: req.questions ?? [],
      answers: extraFlags & TC ? [] : answers,
      authorities: extraFlags & TC ? [] : authorities,
    });
  }

  // ---- RFC 2136 UPDATE ----

  #update(msg: Buffer, req: dnsPacket.Packet): Buffer {
    const additionals = req.additionals ?? [];
    const tsigRr = additionals.at(-1)?.type === 'TSIG' ? additionals.at(-1) : undefined;
    let signed: { keyName: string; mac: Buffer; timeSigned: bigint; fudge: number } | undefined;
    if (this.#tsig) {
      if (!tsigRr) return this.#reply(req, RCODE.REFUSED, [], []);
      const v = verifyTsig(msg, this.#tsig);
      if (v.error !== 0) {
        return signResponse(
          this.#reply(req, RCODE.NOTAUTH, [], []),
          this.#tsig,
          v,
          v.error === TSIG_BADSIG || v.error === TSIG_BADKEY,
        );
      }
      signed = v;
    }
    const zone = req.questions?.[0];
    const reply = (rcode: number) => {
      const out = this.#reply(req, rcode, [], []);
      return signed && this.#tsig ? signResponse(out, this.#tsig, { ...signed, error: 0 }, false) : out;
    };
    if (zone?.type !== 'SOA') return reply(RCODE.FORMERR);
    const zoneName = norm(zone.name);
    const updates = (req.authorities ?? []) as (dnsPacket.Answer & { class?: string; data?: unknown })[];
    for (const u of updates) {
      const name = norm(u.name);
      if (name !== zoneName && !name.endsWith(`.${zoneName}`)) return reply(10 /* NOTZONE */);
    }
    for (const u of updates) this.#applyUpdate(u);
    return reply(RCODE.NOERROR);
  }

  #applyUpdate(u: dnsPacket.Answer & { class?: string; data?: unknown }): void {
    const name = norm(u.name);
    const cls = u.class as string;
    if (cls === 'ANY') {
      // RFC 2136 §2.5.2 / §2.5.3: delete an RRset, or every RRset of the name.
      const node = this.#nodes.get(name);
      if (!node) return;
      if ((u.type as string) === 'ANY') this.#nodes.delete(name);
      else {
        clearType(node, u.type);
        this.#prune(name);
      }
      return;
    }
    if (cls === `UNKNOWN_${CLASS_NONE}`) {
      // §2.5.4: delete one RR.
      const node = this.#nodes.get(name);
      if (!node) return;
      if (u.type === 'TXT') {
        const value = txtValue(u.data);
        node.TXT = node.TXT.filter((r) => Buffer.concat(r).toString() !== value);
      } else if (u.type === 'A') node.A = node.A.filter((a) => a !== u.data);
      else if (u.type === 'AAAA') node.AAAA = node.AAAA.filter((a) => a !== u.data);
      else if (u.type === 'CNAME') node.CNAME = undefined;
      else if (u.type === 'CAA') {
        const c = u.data as Caa;
        node.CAA = node.CAA.filter((r) => !(r.tag === c.tag && r.value === c.value));
      }
      this.#prune(name);
      return;
    }
    // §2.5.1: add to an RRset.
    const node = this.#node(name);
    if (u.type === 'TXT') {
      const parts = (Array.isArray(u.data) ? u.data : [u.data]) as (string | Buffer)[];
      const record = parts.map((p) => Buffer.from(p));
      const joined = Buffer.concat(record).toString();
      if (!node.TXT.some((r) => Buffer.concat(r).toString() === joined)) node.TXT.push(record);
    } else if (u.type === 'A' && !node.A.includes(u.data as string)) node.A.push(u.data as string);
    else if (u.type === 'AAAA' && !node.AAAA.includes(u.data as string)) node.AAAA.push(u.data as string);
    else if (u.type === 'CNAME') node.CNAME = norm(u.data as string);
    else if (u.type === 'CAA') {
      const c = u.data as Caa;
      node.CAA.push({ flags: c.flags ?? 0, tag: c.tag, value: c.value });
    }
  }
}

function clearType(node: Node, type: string): void {
  if (type === 'TXT') node.TXT = [];
  else if (type === 'A') node.A = [];
  else if (type === 'AAAA') node.AAAA = [];
  else if (type === 'CNAME') node.CNAME = undefined;
  else if (type === 'CAA') node.CAA = [];
}

function txtValue(data: unknown): string {
  const parts = (Array.isArray(data) ? data : [data]) as (string | Buffer)[];
  return Buffer.concat(parts.map((p) => Buffer.from(p))).toString();
}

/** RFC 1035 §3.3.14: a TXT record is a sequence of character-strings of at most 255 octets. */
function splitTxt(value: string): Buffer[] {
  const bytes = Buffer.from(value);
  if (bytes.length === 0) return [Buffer.alloc(0)];
  const out: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += 255) out.push(bytes.subarray(i, i + 255));
  return out;
}

function soa(apex: string): dnsPacket.Answer {
  return {
    name: apex,
    type: 'SOA',
    ttl: TTL,
    class: 'IN',
    data: {
      mname: `ns.${apex}`,
      rname: `hostmaster.${apex}`,
      serial: 1,
      refresh: 3600,
      retry: 600,
      expire: 86400,
      minimum: TTL,
    },
  };
}

function header(id: number, flags: number, rcode: number): Buffer {
  const b = Buffer.alloc(12);
  b.writeUInt16BE(id, 0);
  b.writeUInt16BE(0x8000 | flags | rcode, 2);
  return b;
}

// ---- TSIG (RFC 8945) ----

/** Wire form of a name, uncompressed and lower-cased (RFC 8945 §4.3.3 canonical form). */
function wireName(name: string): Buffer {
  const parts = norm(name)
    .split('.')
    .filter((l) => l.length > 0)
    .map((l) => {
      const b = Buffer.from(l);
      return Buffer.concat([Buffer.from([b.length]), b]);
    });
  return Buffer.concat([...parts, Buffer.from([0])]);
}

function readName(buf: Buffer, offset: number): { name: string; end: number } {
  const labels: string[] = [];
  let end = -1;
  let i = offset;
  for (let guard = 0; guard < 128; guard++) {
    const len = buf[i]!;
    if (len === 0) {
      if (end < 0) end = i + 1;
      return { name: labels.join('.'), end };
    }
    if ((len & 0xc0) === 0xc0) {
      if (end < 0) end = i + 2;
      i = ((len & 0x3f) << 8) | buf[i + 1]!;
      continue;
    }
    labels.push(buf.toString('latin1', i + 1, i + 1 + len));
    i += 1 + len;
  }
  throw new Error('name too long');
}

/** Offset of the last additional record (the TSIG RR) in a message. */
function lastRecordOffset(msg: Buffer): number {
  const counts = [4, 6, 8, 10].map((o) => msg.readUInt16BE(o));
  let i = 12;
  for (let q = 0; q < counts[0]!; q++) i = readName(msg, i).end + 4;
  const rrs = counts[1]! + counts[2]! + counts[3]! - 1;
  for (let r = 0; r < rrs; r++) {
    i = readName(msg, i).end;
    i += 10 + msg.readUInt16BE(i + 8);
  }
  return i;
}

interface TsigCheck {
  error: number;
  keyName: string;
  mac: Buffer;
  timeSigned: bigint;
  fudge: number;
}

function verifyTsig(msg: Buffer, key: Tsig): TsigCheck {
  const start = lastRecordOffset(msg);
  const { name: keyName, end } = readName(msg, start);
  const rdStart = end + 10;
  const alg = readName(msg, rdStart);
  let i = alg.end;
  const timeSigned = (BigInt(msg.readUInt16BE(i)) << 32n) | BigInt(msg.readUInt32BE(i + 2));
  const fudge = msg.readUInt16BE(i + 6);
  const macLen = msg.readUInt16BE(i + 8);
  const mac = msg.subarray(i + 10, i + 10 + macLen);
  i += 10 + macLen;
  const originalId = msg.readUInt16BE(i);
  const otherLen = msg.readUInt16BE(i + 4);
  const other = msg.subarray(i + 6, i + 6 + otherLen);
  const base = { keyName, mac, timeSigned, fudge };
  if (norm(keyName) !== key.name || norm(alg.name) !== key.algorithm) return { ...base, error: TSIG_BADKEY };
  const stripped = Buffer.from(msg.subarray(0, start));
  stripped.writeUInt16BE(originalId, 0);
  stripped.writeUInt16BE(msg.readUInt16BE(10) - 1, 10);
  const expected = createHmac('sha256', key.secret)
    .update(stripped)
    .update(tsigVariables(keyName, alg.name, timeSigned, fudge, msg.readUInt16BE(i + 2), other))
    .digest();
  if (mac.length !== expected.length || !timingSafeEqual(mac, expected))
    return { ...base, error: TSIG_BADSIG };
  const now = BigInt(Math.floor(Date.now() / 1000));
  const skew = now > timeSigned ? now - timeSigned : timeSigned - now;
  if (skew > BigInt(fudge)) return { ...base, error: TSIG_BADTIME };
  return { ...base, error: 0 };
}

function tsigVariables(
  keyName: string,
  algorithm: string,
  timeSigned: bigint,
  fudge: number,
  error: number,
  other: Buffer,
): Buffer {
  const fixed = Buffer.alloc(6);
  fixed.writeUInt16BE(CLASS_ANY, 0);
  const timers = Buffer.alloc(12);
  timers.writeUInt16BE(Number(timeSigned >> 32n), 0);
  timers.writeUInt32BE(Number(timeSigned & 0xffffffffn), 2);
  timers.writeUInt16BE(fudge, 6);
  timers.writeUInt16BE(error, 8);
  timers.writeUInt16BE(other.length, 10);
  return Buffer.concat([wireName(keyName), fixed, wireName(algorithm), timers, other]);
}

/**
 * Appends a TSIG RR to a response (RFC 8945 §5.3): the MAC covers the request MAC, the response and the
 * TSIG variables. A BADSIG/BADKEY answer carries an empty MAC (§5.3.2).
 */
function signResponse(out: Buffer, key: Tsig, req: TsigCheck, unsigned: boolean): Buffer {
  const alg = `${key.algorithm}.`;
  let mac = Buffer.alloc(0);
  if (!unsigned) {
    const reqMacLen = Buffer.alloc(2);
    reqMacLen.writeUInt16BE(req.mac.length, 0);
    mac = createHmac('sha256', key.secret)
      .update(reqMacLen)
      .update(req.mac)
      .update(out)
      .update(tsigVariables(req.keyName, alg, req.timeSigned, req.fudge, req.error, Buffer.alloc(0)))
      .digest();
  }
  const algWire = wireName(alg);
  const rdata = Buffer.alloc(algWire.length + 16 + mac.length);
  algWire.copy(rdata, 0);
  let i = algWire.length;
  rdata.writeUInt16BE(Number(req.timeSigned >> 32n), i);
  rdata.writeUInt32BE(Number(req.timeSigned & 0xffffffffn), i + 2);
  rdata.writeUInt16BE(req.fudge, i + 6);
  rdata.writeUInt16BE(mac.length, i + 8);
  mac.copy(rdata, i + 10);
  i += 10 + mac.length;
  rdata.writeUInt16BE(out.readUInt16BE(0), i);
  rdata.writeUInt16BE(req.error, i + 2);
  rdata.writeUInt16BE(0, i + 4);
  const rrHead = Buffer.alloc(10);
  rrHead.writeUInt16BE(TSIG_TYPE, 0);
  rrHead.writeUInt16BE(CLASS_ANY, 2);
  rrHead.writeUInt32BE(0, 4);
  rrHead.writeUInt16BE(rdata.length, 8);
  const signed = Buffer.concat([out, wireName(req.keyName), rrHead, rdata]);
  signed.writeUInt16BE(out.readUInt16BE(10) + 1, 10);
  return signed;
}
