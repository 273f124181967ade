/**
 * What a command prints: progress on stderr when it is a terminal (or with --verbose), the result on
 * stdout — human text, or with --json exactly one JSON object — and errors mapped to exit codes.
 */
import { writeSync } from 'node:fs';
import { describeError, exitCodeFor } from './exit-codes.ts';

export interface OutputOptions {
  json?: boolean;
  verbose?: boolean;
}

export class Output {
  readonly json: boolean;
  readonly #progress: boolean;

  constructor(opts: OutputOptions) {
    this.json = opts.json === true;
    this.#progress = opts.verbose === true || (process.stderr.isTTY === true && !this.json);
  }

  /** A step under way ("validating www.example.com"); only shown on a terminal or with --verbose. */
  progress(message: string): void {
    if (this.#progress) writeSync(2, `akamu: ${message}\n`);
  }

  /** The command's result: `value` as one JSON line with --json, else the human lines. */
  result(value: Record<string, unknown>, human: string[]): void {
    if (this.json) writeSync(1, `${JSON.stringify({ ok: true, ...value })}\n`);
    else if (human.length > 0) writeSync(1, `${human.join('\n')}\n`);
  }

  /** Reports `error` (stderr, and the JSON object on stdout with --json) and returns its exit code. */
  fail(error: unknown): number {
    const code = exitCodeFor(error);
    const described = describeError(error);
    writeSync(2, `akamu: ${described.message as string}\n`);
    if (this.json) writeSync(1, `${JSON.stringify({ ok: false, exitCode: code, error: described })}\n`);
    return code;
  }
}

/** Runs a command body with an Output; sets process.exitCode from whatever it throws. */
export async function runCommand(opts: OutputOptions, body: (out: Output) => Promise<void>): Promise<void> {
  const out = new Output(opts);
  try {
    await body(out);
  } catch (error) {
    process.exitCode = out.fail(error);
  }
}
