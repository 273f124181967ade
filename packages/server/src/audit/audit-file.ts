import { closeSync, fstatSync, openSync, writeSync } from 'node:fs';
import type { AuditRecord } from '../core/audit.ts';

/**
 * `[audit] file`: every committed audit event appended as one JSON line. The file is opened once for
 * appending (created with mode 0600) and each line is one write(2) on an O_APPEND descriptor, so lines
 * of several processes sharing the file never interleave. Called after the commit of the change, never
 * for a rolled-back one; a failed write is reported to `onError` and does not undo the committed change.
 */
export class AuditFile {
  readonly #fd: number;
  readonly #onError: (err: unknown) => void;
  #closed = false;

  constructor(file: string, onError: (err: unknown) => void) {
    this.#fd = openSync(file, 'a', 0o600);
    if (!fstatSync(this.#fd).isFile()) {
      closeSync(this.#fd);
      throw new Error(`audit.file ${file} is not a regular file`);
    }
    this.#onError = onError;
  }

  /** Appends the events, one line each, in order. */
  append(events: readonly AuditRecord[]): void {
    if (this.#closed) return;
    for (const event of events) {
      const line = Buffer.from(`${JSON.stringify(event)}\n`);
      try {
        const written = writeSync(this.#fd, line);
        if (written !== line.length)
          throw new Error(`short write to the audit file (${written} of ${line.length} bytes)`);
      } catch (e) {
        this.#onError(e);
      }
    }
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    closeSync(this.#fd);
  }
}
