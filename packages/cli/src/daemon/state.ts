/**
 * The daemon's memory across restarts: `<state_dir>/state.json` (mode 0600, replaced atomically) with
 * each account's URL and each certificate's last issuance, failure count and next retry time.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { configError } from '../lib/exit-codes.ts';
import { writeFileAtomic } from '../lib/files.ts';

export interface AccountRecord {
  directory: string;
  url: string;
  thumbprint: string;
}

export interface CertificateRecord {
  serial?: string;
  notBefore?: string;
  notAfter?: string;
  issuedAt?: string;
  /** Consecutive failed attempts since the last success. */
  failures: number;
  /** No attempt before this time (backoff after a failure). */
  retryAt?: string;
  lastError?: string;
}

export interface DaemonState {
  version: 1;
  accounts: Record<string, AccountRecord>;
  certificates: Record<string, CertificateRecord>;
}

export class StateStore {
  readonly path: string;
  state: DaemonState = { version: 1, accounts: {}, certificates: {} };

  constructor(stateDir: string) {
    this.path = join(stateDir, 'state.json');
  }

  async load(): Promise<void> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw configError(`cannot read ${this.path}: ${(error as Error).message}`, error);
    }
    try {
      const parsed = JSON.parse(text) as DaemonState;
      if (
        parsed.version !== 1 ||
        typeof parsed.accounts !== 'object' ||
        typeof parsed.certificates !== 'object'
      )
        throw new Error('unknown format');
      this.state = parsed;
    } catch (error) {
      throw configError(`${this.path} is not a daemon state file: ${(error as Error).message}`, error);
    }
  }

  certificate(name: string): CertificateRecord {
    this.state.certificates[name] ??= { failures: 0 };
    return this.state.certificates[name];
  }

  async save(): Promise<void> {
    await writeFileAtomic(this.path, `${JSON.stringify(this.state, null, 2)}\n`, 0o600);
  }
}
