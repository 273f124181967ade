/**
 * Runs the configured [[hook]]s for an event: the executable directly (no shell; a script runs through
 * its own shebang), its data in AKAMU_* environment variables, {placeholders} in its arguments
 * replaced by the same values (docs/daemon.md), a time limit, and its output captured for the log.
 */
import { spawn } from 'node:child_process';
import type { HookEvent } from './config.ts';

export interface HookSpec {
  name: string;
  cmd: string;
  args: string[];
  events: HookEvent[];
  allow_failure: boolean;
}

export interface HookResult {
  hook: string;
  exitCode: number | null;
  signal: string | null;
  output: string;
}

const MAX_OUTPUT = 8 * 1024;

/** The environment variable name for a data key: cert_file → AKAMU_CERT_FILE. */
export function envName(key: string): string {
  return `AKAMU_${key.toUpperCase()}`;
}

/** Replaces {key} in an argument with the data value (unknown placeholders are left as they are). */
export function expandArgument(arg: string, data: Record<string, string>): string {
  return arg.replace(/\{([a-z_]+)\}/g, (whole, key: string) => data[key] ?? whole);
}

export class HookError extends Error {
  readonly result: HookResult;
  constructor(message: string, result: HookResult) {
    super(message);
    this.name = 'HookError';
    this.result = result;
  }
}

export function runHook(
  hook: HookSpec,
  data: Record<string, string>,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<HookResult> {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const [key, value] of Object.entries(data)) env[envName(key)] = value;
  const args = hook.args.map((a) => expandArgument(a, data));
  return new Promise((resolve, reject) => {
    let output = '';
    const child = spawn(hook.cmd, args, {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: timeoutMs,
      signal,
      killSignal: 'SIGKILL',
    });
    const take = (chunk: Buffer) => {
      output = (output + chunk.toString('utf8')).slice(-MAX_OUTPUT);
    };
    child.stdout.on('data', take);
    child.stderr.on('data', take);
    child.once('error', (error) => {
      const result = { hook: hook.name, exitCode: null, signal: null, output };
      reject(new HookError(`hook ${hook.name} (${hook.cmd}) could not run: ${error.message}`, result));
    });
    child.once('close', (exitCode, sig) => {
      const result = { hook: hook.name, exitCode, signal: sig, output: output.trim() };
      if (exitCode === 0) resolve(result);
      else
        reject(
          new HookError(
            `hook ${hook.name} (${hook.cmd}) ${sig ? `was killed by ${sig}${sig === 'SIGKILL' ? ` (time limit ${timeoutMs} ms?)` : ''}` : `exited with ${exitCode}`}${output ? `: ${output.trim().slice(-500)}` : ''}`,
            result,
          ),
        );
    });
  });
}
