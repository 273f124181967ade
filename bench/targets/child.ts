/**
 * Child processes of the bench: spawned in their own process group, their output drained and its tail
 * kept for error messages, and every one of them killed when the bench exits, however it exits.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import path from 'node:path';

const TAIL_LINES = 40;
const live = new Set<ChildProcess>();

function killGroup(proc: ChildProcess, signal: NodeJS.Signals): void {
  if (proc.pid === undefined || proc.exitCode !== null || proc.signalCode !== null) return;
  try {
    process.kill(-proc.pid, signal);
  } catch {
    try {
      proc.kill(signal);
    } catch {
      // already gone
    }
  }
}

/** SIGKILLs every child still running (synchronous, so it also works in an 'exit' handler). */
export function killAllChildren(): void {
  for (const proc of live) killGroup(proc, 'SIGKILL');
  live.clear();
}
process.on('exit', killAllChildren);

/** The absolute path of `command` on PATH, or undefined. */
export function findOnPath(command: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (!dir) continue;
    const candidate = path.join(dir, command);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

export class Child {
  readonly name: string;
  readonly proc: ChildProcess;
  readonly exited: Promise<void>;
  readonly #tail: string[] = [];
  readonly #lineListeners = new Set<(line: string) => void>();

  constructor(
    name: string,
    command: string,
    args: string[],
    opts: { cwd?: string; env?: NodeJS.ProcessEnv },
  ) {
    this.name = name;
    this.proc = spawn(command, args, {
      cwd: opts.cwd,
      env: opts.env ?? process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    live.add(this.proc);
    this.exited = new Promise((resolve) => {
      this.proc.once('exit', () => {
        live.delete(this.proc);
        resolve();
      });
      this.proc.once('error', (error) => {
        live.delete(this.proc);
        this.#push(`spawn error: ${error.message}`);
        resolve();
      });
    });
    for (const stream of [this.proc.stdout, this.proc.stderr]) {
      let partial = '';
      stream?.setEncoding('utf8');
      stream?.on('data', (chunk: string) => {
        const lines = (partial + chunk).split('\n');
        partial = lines.pop() ?? '';
        for (const line of lines) this.#push(line);
      });
    }
  }

  get pid(): number {
    if (this.proc.pid === undefined) throw new Error(`${this.name} did not start: ${this.tail()}`);
    return this.proc.pid;
  }

  get running(): boolean {
    return this.proc.exitCode === null && this.proc.signalCode === null && this.proc.pid !== undefined;
  }

  /** The last lines the process printed (stdout and stderr). */
  tail(lines = 10): string {
    return this.#tail.slice(-lines).join('\n');
  }

  #push(line: string): void {
    this.#tail.push(line);
    if (this.#tail.length > TAIL_LINES) this.#tail.shift();
    for (const listener of this.#lineListeners) listener(line);
  }

  /** Resolves with the first output line matching `re` (from now on); rejects on exit or timeout. */
  waitForLine(re: RegExp, timeoutMs: number): Promise<RegExpMatchArray> {
    return new Promise((resolve, reject) => {
      const done = () => {
        clearTimeout(timer);
        this.#lineListeners.delete(onLine);
      };
      const onLine = (line: string) => {
        const match = re.exec(line);
        if (match) {
          done();
          resolve(match);
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`${this.name}: no line matching ${re} within ${timeoutMs} ms\n${this.tail()}`));
      }, timeoutMs);
      this.#lineListeners.add(onLine);
      void this.exited.then(() => {
        if (!this.#lineListeners.has(onLine)) return;
        done();
        reject(new Error(`${this.name} exited (${this.exitDescription()})\n${this.tail()}`));
      });
    });
  }

  exitDescription(): string {
    return this.proc.signalCode ? `signal ${this.proc.signalCode}` : `code ${this.proc.exitCode}`;
  }

  /** SIGTERM, then SIGKILL after `graceMs`. */
  async stop(graceMs = 3000): Promise<void> {
    if (!this.running) return;
    killGroup(this.proc, 'SIGTERM');
    const timer = setTimeout(() => killGroup(this.proc, 'SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(timer);
  }

  /** SIGKILL now (a stalled server gets no grace). */
  async kill(): Promise<void> {
    killGroup(this.proc, 'SIGKILL');
    await this.exited;
  }
}
