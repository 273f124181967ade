/**
 * The revocation part of `npm run bench` (docs/benchmarks.md): a CRL of 100,000 revoked certificates,
 * inserted straight into a fresh SQLite database through the storage layer, then
 *  - how long a CRL build takes (read the rows, encode every entry, sign), in this process;
 *  - GET /ca/crl requests/s from the server's in-memory copy, over keep-alive HTTPS;
 *  - POST /ca/ocsp responses/s from the server's response cache, over keep-alive HTTPS, and with a
 *    fresh nonce per request (signed per request) for comparison;
 * against `akamu serve` started as a child process on that database. BENCH_REVOCATION=0 skips it.
 */
import { createHash, randomBytes, X509Certificate } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import {
  explicit,
  integer,
  NULL,
  octetString,
  oid,
  pemToDer,
  readChildren,
  readWhole,
  sequence,
  TAG,
} from '@akamu/protocol';
import { CrlSigner } from '../packages/server/src/ca/crl.ts';
import { generateKeyPair } from '../packages/server/src/ca/key-type.ts';
import { CrlService, FULL_CRL } from '../packages/server/src/revocation/crl-service.ts';
import { migrateToLatest, openDatabase } from '../packages/server/src/sa/database.ts';
import { SqlStorageAuthority } from '../packages/server/src/sa/sql-storage-authority.ts';
import { processTreeCpuMs } from './cpu.ts';
import { akamu } from './targets/akamu.ts';

export interface RevocationBenchResult {
  revoked: number;
  crlBuildMs: number[];
  /** Of each build: reading the rows from SQLite. */
  crlReadMs: number[];
  crlBytes: number;
  crl: LoadResult;
  ocsp: LoadResult;
  /** Requests with a fresh nonce each: signed per request, not from the cache. */
  ocspNonce: LoadResult;
}

interface LoadResult {
  concurrency: number;
  seconds: number;
  requests: number;
  perSecond: number;
  serverCpuMsPerRequest: number;
  errors: number;
}

const REVOKED = Number(process.env.BENCH_REVOCATION_ENTRIES ?? 100_000);
const SECONDS = Number(process.env.BENCH_REVOCATION_SECONDS ?? 5);
const DAY = 86_400_000;

export function revocationBenchEnabled(): boolean {
  return process.env.BENCH_REVOCATION !== '0';
}

/** Inserts `count` revoked certificates and one good one; returns the good one's serial. */
async function populate(
  dbFile: string,
  count: number,
): Promise<{ goodSerial: string; revokedSerial: string }> {
  const { db } = openDatabase(`sqlite:${dbFile}`);
  await migrateToLatest(db);
  const now = Date.now();
  const row = (serial: string, revoked: boolean, i: number) => ({
    id: `bench${i.toString(36)}`,
    serial,
    account_id: 'bench',
    order_id: `benchorder${i.toString(36)}`,
    pem: '',
    not_before: now - DAY,
    not_after: now + 90 * DAY,
    status: revoked ? 'revoked' : 'valid',
    revoked_at: revoked ? now - (i % 1000) * 60_000 : null,
    revocation_reason: revoked ? [0, 1, 4, 5][i % 4]! : null,
    created_at: now - DAY,
  });
  const serial = () => {
    const b = randomBytes(16);
    b[0] = (b[0]! & 0x7f) | 0x01;
    return b.toString('hex');
  };
  const goodSerial = serial();
  let revokedSerial = '';
  await db.transaction().execute(async (trx) => {
    const batch: ReturnType<typeof row>[] = [];
    for (let i = 0; i < count; i++) {
      const s = serial();
      if (i === 0) revokedSerial = s;
      batch.push(row(s, true, i));
      if (batch.length === 500 || i === count - 1) {
        await trx.insertInto('certificates').values(batch).execute();
        batch.length = 0;
      }
    }
    await trx
      .insertInto('certificates')
      .values(row(goodSerial, false, count))
      .execute();
  });
  await db.destroy();
  return { goodSerial, revokedSerial };
}

/** CRL builds through the same code the server runs (CrlService over SqlStorageAuthority), timed. */
async function timeBuilds(
  dbFile: string,
  runs: number,
): Promise<{ ms: number[]; readMs: number[]; bytes: number }> {
  const { db } = openDatabase(`sqlite:${dbFile}`);
  const sa = new SqlStorageAuthority(db);
  const key = generateKeyPair('ec:P-256').privateKey;
  const issuerName = sequence();
  const service = new CrlService({
    sa,
    signer: new CrlSigner({ issuerName, authorityKeyId: createHash('sha1').update('bench').digest(), key }),
    clock: { now: () => Date.now() },
    lifetimeMs: DAY,
    refreshMs: 3_600_000,
    shards: 1,
    shardUrl: () => undefined,
    onError: (err) => {
      throw err;
    },
  });
  const ms: number[] = [];
  const readMs: number[] = [];
  let bytes = 0;
  for (let i = 0; i < runs; i++) {
    service.revoked(); // the next get() waits for a fresh build
    const crl = await service.get(FULL_CRL);
    ms.push(service.lastBuildMs);
    readMs.push(service.lastReadMs);
    bytes = crl!.der.length;
  }
  await service.stop();
  await db.destroy();
  return { ms, readMs, bytes };
}

/** An OCSP request (RFC 6960 §4.1.1) for one serial, SHA-1 CertID, no nonce: what RFC 5019 clients send. */
function ocspCertId(issuerPem: string, serialHex: string): Buffer {
  const issuer = new X509Certificate(issuerPem);
  const der = issuer.raw;
  const spki = issuer.publicKey.export({ type: 'spki', format: 'der' });
  const spkiTlv = readWhole(spki, TAG.SEQUENCE, 'spki');
  const bits = readChildren(spki, spkiTlv)[1]!;
  const keyHash = createHash('sha1')
    .update(spki.subarray(bits.contentStart + 1, bits.end))
    .digest();
  const nameHash = createHash('sha1').update(subjectName(der)).digest();
  const certId = sequence(
    sequence(oid('1.3.14.3.2.26'), NULL),
    octetString(nameHash),
    octetString(keyHash),
    integer(Buffer.from(serialHex, 'hex')),
  );
  return certId;
}

/** The OCSPRequest for one CertID, with a nonce extension (RFC 8954) when given. */
function ocspRequest(certId: Buffer, nonce?: Buffer): Buffer {
  if (!nonce) return sequence(sequence(sequence(sequence(certId))));
  const nonceExt = sequence(oid('1.3.6.1.5.5.7.48.1.2'), octetString(octetString(nonce)));
  return sequence(sequence(sequence(sequence(certId)), explicit(2, sequence(nonceExt))));
}

function subjectName(certDer: Buffer): Buffer {
  const cert = readWhole(certDer, TAG.SEQUENCE, 'Certificate');
  const tbs = readChildren(certDer, cert)[0]!;
  const fields = readChildren(certDer, tbs);
  const start = fields[0]?.tag === 0xa0 ? 1 : 0;
  const subject = fields[start + 4]!;
  return certDer.subarray(subject.start, subject.end);
}

function fetchOnce(url: string, ca: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    https
      .get(url, { ca, agent: false }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          res.statusCode === 200
            ? resolve(Buffer.concat(chunks))
            : reject(new Error(`${url}: ${res.statusCode}`)),
        );
      })
      .on('error', reject);
  });
}

/** `concurrency` loops sending the same request over keep-alive connections for `seconds`. */
async function load(
  url: string,
  ca: string,
  pid: number,
  concurrency: number,
  seconds: number,
  request: { method: 'GET' | 'POST'; body?: () => Buffer; check: (status: number, body: Buffer) => boolean },
): Promise<LoadResult> {
  const agent = new https.Agent({ keepAlive: true, maxSockets: concurrency, ca });
  const once = () =>
    new Promise<boolean>((resolve) => {
      const body = request.body?.();
      const headers: Record<string, string> = body
        ? { 'content-type': 'application/ocsp-request', 'content-length': String(body.length) }
        : {};
      const req = https.request(url, { method: request.method, agent, headers }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve(request.check(res.statusCode!, Buffer.concat(chunks))));
        res.on('error', () => resolve(false));
      });
      req.on('error', () => resolve(false));
      req.end(body);
    });
  // Warm-up: connections opened, caches filled.
  await Promise.all(Array.from({ length: concurrency }, once));
  let requests = 0;
  let errors = 0;
  const cpuBefore = processTreeCpuMs(pid);
  const started = performance.now();
  const deadline = started + seconds * 1000;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < deadline) {
        if (await once()) requests++;
        else errors++;
      }
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  const cpu = processTreeCpuMs(pid) - cpuBefore;
  agent.destroy();
  return {
    concurrency,
    seconds: Number(elapsed.toFixed(2)),
    requests,
    perSecond: Number((requests / elapsed).toFixed(1)),
    serverCpuMsPerRequest: Number((cpu / Math.max(1, requests)).toFixed(3)),
    errors,
  };
}

export async function benchRevocation(
  workRoot: string,
  log: (message: string) => void,
): Promise<RevocationBenchResult> {
  const workDir = path.join(workRoot, 'revocation');
  const dataDir = path.join(workDir, 'akamu-data');
  mkdirSync(dataDir, { recursive: true });
  const dbFile = path.join(dataDir, 'akamu.db');
  log(`revocation: inserting ${REVOKED} revoked certificates`);
  const { goodSerial, revokedSerial } = await populate(dbFile, REVOKED);
  log('revocation: timing CRL builds');
  const builds = await timeBuilds(dbFile, 3);
  log('revocation: starting akamu');
  const server = await akamu.start({ workDir, http01Port: 9 });
  try {
    const base = server.directoryUrl.replace(/\/acme\/directory$/, '');
    const issuerPem = readFileSync(path.join(dataDir, 'ca', 'intermediate.pem'), 'utf8');
    if (pemToDer(issuerPem).length === 0) throw new Error('no intermediate certificate');
    const first = await fetchOnce(`${base}/ca/crl`, server.caBundle);
    const crlBytes = first.length;
    const crlCheck = (status: number, body: Buffer) => status === 200 && body.length === crlBytes;
    log(`revocation: GET /ca/crl (${(crlBytes / 1e6).toFixed(2)} MB) for ${SECONDS} s`);
    const crl = await load(`${base}/ca/crl`, server.caBundle, server.pid, 4, SECONDS, {
      method: 'GET',
      check: crlCheck,
    });
    log(`revocation: POST /ca/ocsp for ${SECONDS} s`);
    const goodId = ocspCertId(issuerPem, goodSerial);
    const good = ocspRequest(goodId);
    const revoked = ocspRequest(ocspCertId(issuerPem, revokedSerial));
    let i = 0;
    const bodies = [good, revoked];
    // OCSPResponse whose responseStatus (ENUMERATED) is successful (0): the cached signed response.
    const ocspCheck = (status: number, body: Buffer) => {
      if (status !== 200) return false;
      const first = readChildren(body, readWhole(body, TAG.SEQUENCE, 'OCSPResponse'))[0];
      return first?.tag === 0x0a && first.length === 1 && body[first.contentStart] === 0;
    };
    const ocsp = await load(`${base}/ca/ocsp`, server.caBundle, server.pid, 16, SECONDS, {
      method: 'POST',
      body: () => bodies[i++ % 2]!,
      check: ocspCheck,
    });
    log(`revocation: POST /ca/ocsp with a nonce for ${SECONDS} s`);
    const ocspNonce = await load(`${base}/ca/ocsp`, server.caBundle, server.pid, 16, SECONDS, {
      method: 'POST',
      body: () => ocspRequest(goodId, randomBytes(16)),
      check: ocspCheck,
    });
    return {
      ocspNonce,
      revoked: REVOKED,
      crlBuildMs: builds.ms.map((m) => Number(m.toFixed(1))),
      crlReadMs: builds.readMs.map((m) => Number(m.toFixed(1))),
      crlBytes,
      crl,
      ocsp,
    };
  } finally {
    await server.stop();
  }
}

export function formatRevocation(r: RevocationBenchResult): string {
  const row = (name: string, l: LoadResult) =>
    `${name.padEnd(14)} ${String(l.concurrency).padStart(4)}  ${l.perSecond.toFixed(1).padStart(9)}  ${l.serverCpuMsPerRequest.toFixed(3).padStart(14)}  ${String(l.errors).padStart(6)}`;
  return [
    `Revocation: CRL of ${r.revoked} revoked certificates, ${(r.crlBytes / 1e6).toFixed(2)} MB; ` +
      `build (read rows + encode + sign) ${r.crlBuildMs.join(' / ')} ms, of which reading the rows ${r.crlReadMs.join(' / ')} ms`,
    'request        conc      req/s  srv CPU ms/req  errors',
    '-------------  ----  ---------  --------------  ------',
    row('GET /ca/crl', r.crl),
    row('POST /ca/ocsp', r.ocsp),
    row('  with nonce', r.ocspNonce),
  ].join('\n');
}
