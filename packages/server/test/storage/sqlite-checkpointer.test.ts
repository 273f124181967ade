import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, describe, it } from 'node:test';
import { sql } from 'kysely';
import { connect } from '../../src/sa/connect.ts';
import { CHECKPOINT_MIN_WAL_BYTES, startCheckpointer } from '../../src/sa/sqlite-checkpointer.ts';

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
    assert.equal(auto.rows[0]?.wal_autocheckpoint, 0);
    await sql`create table t (id integer primary key, v text)`.execute(db);
    const before = size(file);
    // About twice the checkpoint threshold, in many small transactions as the server writes.
    const rows = Math.ceil((2 * CHECKPOINT_MIN_WAL_BYTES) / 4096);
    for (let i = 0; i < rows; i++) {
      await sql`insert into t (v) values (${'x'.repeat(3000)})`.execute(db);
    }
    assert.ok(size(`${file}-wal`) >= CHECKPOINT_MIN_WAL_BYTES, 'the WAL grew past the threshold');
    await until('the worker to checkpoint', () => size(file) > before + CHECKPOINT_MIN_WAL_BYTES);
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
