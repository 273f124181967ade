/**
 * Starts a real Pebble (letsencrypt/pebble, Debian package `pebble`) on free loopback ports for tests,
 * benchmarks and CLI tests. Its TLS certificate is generated per instance with openssl; pass
 * `pebble.caBundle` as the client's caBundle.
 *
 *   describe('x', { skip: pebbleSkipReason() }, () => {
 *     let pebble: Pebble;
 *     before(async () => { pebble = await startPebble({ httpPort: solver.port }); });
 *     after(() => pebble?.stop());
 *   });
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { get } from 'node:https';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface PebbleOptions {
  /** Port Pebble's VA connects to for http-01 (the Http01Solver's port). */
  httpPort: number;
  /** Port Pebble's VA connects to for tls-alpn-01. Default: a free port nobody listens on. */
  tlsPort?: number;
  /** Extra environment, e.g. { PEBBLE_ALTERNATE_ROOTS: '1', PEBBLE_WFE_ORDERS_PER_PAGE: '2' }. */
  env?: Record<string, string>;
  /** EAB kid -> base64url MAC key; when given, Pebble requires external account binding. */
  externalAccountMACKeys?: Record<string, string>;
  /** `-dnsserver host:port` for DNS identifiers. */
  dnsServer?: string;
  /** Default: $PEBBLE_BIN, else `pebble` from PATH. */
  binary?: string;
  /** Default 15 000. */
  startTimeoutMs?: number;
}

export interface Pebble {
  directoryUrl: string;
  /** Base URL of Pebble's management interface (same TLS certificate). */
  managementUrl: string;
  /** PEM of the self-signed certificate Pebble serves: trust it as the client's caBundle. */
  caBundle: string;
  /** Pebble's (per-launch) root CA, PEM. */
  rootCertificate(): Promise<string>;
  /** Pebble's view of a certificate by hex serial: {Status: 'Valid' | 'Revoked', Reason?, ...}. */
  certificateStatus(serialHex: string): Promise<{ Status: string; Reason?: number; Serial: string }>;
  /** The last lines Pebble logged (for failure messages). */
  logs(): string;
  stop(): Promise<void>;
}

/** Absolute path of the pebble binary, or undefined. */
export function findPebble(binary = process.env.PEBBLE_BIN ?? 'pebble'): string | undefined {
  const candidates = binary.includes('/')
    ? [binary]
    : (process.env.PATH ?? '').split(delimiter).map((dir) => join(dir, binary));
  for (const path of candidates) {
    try {
      accessSync(path, constants.X_OK);
      return path;
    } catch {}
  }
  return undefined;
}

/**
 * For `describe(name, { skip: pebbleSkipReason() }, ...)`: false when pebble is installed, else a
 * skip message (also printed to stderr). With CI=true a missing pebble throws instead: CI must run
 * these tests.
 */
let warned = false;

export function pebbleSkipReason(): string | false {
  if (findPebble()) return false;
  const message =
    'pebble is not installed (apt-get install pebble, or set PEBBLE_BIN): skipping Pebble tests';
  if (process.env.CI === 'true')
    throw new Error(`${message.split(':')[0]}, and CI=true requires these tests`);
  if (!warned) process.stderr.write(`\n*** ${message} ***\n\n`);
  warned = true;
  return message;
}

/** A free TCP port on 127.0.0.1 (bound then released). */
/**
 * A loopback port that is free now, for a server another process will start later (Pebble's validation
 * targets, a responder). Chosen below Linux's ephemeral range (32768–60999), where outgoing connections of
 * tests running alongside take their local ports, so one cannot occupy it before its server binds it.
 */
export async function freePort(): Promise<number> {
  for (let attempt = 0; ; attempt++) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    const server = createServer();
    const bound = await new Promise<boolean>((resolve) => {
      server.once('error', () => resolve(false));
      server.listen(port, '127.0.0.1', () => resolve(true));
    });
    if (bound) {
      await new Promise((resolve) => server.close(resolve));
      return port;
    }
    if (attempt >= 50) throw new Error('no free port between 20000 and 32000');
  }
}

export async function startPebble(opts: PebbleOptions): Promise<Pebble> {
  const binary = findPebble(opts.binary);
  if (!binary)
    throw new Error(`pebble binary not found (${opts.binary ?? process.env.PEBBLE_BIN ?? 'pebble'})`);
  const dir = await mkdtemp(join(tmpdir(), 'akamu-pebble-'));
  let child: ChildProcess | undefined;
  const kill = () => child?.kill('SIGKILL');
  try {
    const certFile = join(dir, 'cert.pem');
    const keyFile = join(dir, 'key.pem');
    // biome-ignore format: flags read as pairs
    const opensslArgs = [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
      '-keyout', keyFile, '-out', certFile, '-days', '7', '-subj', '/CN=localhost',
      '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1',
    ];
    await run('openssl', opensslArgs);
    const caBundle = await readFile(certFile, 'utf8');
    const [listenPort, managementPort, tlsPort] = [
      await freePort(),
      await freePort(),
      opts.tlsPort ?? (await freePort()),
    ];
    const eab = opts.externalAccountMACKeys;
    const config = {
      pebble: {
        listenAddress: `127.0.0.1:${listenPort}`,
        managementListenAddress: `127.0.0.1:${managementPort}`,
        certificate: certFile,
        privateKey: keyFile,
        httpPort: opts.httpPort,
        tlsPort,
        ocspResponderURL: '',
        externalAccountBindingRequired: eab !== undefined,
        ...(eab ? { externalAccountMACKeys: eab } : {}),
      },
    };
    const configFile = join(dir, 'pebble-config.json');
    await writeFile(configFile, JSON.stringify(config));

    const args = ['-config', configFile, ...(opts.dnsServer ? ['-dnsserver', opts.dnsServer] : [])];
    child = spawn(binary, args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, PEBBLE_VA_NOSLEEP: '1', PEBBLE_WFE_NONCEREJECT: '0', ...opts.env },
    });
    process.once('exit', kill);
    const proc = child;
    const lines: string[] = [];
    const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    const ready = new Promise<void>((resolve, reject) => {
      let partial = '';
      const onData = (chunk: Buffer) => {
        const text = partial + chunk.toString('utf8');
        const parts = text.split('\n');
        partial = parts.pop() ?? '';
        for (const line of parts) {
          lines.push(line);
          if (lines.length > 300) lines.shift();
          if (line.includes('ACME directory available at')) resolve();
        }
      };
      // Always drain both pipes: Pebble logs every request and would block on a full pipe.
      proc.stdout?.on('data', onData);
      proc.stderr?.on('data', onData);
      proc.once('error', reject);
      proc.once('exit', (code, signal) =>
        reject(new Error(`pebble exited (${code ?? signal}) before it was ready:\n${lines.join('\n')}`)),
      );
    });
    const timeoutMs = opts.startTimeoutMs ?? 15_000;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      ready,
      new Promise((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`pebble not ready after ${timeoutMs} ms:\n${lines.join('\n')}`)),
          timeoutMs,
        );
      }),
    ]).finally(() => clearTimeout(timer));

    // Pebble logs its URLs just before it starts listening: wait until the directory answers.
    const directoryUrl = `https://127.0.0.1:${listenPort}/dir`;
    for (let attempt = 0; ; attempt++) {
      try {
        await httpsGet(directoryUrl, caBundle);
        break;
      } catch (error) {
        if (attempt >= 100 || proc.exitCode !== null)
          throw new Error(`pebble directory unreachable:\n${lines.join('\n')}`, { cause: error });
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    }

    const managementUrl = `https://127.0.0.1:${managementPort}`;
    const fetchText = (path: string) => httpsGet(`${managementUrl}${path}`, caBundle);
    let stopped: Promise<void> | undefined;
    return {
      directoryUrl,
      managementUrl,
      caBundle,
      rootCertificate: () => fetchText('/roots/0'),
      certificateStatus: async (serial) => JSON.parse(await fetchText(`/cert-status-by-serial/${serial}`)),
      logs: () => lines.join('\n'),
      stop() {
        stopped ??= (async () => {
          if (proc.exitCode === null && proc.signalCode === null) {
            proc.kill('SIGTERM');
            const force = setTimeout(() => proc.kill('SIGKILL'), 3000);
            await exited;
            clearTimeout(force);
          }
          process.off('exit', kill);
          await rm(dir, { recursive: true, force: true });
        })();
        return stopped;
      },
    };
  } catch (error) {
    kill();
    process.off('exit', kill);
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
}

function httpsGet(url: string, ca: string): Promise<string> {
  return new Promise((resolve, reject) => {
    get(url, { ca, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        if ((res.statusCode ?? 0) >= 400) reject(new Error(`GET ${url}: HTTP ${res.statusCode} ${body}`));
        else resolve(body);
      });
      res.on('error', reject);
    }).on('error', reject);
  });
}
