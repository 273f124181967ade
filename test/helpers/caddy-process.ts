/**
 * Runs Caddy (Debian package `caddy`) with a Caddyfile for an interop test: its HOME and XDG directories
 * inside the test's directory (the machine's Caddy state and trust store are not touched), its log
 * captured for failure messages, stopped with SIGTERM (SIGKILL after 5 s).
 */
import { spawn } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

const KILL_AFTER_MS = 5_000;
/** Captured log kept (the tail), so a chatty Caddy cannot exhaust memory. */
const MAX_CAPTURE = 1024 * 1024;

export interface CaddyProcess {
  /** Everything Caddy logged so far (the tail). */
  readonly log: string;
  /** Idempotent. */
  stop(): Promise<void>;
}

/** Writes `<dir>/Caddyfile` from `lines` and starts `caddy run` on it, with `env` added to its environment. */
export async function startCaddy(
  dir: string,
  lines: string[],
  env: Record<string, string> = {},
): Promise<CaddyProcess> {
  const home = join(dir, 'home');
  await mkdir(home, { recursive: true });
  const caddyfile = join(dir, 'Caddyfile');
  await writeFile(caddyfile, `${lines.join('\n')}\n`);
  const child = spawn('caddy', ['run', '--config', caddyfile, '--adapter', 'caddyfile'], {
    cwd: dir,
    env: { ...process.env, HOME: home, XDG_DATA_HOME: home, XDG_CONFIG_HOME: home, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  const capture = (chunk: Buffer) => {
    log = (log + chunk.toString('utf8')).slice(-MAX_CAPTURE);
  };
  child.stdout.on('data', capture);
  child.stderr.on('data', capture);
  const closed = new Promise<void>((done) => child.once('close', () => done()));
  let stopped: Promise<void> | undefined;
  return {
    get log() {
      return log;
    },
    stop() {
      stopped ??= (async () => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        child.kill('SIGTERM');
        const force = setTimeout(() => child.kill('SIGKILL'), KILL_AFTER_MS);
        await closed;
        clearTimeout(force);
      })();
      return stopped;
    },
  };
}
