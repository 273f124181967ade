/**
 * The CPU cost of the pieces every ACME issuance is made of, each measured alone on this machine: the
 * ECDSA signature checks and the signature, the HTTPS requests, the http-01 request a validation makes,
 * and SQLite's single-row commit and read. `npm run bench` measures them after the servers, in the same
 * phase of the machine, and prints them with their sum per issuance: the CPU an issuance costs in this
 * stack before any code joins them together (docs/benchmarks.md, "The primitives"). `npm run
 * bench:primitives` runs them alone. Rows counted 0 times are shown for comparison.
 */
import { createPublicKey, generateKeyPairSync, sign, verify } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { Agent as HttpAgent, request as httpRequest } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest, type RequestOptions } from 'node:https';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { fileURLToPath } from 'node:url';
import { processTreeCpuMs } from './cpu.ts';
import { median, table } from './report.ts';
import { Child } from './targets/child.ts';

const repoRoot = fileURLToPath(new URL('../', import.meta.url));

export interface PrimitiveResult {
  name: string;
  /** Microseconds of CPU per operation (the median of the repeats). */
  cpuMicros: number;
  /** How many an issuance needs at least; 0 for a row shown for comparison only. */
  perIssuance: number;
  /** Storage rows are summed apart: how few statements a server needs is a design choice, not the protocol's. */
  storage: boolean;
  /** Operations measured (all repeats). */
  operations: number;
}

/** One measurement: CPU per operation, and how many operations it took. */
interface Sample {
  cpuMicros: number;
  operations: number;
}

export interface PrimitivesReport {
  results: PrimitiveResult[];
  /** Milliseconds of CPU per issuance: signatures and HTTP alone, then with the fewest SQLite statements. */
  protocolMs: number;
  withStorageMs: number;
}

export interface PrimitiveOptions {
  /** Seconds of work per repeat (default 1). */
  seconds?: number;
  repeats?: number;
  /** Concurrent keep-alive connections for the HTTPS rows (the bench's concurrency 8). */
  connections?: number;
}

/**
 * The fewest SQLite statements a server that persists every state change of RFC 8555's flow makes, if it
 * folds each request's nonce into another write: the account, the order with its authorization, the
 * challenge's result and the certificate (4 commits); the authorization read for the challenge and the
 * poll, the order read at finalize and the certificate read at download (4 reads).
 */
const FEWEST_COMMITS = 4;
const FEWEST_READS = 4;

/** Runs the primitives one after the other; each result is the median of `repeats` timed repeats. */
export async function measurePrimitives(opts: PrimitiveOptions = {}): Promise<PrimitivesReport> {
  const seconds = opts.seconds ?? 1;
  const repeats = opts.repeats ?? 3;
  const connections = opts.connections ?? 8;
  const workDir = mkdtempSync(path.join(tmpdir(), 'akamu-primitives-'));
  try {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const message = Buffer.alloc(400, 0x61); // a JWS signing input's size
    const der = sign('sha256', message, privateKey);
    const raw = sign('sha256', message, { key: privateKey, dsaEncoding: 'ieee-p1363' });
    const spki = publicKey.export({ type: 'spki', format: 'pem' });
    const results: PrimitiveResult[] = [];
    const inProcess = async (name: string, perIssuance: number, op: () => unknown, storage = false) =>
      results.push({ name, perIssuance, storage, ...(await repeat(repeats, () => cpuPerCall(op, seconds))) });

    // RFC 8555 §6.2: seven JWS requests (account, order, authorization, challenge, poll, finalize,
    // download) and the CSR's own signature (§7.4) are checked; one certificate is signed.
    await inProcess('ECDSA P-256 verification (DER signature)', 8, () =>
      mustBeTrue(verify('sha256', message, publicKey, der)),
    );
    await inProcess('  the same, JWS r||s given to node:crypto as is', 0, () =>
      mustBeTrue(verify('sha256', message, { key: publicKey, dsaEncoding: 'ieee-p1363' }, raw)),
    );
    await inProcess('ECDSA P-256 signature (the certificate)', 1, () => sign('sha256', message, privateKey));
    // akamu imports a new account's JWK as SPKI PEM, node:crypto's cheapest form (wfe/jws.ts).
    await inProcess('P-256 public key import (the new account)', 1, () => createPublicKey(spki));

    for (const [mode, name, perIssuance] of [
      ['fastify', 'HTTPS request, keep-alive (Fastify 5, as akamu)', 8],
      ['node', '  the same on bare node:https', 0],
    ] as const) {
      const server = await startServer(mode, workDir);
      try {
        results.push({
          name,
          perIssuance,
          storage: false,
          ...(await repeat(repeats, () => serverCpuPerRequest(server, seconds, connections))),
        });
      } finally {
        await server.child.stop();
      }
    }
    const http = await startServer('http', workDir);
    try {
      results.push({
        name: 'http-01 request made by the server (node:http)',
        perIssuance: 1,
        storage: false,
        ...(await repeat(repeats, () => clientCpuPerRequest(http, seconds))),
      });
    } finally {
      await http.child.stop();
    }

    const db = openWal(path.join(workDir, 'primitives.sqlite'));
    try {
      const insert = db.prepare('insert into rows (k, v) values (?, ?)');
      const read = db.prepare('select v from rows where k = ?');
      let n = 0;
      await inProcess(
        'SQLite commit of one row (WAL, synchronous NORMAL)',
        FEWEST_COMMITS,
        () => insert.run(`${++n}`.padStart(24, '0'), 'x'.repeat(200)),
        true,
      );
      await inProcess(
        'SQLite primary-key read',
        FEWEST_READS,
        () => mustBeTrue(read.get(`${1 + (n++ % 1000)}`.padStart(24, '0')) !== undefined),
        true,
      );
    } finally {
      db.close();
    }
    return { results, ...perIssuance(results) };
  } finally {
    rmSync(workDir, { recursive: true, force: true });
  }
}

/** The sums per issuance: every row with a count, without and with SQLite's. */
export function perIssuance(results: PrimitiveResult[]): { protocolMs: number; withStorageMs: number } {
  let protocolMs = 0;
  let storageMs = 0;
  for (const r of results) {
    const ms = msPerIssuance(r);
    if (r.storage) storageMs += ms;
    else protocolMs += ms;
  }
  return { protocolMs, withStorageMs: protocolMs + storageMs };
}

/** What a row costs one issuance, in milliseconds. */
function msPerIssuance(r: PrimitiveResult): number {
  return (r.cpuMicros * r.perIssuance) / 1000;
}

/** BENCH_PRIMITIVES=0 leaves the primitives out of `npm run bench`. */
export function primitivesBenchEnabled(): boolean {
  return process.env.BENCH_PRIMITIVES !== '0';
}

export function formatPrimitives(report: PrimitivesReport): string {
  const rows = report.results.map((r) => [
    r.name,
    r.cpuMicros.toFixed(1),
    r.perIssuance > 0 ? String(r.perIssuance) : '-',
    r.perIssuance > 0 ? msPerIssuance(r).toFixed(3) : '-',
  ]);
  return [
    'Primitives, each alone (CPU per operation, the median of the repeats; docs/benchmarks.md, "The primitives")',
    table(['primitive', 'µs CPU/op', 'per issuance', 'ms/iss'], rows),
    `signatures and HTTP of one issuance: ${report.protocolMs.toFixed(2)} ms; with ${FEWEST_COMMITS} commits and ${FEWEST_READS} reads: ${report.withStorageMs.toFixed(2)} ms`,
  ].join('\n');
}

function mustBeTrue(ok: boolean): void {
  if (!ok) throw new Error('a primitive did not do its work');
}

async function repeat(times: number, once: () => Promise<Sample> | Sample): Promise<Sample> {
  const all: Sample[] = [];
  for (let i = 0; i < times; i++) all.push(await once());
  return {
    cpuMicros: median(all.map((r) => r.cpuMicros))!,
    operations: all.reduce((sum, r) => sum + r.operations, 0),
  };
}

/** This process's CPU per call of a synchronous `op`, after a warm-up, over at least `seconds` of CPU. */
function cpuPerCall(op: () => unknown, seconds: number): Sample {
  for (let i = 0; i < 200; i++) op();
  const start = process.cpuUsage();
  let operations = 0;
  let used = 0;
  while (used < seconds * 1e6) {
    for (let i = 0; i < 100; i++) op();
    operations += 100;
    const u = process.cpuUsage(start);
    used = u.user + u.system;
  }
  return { cpuMicros: used / operations, operations };
}

interface PrimitiveServer {
  child: Child;
  port: number;
  ca?: string;
}

async function startServer(mode: 'node' | 'fastify' | 'http', workDir: string): Promise<PrimitiveServer> {
  const child = new Child(
    `primitives-${mode}`,
    process.execPath,
    [path.join(repoRoot, 'bench/primitives-server.ts'), mode, path.join(workDir, mode)],
    { cwd: repoRoot },
  );
  try {
    const root = mode === 'http' ? undefined : child.waitForLine(/^root certificate: (\S+)/, 30_000);
    const port = Number((await child.waitForLine(/^port: (\d+)/, 30_000))[1]);
    return { child, port, ca: root ? readFileSync((await root)[1]!, 'utf8') : undefined };
  } catch (error) {
    await child.kill();
    throw error;
  }
}

const BODY = JSON.stringify({
  protected: 'e'.repeat(240),
  payload: 'p'.repeat(160),
  signature: 's'.repeat(86),
}); // a flattened JWS of the bench's size

/** Sends one request over `agent` and waits for the whole of its 200 answer. */
function exchange(send: typeof httpsRequest, options: RequestOptions, body?: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = send({ host: '127.0.0.1', timeout: 10_000, ...options }, (res) => {
      if (res.statusCode !== 200) reject(new Error(`HTTP ${res.statusCode}`));
      res.resume();
      res.on('end', resolve);
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
    req.end(body);
  });
}

function post(agent: HttpsAgent, port: number): Promise<void> {
  const headers = { 'content-type': 'application/jose+json', 'content-length': Buffer.byteLength(BODY) };
  const options = { servername: 'localhost', port, path: '/acme/authz/0', method: 'POST', agent, headers };
  return exchange(httpsRequest, options, BODY);
}

/** The server's CPU per request: `connections` keep-alive connections, each one request at a time. */
async function serverCpuPerRequest(
  server: PrimitiveServer,
  seconds: number,
  connections: number,
): Promise<Sample> {
  const agent = new HttpsAgent({ keepAlive: true, maxSockets: connections, ca: server.ca });
  try {
    const burst = async (deadline: number) => {
      let operations = 0;
      await Promise.all(
        Array.from({ length: connections }, async () => {
          while (performance.now() < deadline) {
            await post(agent, server.port);
            operations++;
          }
        }),
      );
      return operations;
    };
    await burst(performance.now() + 1000); // both ends warm: V8 optimizes the server over the first thousands of requests
    const before = processTreeCpuMs(server.child.pid);
    const operations = await burst(performance.now() + seconds * 1000);
    const cpuMs = processTreeCpuMs(server.child.pid) - before;
    return { cpuMicros: (cpuMs * 1000) / operations, operations };
  } finally {
    agent.destroy();
  }
}

function get(agent: HttpAgent, port: number): Promise<void> {
  return exchange(httpRequest, { port, path: '/.well-known/acme-challenge/token', agent });
}

/** This process's CPU per GET (one at a time over a keep-alive connection, as akamu's validator). */
async function clientCpuPerRequest(server: PrimitiveServer, seconds: number): Promise<Sample> {
  const agent = new HttpAgent({ keepAlive: true, maxSockets: 1 });
  try {
    for (let i = 0; i < 200; i++) await get(agent, server.port);
    const start = process.cpuUsage();
    const deadline = performance.now() + seconds * 1000;
    let operations = 0;
    while (performance.now() < deadline) {
      await get(agent, server.port);
      operations++;
    }
    const u = process.cpuUsage(start);
    return { cpuMicros: (u.user + u.system) / operations, operations };
  } finally {
    agent.destroy();
  }
}

/** An SQLite file set up as akamu sets its database up (sa/connect.ts), with one table of short rows. */
function openWal(file: string): DatabaseSync {
  const db = new DatabaseSync(file);
  db.exec('PRAGMA journal_mode = WAL');
  db.exec('PRAGMA synchronous = NORMAL');
  db.exec('create table rows (k text primary key, v text not null) without rowid');
  return db;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const report = await measurePrimitives();
  process.stdout.write(`${formatPrimitives(report)}\n`);
}
