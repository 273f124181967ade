/** Runs the `akamu` CLI as a child process on the pinned Node (process.execPath), without blocking the event loop. */
import { spawn } from 'node:child_process';

export const MAIN = new URL('../../src/main.ts', import.meta.url).pathname;

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** stdout parsed as the one JSON object of --json (undefined when it is not JSON). */
  json: Record<string, unknown> | undefined;
}

export function runCli(
  args: string[],
  opts: { cwd?: string; env?: Record<string, string>; timeoutMs?: number } = {},
): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [MAIN, ...args], {
      cwd: opts.cwd,
      env: { ...process.env, ...opts.env },
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: opts.timeoutMs ?? 120_000,
      killSignal: 'SIGKILL',
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => {
      stdout += c.toString('utf8');
    });
    child.stderr.on('data', (c: Buffer) => {
      stderr += c.toString('utf8');
    });
    child.once('error', reject);
    child.once('close', (code, signal) => {
      let json: Record<string, unknown> | undefined;
      try {
        json = JSON.parse(stdout) as Record<string, unknown>;
      } catch {}
      resolve({ code, signal, stdout, stderr, json });
    });
  });
}

/** For assertion messages. */
export function show(r: CliResult): string {
  return `exit ${r.code ?? r.signal}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`;
}

/** `error.kind` of a --json failure ("config", "network", "validation", ...). */
export function errorKind(r: CliResult): string | undefined {
  return (r.json?.error as { kind?: string } | undefined)?.kind;
}
