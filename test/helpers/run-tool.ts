/**
 * Runs an external program (certbot, lego, openssl) to completion with a hard time limit, so a client
 * that hangs fails the test instead of hanging CI.
 */
import { spawn } from 'node:child_process';

export interface ToolResult {
  command: string;
  /** Exit code; null when the process was killed. */
  code: number | null;
  signal: NodeJS.Signals | null;
  timedOut: boolean;
  stdout: string;
  stderr: string;
}

export interface RunToolOptions {
  env?: Record<string, string>;
  cwd?: string;
  /** Default 120 000; the process is SIGKILLed when it runs longer. */
  timeoutMs?: number;
}

export function runTool(file: string, args: string[], opts: RunToolOptions = {}): Promise<ToolResult> {
  const timeoutMs = opts.timeoutMs ?? 120_000;
  const command = [file, ...args].join(' ');
  return new Promise((done, fail) => {
    const child = spawn(file, args, {
      cwd: opts.cwd,
      env: { ...process.env, ...opts.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString('utf8');
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString('utf8');
    });
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.once('error', (error) => {
      clearTimeout(timer);
      fail(new Error(`cannot run ${file}: ${error.message}`, { cause: error }));
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      done({ command, code, signal, timedOut, stdout, stderr });
    });
  });
}

/** The result, for assertion messages. */
export function describeResult(r: ToolResult, extra = ''): string {
  const status = r.timedOut ? 'timed out (killed)' : `exit ${r.code ?? r.signal}`;
  return `${r.command}: ${status}\n--- stdout ---\n${r.stdout}\n--- stderr ---\n${r.stderr}${extra}`;
}

/** Runs the tool and throws, with its whole output, unless it exits 0. */
export async function runToolOk(
  file: string,
  args: string[],
  opts: RunToolOptions = {},
): Promise<ToolResult> {
  const r = await runTool(file, args, opts);
  if (r.code !== 0) throw new Error(describeResult(r));
  return r;
}
