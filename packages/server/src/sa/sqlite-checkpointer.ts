/**
 * WAL checkpoints off the event loop. SQLite's automatic checkpoint runs inside the COMMIT that crosses
 * `wal_autocheckpoint` pages, and with synchronous=NORMAL that is where the WAL and the database file are
 * fsynced: node:sqlite is synchronous, so that one COMMIT held up every request for 5–20 ms (measured:
 * commit p99 7 ms, max 17 ms, under the issuance bench). The server's connection therefore runs with
 * `wal_autocheckpoint = 0`, and a worker thread with its own connection to the same file runs PASSIVE
 * checkpoints (https://sqlite.org/wal.html#ckpt): they never block the writer and copy only what no
 * reader still needs; the writer restarts the WAL from its beginning once all of it is checkpointed.
 * Should the worker die, the caller gets `onFailure` and turns automatic checkpoints back on.
 */
import { Worker } from 'node:worker_threads';

/** How often the worker looks at the WAL's size. */
export const CHECKPOINT_INTERVAL_MS = 200;
/** The WAL size from which the worker checkpoints: SQLite's own default of 1000 pages of 4 KiB. */
export const CHECKPOINT_MIN_WAL_BYTES = 1000 * 4096;

// Plain JavaScript run with `eval: true`, so the same code works from the .ts sources and the built .js.
const WORKER_SOURCE = `
const { workerData, parentPort } = require('node:worker_threads');
const { DatabaseSync } = require('node:sqlite');
const { statSync } = require('node:fs');
const db = new DatabaseSync(workerData.file);
db.exec('PRAGMA busy_timeout = 5000');
const checkpoint = db.prepare('PRAGMA wal_checkpoint(PASSIVE)');
function walSize() {
  try {
    return statSync(workerData.file + '-wal').size;
  } catch {
    return 0;
  }
}
let checkpointedAt = -1;
function run(force) {
  const size = walSize();
  // The WAL file keeps its size once the writer restarts it; checkpoint again only once it has grown.
  if (!force && (size < workerData.minWalBytes || size === checkpointedAt)) return;
  checkpoint.get();
  checkpointedAt = walSize();
}
const timer = setInterval(() => run(false), workerData.intervalMs);
parentPort.on('message', (message) => {
  if (message !== 'close') return;
  clearInterval(timer);
  try {
    run(true);
  } finally {
    db.close();
    parentPort.close();
  }
});
`;

export interface Checkpointer {
  /** Runs a last checkpoint and stops the worker. */
  close(): Promise<void>;
}

export interface CheckpointerOptions {
  intervalMs?: number;
  minWalBytes?: number;
  /** The worker failed or exited on its own: nothing checkpoints the WAL any more. */
  onFailure: (error: Error) => void;
}

/** Starts the checkpoint worker for an SQLite database file in WAL mode (not for `:memory:`). */
export function startCheckpointer(file: string, opts: CheckpointerOptions): Checkpointer {
  const worker = new Worker(WORKER_SOURCE, {
    eval: true,
    workerData: {
      file,
      intervalMs: opts.intervalMs ?? CHECKPOINT_INTERVAL_MS,
      minWalBytes: opts.minWalBytes ?? CHECKPOINT_MIN_WAL_BYTES,
    },
  });
  worker.unref();
  let closing = false;
  let failed = false;
  const fail = (error: Error) => {
    if (closing || failed) return;
    failed = true;
    opts.onFailure(error);
  };
  worker.on('error', fail);
  const exited = new Promise<void>((resolve) =>
    worker.once('exit', (code) => {
      fail(new Error(`the SQLite checkpoint worker exited with code ${code}`));
      resolve();
    }),
  );
  return {
    async close() {
      if (closing) return exited;
      closing = true;
      worker.postMessage('close');
      const timeout = setTimeout(() => void worker.terminate(), 5_000);
      await exited;
      clearTimeout(timeout);
    },
  };
}
