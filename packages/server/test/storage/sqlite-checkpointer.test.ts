import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, describe, it } from 'node:test';
import { sql } from 'kysely';
import { connect } from '../../src/sa/connect.ts';
import { CHECKPOINT_SAFETY_NET_PAGES, startCheckpointer } from '../../src/sa/sqlite-checkpointer.ts';

const MB = 1024 * 1024;

const size = (file: string) => {
  try {
    return statSync(file).size;
  } catch {
    return 0;
  }
};

async function until(what: string, check: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('SQLite WAL checkpoints in a worker thread', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'akamu-ckpt-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('the server connection never checkpoints; the worker copies the WAL into the database file', async () => {
    const file = path.join(dir, 'akamu.db');
    const { db } = connect(`sqlite:${file}`, { poolSize: 1, requireTls: false, connectTimeoutMs: 1000 });
    const auto = await sql<{ wal_autocheckpoint: number }>`PRAGMA wal_autocheckpoint`.execute(db);
    assert.equal(auto.rows[0]?.wal_autocheckpoint, CHECKPOINT_SAFETY_NET_PAGES, 'only a safety net');
    await sql`create table t (id integer primary key, v text)`.execute(db);
    const before = size(file);
    // About 8 MiB, in many small transactions as the server writes.
    const rows = 2048;
    for (let i = 0; i < rows; i++) {
      await sql`insert into t (v) values (${'x'.repeat(3000)})`.execute(db);
    }
    assert.ok(size(`${file}-wal`) >= 4 * MB, 'the WAL holds what was written');
    await until('the worker to checkpoint', () => size(file) > before + 4 * MB);
    // Writes go on after a checkpoint; closing runs a last checkpoint, and nothing is lost.
    await sql`insert into t (v) values ('last')`.execute(db);
    await db.destroy();
    const check = new DatabaseSync(file, { readOnly: true });
    try {
      const { n } = check.prepare('select count(*) as n from t').get() as { n: number };
      assert.equal(n, rows + 1);
    } finally {
      check.close();
    }
    assert.equal(size(`${file}-wal`), 0, 'the last checkpoint emptied the WAL');
  });

  it('keeps the WAL bounded under a steady stream of commits (RESTART once it is long)', async () => {
    const file = path.join(dir, 'steady.db');
    const raw = new DatabaseSync(file);
    raw.exec('PRAGMA journal_mode = WAL');
    raw.exec('PRAGMA synchronous = NORMAL');
    raw.exec('PRAGMA busy_timeout = 5000');
    // No safety net in the commits here: only the worker checkpoints.
    raw.exec('PRAGMA wal_autocheckpoint = 0');
    raw.exec('create table t (id integer primary key, v text)');
    const logs: number[] = [];
    const checkpointer = startCheckpointer(file, {
      intervalMs: 20,
      restartFrames: 256,
      onFailure: (e) => assert.fail(e),
      onCheckpoint: ({ log }) => logs.push(log),
    });
    // As the server writes: the same rows (pages) over and over, about 6 MiB of them.
    const insert = raw.prepare('insert or replace into t (id, v) values (?, ?)');
    const row = 'x'.repeat(3000);
    let n = 0;
    insert.run(n++ % 1500, row);
    await until('the worker to start', () => logs.length > 0);
    let written = 0;
    let largestWal = 0;
    // A commit every 0.2 ms without a pause longer than that, as under load (~20 MB/s of pages, about
    // half the server's peak under the bench): no PASSIVE checkpoint ends before the next commit, so
    // PASSIVE checkpoints alone never let the WAL start over (with restartFrames out of reach, this WAL
    // grows to everything written). A steady rate, not the fastest loop, keeps the bound independent of
    // how fast this machine happens to be.
    const start = performance.now();
    const end = start + 2500;
    for (let slot = 0; performance.now() < end; slot++) {
      while (performance.now() < start + slot * 0.2) {}
      insert.run(n++ % 1500, row);
      written += 4096;
      if (slot % 50 === 0) largestWal = Math.max(largestWal, size(`${file}-wal`));
    }
    await new Promise((r) => setTimeout(r, 50)); // the worker's reports
    await checkpointer.close();
    raw.close();
    assert.ok(written > 20 * MB, `wrote ${written} bytes of pages`);
    assert.ok(
      logs.some((log) => log >= 256),
      'the WAL reached the RESTART threshold between checkpoints',
    );
    // Without the RESTART the WAL holds everything written; with it, what a few checkpoint intervals add.
    assert.ok(
      largestWal < written / 4,
      `the WAL stayed bounded: at most ${largestWal} bytes for ${written} written`,
    );
  });

  it('never keeps a process alive: one that opens the database and never closes it still exits', () => {
    // A CLI command that fails after the server opened its database must not hang (it did once).
    const connectModule = new URL('../../src/sa/connect.ts', import.meta.url).href;
    const script = path.join(dir, 'left-open.mjs');
    writeFileSync(
      script,
      `import { connect } from ${JSON.stringify(connectModule)};
      const { db } = connect(${JSON.stringify(`sqlite:${path.join(dir, 'left-open.db')}`)}, { poolSize: 1, requireTls: false, connectTimeoutMs: 1000 });
      await db.selectNoFrom((eb) => eb.val(1).as('x')).execute();
      // Long enough for the worker to start and report a checkpoint.
      await new Promise((r) => setTimeout(r, 300));
      console.log('left open');`,
    );
    const child = spawnSync(process.execPath, [script], { timeout: 20_000, encoding: 'utf8' });
    assert.equal(child.signal, null, 'exited on its own, not killed by the timeout');
    assert.equal(child.status, 0, child.stderr);
    assert.equal(child.stdout.trim(), 'left open');
    assert.equal(child.stderr, '', 'and the checkpoint worker ran without a warning');
  });

  it('reports a worker that cannot run, so the caller turns automatic checkpoints back on', async () => {
    // A directory is not a database file: the worker fails to open it.
    const failures: Error[] = [];
    const checkpointer = startCheckpointer(dir, { onFailure: (e) => failures.push(e) });
    await until('the failure', () => failures.length > 0);
    assert.match(failures[0]!.message, /unable to open|exited|directory/i);
    await checkpointer.close();
    assert.equal(failures.length, 1);
  });
});
