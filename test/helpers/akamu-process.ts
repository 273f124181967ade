/**
 * Runs the real `akamu serve` (packages/cli/src/main.ts) as a child process for interop tests: a fresh
 * temporary data directory, an ephemeral HTTPS port, and the URLs it prints once it is ready.
 *
 *   const akamu = await startAkamu({ config: { va: { http01_port: await freePort() } } });
 *   // ... point a client at akamu.directoryUrl, trusting akamu.rootCertPath ...
 *   await akamu.stop();
 */
import { spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join, resolve } from 'node:path';
import { stringify } from 'smol-toml';
import { currentBackend, provisionDatabase } from '../support/databases.ts';

const MAIN = resolve(import.meta.dirname, '../../packages/cli/src/main.ts');
const READY_TIMEOUT_MS = 30_000;
const KILL_AFTER_MS = 5_000;
/** Captured output kept per stream (the tail), so a chatty server cannot exhaust memory. */
const MAX_CAPTURE = 1024 * 1024;

export interface StartAkamuOptions {
  /** TOML sections merged over the defaults, e.g. { va: { http01_port: 5002 }, acme: { retry_after: 0 } }. */
  config?: Record<string, unknown>;
  /** Extra environment for the server (AKAMU_* overrides); inherited AKAMU_* variables are dropped. */
  env?: Record<string, string>;
}

export interface AkamuProcess {
  directoryUrl: string;
  /** The CA root the server's TLS certificate and every issued certificate chain up to. */
  rootCertPath: string;
  dataDir: string;
  /** The TOML file the server was started with. */
  configFile: string;
  pid: number;
  /** Everything the server wrote so far (the tail, for failure messages). */
  readonly stdout: string;
  readonly stderr: string;
  /** How the process ended, once it has: exit code or signal (SIGKILL when SIGTERM was not enough). */
  readonly exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  /** SIGTERM, SIGKILL after 5 s, then removes the temporary directory. Idempotent. */
  stop(): Promise<void>;
}

/** Defaults for a test server; `config` sections are merged over these key by key. */
function testConfig(
  dir: string,
  config: Record<string, unknown>,
  databaseUrl: string | undefined,
): Record<string, unknown> {
  const merged: Record<string, unknown> = {
    data_dir: join(dir, 'akamu-data'),
    server: { host: '127.0.0.1', port: 0, log_level: 'warn' },
    ...(databaseUrl ? { database: { url: databaseUrl } } : {}),
  };
  for (const [key, value] of Object.entries(config)) {
    const base = merged[key];
    merged[key] = isTable(base) && isTable(value) ? { ...base, ...value } : value;
  }
  return merged;
}

function isTable(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export async function startAkamu(opts: StartAkamuOptions = {}): Promise<AkamuProcess> {
  const dir = await mkdtemp(join(tmpdir(), 'akamu-interop-'));
  const configFile = join(dir, 'akamu.toml');
  // The database backend of this test run (TEST_DB_BACKEND): a fresh database, dropped on stop.
  const database = await provisionDatabase(currentBackend());
  await writeFile(configFile, stringify(testConfig(dir, opts.config ?? {}, database.url)));

  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (value !== undefined && !name.startsWith('AKAMU_')) env[name] = value;
  }
  const child = spawn(process.execPath, [MAIN, 'serve', '-c', configFile], {
    cwd: dir,
    env: { ...env, ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const kill = () => child.kill('SIGKILL');
  process.once('exit', kill);

  let stdout = '';
  let stderr = '';
  const append = (acc: string, chunk: Buffer) => (acc + chunk.toString('utf8')).slice(-MAX_CAPTURE);
  // Always drain both pipes: a server blocked on a full pipe would look like a hang.
  child.stdout.on('data', (chunk: Buffer) => {
    stdout = append(stdout, chunk);
  });
  child.stderr.on('data', (chunk: Buffer) => {
    stderr = append(stderr, chunk);
  });
  let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  const exited = new Promise<void>((done) =>
    child.once('close', (code, signal) => {
      exit = { code, signal };
      done();
    }),
  );

  const cleanUp = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const force = setTimeout(kill, KILL_AFTER_MS);
      await exited;
      clearTimeout(force);
    }
    process.off('exit', kill);
    await rm(dir, { recursive: true, force: true });
    await database.drop();
  };

  try {
    const ready = await waitForReady(
      child,
      () => stdout,
      () => stderr,
    );
    let stopped: Promise<void> | undefined;
    return {
      ...ready,
      configFile,
      pid: child.pid!,
      get stdout() {
        return stdout;
      },
      get stderr() {
        return stderr;
      },
      get exit() {
        return exit;
      },
      stop() {
        stopped ??= cleanUp();
        return stopped;
      },
    };
  } catch (error) {
    await cleanUp();
    throw error;
  }
}

/** Resolves with the URLs of the "akamu is ready" block; rejects (with stderr) on exit or timeout. */
function waitForReady(
  child: ReturnType<typeof spawn>,
  stdout: () => string,
  stderr: () => string,
): Promise<{ directoryUrl: string; rootCertPath: string; dataDir: string }> {
  return new Promise((done, fail) => {
    const output = () => `stdout:\n${stdout()}\nstderr:\n${stderr()}`;
    const timer = setTimeout(() => {
      finish();
      fail(new Error(`akamu was not ready after ${READY_TIMEOUT_MS} ms\n${output()}`));
    }, READY_TIMEOUT_MS);
    const onData = () => {
      const text = stdout();
      const start = text.indexOf('akamu is ready\n');
      if (start < 0) return;
      const block = text.slice(start);
      const field = (name: string) => new RegExp(`^  ${name}: (.+)$`, 'm').exec(block)?.[1];
      const directoryUrl = field('directory');
      const rootCertPath = field('root certificate');
      const dataDir = field('data directory');
      // The block is complete once its last line (data directory) has its newline.
      if (!directoryUrl || !rootCertPath || !dataDir || !/^ {2}data directory: .+\n/m.test(block)) return;
      finish();
      done({ directoryUrl, rootCertPath, dataDir });
    };
    const onExit = (code: number | null, signal: NodeJS.Signals | null) => {
      finish();
      fail(new Error(`akamu exited (${code ?? signal}) before it was ready\n${output()}`));
    };
    const onError = (error: Error) => {
      finish();
      fail(new Error(`cannot start akamu: ${error.message}`, { cause: error }));
    };
    function finish() {
      clearTimeout(timer);
      child.stdout?.off('data', onData);
      child.off('exit', onExit);
      child.off('error', onError);
    }
    // Registered after startAkamu's capture listener, so stdout() already holds the new chunk.
    child.stdout?.on('data', onData);
    child.once('exit', onExit);
    child.once('error', onError);
  });
}

/** A free TCP port on 127.0.0.1 (bound, then released). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((done, fail) => {
    server.once('error', fail);
    server.listen(0, '127.0.0.1', done);
  });
  const address = server.address();
  await new Promise((done) => server.close(done));
  if (!address || typeof address !== 'object') throw new Error('no port assigned');
  return address.port;
}

/** Whether an executable named `name` is on PATH. */
export function hasTool(name: string): boolean {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    try {
      accessSync(join(dir, name), constants.X_OK);
      return true;
    } catch {}
  }
  return false;
}

const warned = new Set<string>();

/**
 * true when `name` is on PATH. When it is not: with CI=true, throws (CI must run every interop test, a
 * missing tool is a failure); otherwise prints a loud warning once and returns false, for the caller to
 * skip with an install hint.
 */
export function requireTool(name: string): boolean {
  if (hasTool(name)) return true;
  const message = `${name} is not installed (apt-get install ${name}): its interop tests cannot run`;
  if (process.env.CI === 'true') throw new Error(`${message}, and CI=true requires them`);
  if (!warned.has(name)) process.stderr.write(`\n*** WARNING: ${message}; skipping them ***\n\n`);
  warned.add(name);
  return false;
}
