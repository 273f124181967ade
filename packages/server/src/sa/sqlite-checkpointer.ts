/**
 * WAL checkpoints off the event loop. SQLite's automatic checkpoint runs inside the COMMIT that crosses
 * `wal_autocheckpoint` pages, and with synchronous=NORMAL that is where the WAL and the database file are
 * fsynced: node:sqlite is synchronous, so that one COMMIT held up every request for 5–20 ms (measured:
 * commit p99 7 ms, max 17 ms, about 13 times a second under the issuance bench). A worker thread with its
 * own connection to the file checkpoints it instead (https://sqlite.org/wal.html#ckpt):
 *
 * - every `intervalMs` (when the WAL changed) a PASSIVE checkpoint copies what no reader still needs into
 *   the database file and fsyncs it. It never blocks the writer.
 * - Under a steady stream of commits a PASSIVE checkpoint never catches up with the last frame, and only a
 *   WAL whose every frame is checkpointed is restarted from its beginning by the next writer: the WAL grew
 *   without bound (430 MB in 8 s under the bench). So once the WAL holds `restartFrames` frames, a RESTART
 *   checkpoint follows the PASSIVE one: it holds the writer back only while it copies the frames committed
 *   since the PASSIVE one began, then the WAL starts over. Under the bench at concurrency 32 the WAL file
 *   then levels off at about 36 MB.
 *
 * The server's connection keeps automatic checkpoints as a safety net far above that
 * (CHECKPOINT_SAFETY_NET_PAGES), so the WAL stays bounded even if the worker falls behind. Should the worker
 * die, the caller gets `onFailure` and turns automatic checkpoints back to SQLite's default.
 */
import { Worker } from 'node:worker_threads';

/** How often the worker looks at the WAL. */
export const CHECKPOINT_INTERVAL_MS = 250;
/** WAL frames (pages) from which a RESTART checkpoint follows: 16 MiB of 4 KiB pages. */
export const CHECKPOINT_RESTART_FRAMES = 4096;
/**
 * The server connection's own `wal_autocheckpoint`: a safety net that checkpoints in the commit, as SQLite
 * does by default, only when the worker has fallen 128 MiB behind (a disk too slow for the write rate).
 */
export const CHECKPOINT_SAFETY_NET_PAGES = 32_768;

// Plain JavaScript run with `eval: true`, so the same code works from the .ts sources and the built .js;
// process.getBuiltinModule, not require, so it runs whether the eval is taken as CommonJS or as a module.
const WORKER_SOURCE = `
const { workerData, parentPort } = process.getBuiltinModule('node:worker_threads');
const { DatabaseSync } = process.getBuiltinModule('node:sqlite');
const { statSync } = process.getBuiltinModule('node:fs');
const db = new DatabaseSync(workerData.file);
db.exec('PRAGMA busy_timeout = 5000');
const passive = db.prepare('PRAGMA wal_checkpoint(PASSIVE)');
const restart = db.prepare('PRAGMA wal_checkpoint(RESTART)');
function walState() {
  try {
    const st = statSync(workerData.file + '-wal');
    return st.size + ':' + st.mtimeMs;
  } catch {
    return '';
  }
}
let seen = '';
function run(force) {
  const state = walState();
  if (!force && (state === '' || state === seen)) return;
  const result = passive.get();
  if (force || result.log >= workerData.restartFrames) restart.get();
  seen = walState();
  if (workerData.report) parentPort.postMessage({ checkpointed: result.checkpointed, log: result.log });
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
  restartFrames?: number;
  /** After each checkpoint: frames in the WAL and frames checkpointed (tests, diagnostics). */
  onCheckpoint?: (result: { log: number; checkpointed: number }) => void;
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
      restartFrames: opts.restartFrames ?? CHECKPOINT_RESTART_FRAMES,
      report: opts.onCheckpoint !== undefined,
    },
  });
  let closing = false;
  let failed = false;
  const fail = (error: Error) => {
    if (closing || failed) return;
    failed = true;
    opts.onFailure(error);
  };
  worker.on('error', fail);
  if (opts.onCheckpoint) {
    const report = opts.onCheckpoint;
    worker.on('message', (message: { log: number; checkpointed: number }) => report(message));
  }
  // After the listeners: a 'message' listener refs the worker's port again, and a server that is never
  // closed (a CLI command that fails after opening the database) must still let its process exit.
  worker.unref();
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
