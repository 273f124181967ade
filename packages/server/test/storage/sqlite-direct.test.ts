import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { type OpenedDatabase, openDatabase } from '../../src/sa/database.ts';
import { PreparedQuery } from '../../src/sa/prepared.ts';

/**
 * Prepared queries on an SQLite database run at once while nobody holds the connection, and queue behind
 * a transaction that does (sa/sqlite-dialect.ts, enableDirectExecution). Real SQLite file.
 */
describe('SQLite: prepared queries run directly when the connection is idle', () => {
  let opened: OpenedDatabase;
  // biome-ignore lint/suspicious/noExplicitAny: a scratch table outside akamu's schema
  let db: any;
  let insert: PreparedQuery<{ k: string }, unknown>;
  let select: PreparedQuery<{ k: string }, { k: string }>;
  let throughKysely = 0;
  // A built (not prepared) query: it goes through Kysely's executor directly, never through the counter.
  const keys = async () =>
    ((await db.selectFrom('t').select('k').orderBy('k').execute()) as { k: string }[]).map((r) => r.k);

  before(async () => {
    opened = openDatabase(`sqlite:${path.join(mkdtempSync(path.join(tmpdir(), 'akamu-direct-')), 'd.db')}`);
    db = opened.db;
    await db.schema
      .createTable('t')
      .addColumn('k', 'text', (c: { primaryKey: () => unknown }) => c.primaryKey())
      .execute();
    insert = new PreparedQuery((p) => db.insertInto('t').values({ k: p('k') }));
    select = new PreparedQuery((p) => db.selectFrom('t').select('k').where('k', '=', p('k')));
    // Counts the prepared queries that fall back to Kysely's executor.
    const executeQuery = db.executeQuery.bind(db);
    db.executeQuery = (...args: unknown[]) => {
      throughKysely++;
      return executeQuery(...args);
    };
  });
  after(() => opened.close());

  it('an idle connection runs the statement at once, without going through Kysely', async () => {
    const pending = insert.execute(db, { k: 'a' });
    const rows = await select.execute(db, { k: 'a' });
    assert.deepEqual(
      rows.rows.map((r) => ({ ...r })),
      [{ k: 'a' }],
    );
    assert.equal(Number((await pending).numAffectedRows), 1);
    assert.equal(throughKysely, 0);
  });

  it('a statement issued while a transaction holds the connection waits for it, and is not part of it', async () => {
    const tx = db.transaction().execute(async (trx: typeof db) => {
      await insert.execute(trx, { k: 'in-tx' });
      await sleep(30);
      throw new Error('roll back');
    });
    await sleep(5);
    // The transaction holds the connection: this insert must queue, or the rollback would take it too.
    const outside = insert.execute(db, { k: 'outside' });
    await assert.rejects(tx, /roll back/);
    await outside;
    assert.equal(throughKysely, 1, 'the queued insert went through Kysely');
    assert.deepEqual(await keys(), ['a', 'outside']);
  });

  it('a failing statement rejects its promise instead of throwing', async () => {
    const duplicate = insert.execute(db, { k: 'a' });
    assert.ok(duplicate instanceof Promise);
    await assert.rejects(duplicate, /UNIQUE constraint failed/);
  });
});
