import { type Kysely, SqliteAdapter, sql } from 'kysely';
import { resumeReplacement } from './resume-on-mysql.ts';

/**
 * Audit events keyed by (at, id), the order every reader lists them in, instead of by their random id
 * alone, and on SQLite `WITHOUT ROWID`: an insert then appends to one B-tree where it wrote to three (the
 * rowid table, the primary-key index on the random id, and the (at, id) index, which the key now is). The
 * type, actor and object indexes stay. One event is written with every state change, so this is the table
 * written most after used nonces; see docs/benchmarks.md.
 *
 * No reader looks an event up by its id alone (sa/audit-storage.ts lists by time, type, actor and object).
 * Every row is copied as it is. Frozen in time: never import application code.
 */
// biome-ignore lint/suspicious/noExplicitAny: migrations work on the schema as it was, not as typed today
type AnyDb = Kysely<any>;

export async function up(db: AnyDb): Promise<void> {
  if ((await resumeReplacement(db, 'audit_events', 'audit_events_by_time')) === 'renamed') {
    await createSecondaryIndexes(db);
    return;
  }
  await createAuditTable(db, 'audit_events_by_time', 'time');
  await replaceAuditTable(db, 'audit_events_by_time');
}

export async function down(db: AnyDb): Promise<void> {
  await createAuditTable(db, 'audit_events_by_id', 'id');
  await replaceAuditTable(db, 'audit_events_by_id');
  await db.schema.createIndex('audit_events_at').on('audit_events').columns(['at', 'id']).execute();
}

/** The audit table's columns, keyed by (at, id) — `WITHOUT ROWID` on SQLite — or, as before, by id. */
async function createAuditTable(db: AnyDb, name: string, key: 'time' | 'id'): Promise<void> {
  await db.schema
    .createTable(name)
    .addColumn('id', 'varchar(32)', (c) => (key === 'id' ? c.primaryKey() : c.notNull()))
    .addColumn('at', 'bigint', (c) => c.notNull())
    .addColumn('type', 'varchar(64)', (c) => c.notNull())
    .addColumn('actor', 'varchar(255)', (c) => c.notNull())
    .addColumn('object_type', 'varchar(32)', (c) => c.notNull())
    .addColumn('object_id', 'varchar(255)', (c) => c.notNull())
    .addColumn('outcome', 'varchar(16)', (c) => c.notNull())
    .addColumn('detail', 'text')
    .addColumn('source', 'varchar(64)')
    .addColumn('request_id', 'varchar(64)')
    .addColumn('details', 'text')
    .$call((b) => (key === 'time' ? b.addPrimaryKeyConstraint('audit_events_at_id', ['at', 'id']) : b))
    .$call((b) =>
      key === 'time' && db.getExecutor().adapter instanceof SqliteAdapter
        ? b.modifyEnd(sql`without rowid`)
        : b,
    )
    .execute();
}

/** Copies every event into `next`, puts it in the old table's place and gives it the secondary indexes. */
async function replaceAuditTable(db: AnyDb, next: string): Promise<void> {
  const columns = sql.raw(
    'id, at, type, actor, object_type, object_id, outcome, detail, source, request_id, details',
  );
  await sql`insert into ${sql.table(next)} (${columns}) select ${columns} from audit_events`.execute(db);
  await db.schema.dropTable('audit_events').execute();
  await db.schema.alterTable(next).renameTo('audit_events').execute();
  await createSecondaryIndexes(db);
}

async function createSecondaryIndexes(db: AnyDb): Promise<void> {
  await db.schema.createIndex('audit_events_type').on('audit_events').columns(['type', 'at']).execute();
  await db.schema.createIndex('audit_events_actor').on('audit_events').columns(['actor', 'at']).execute();
  await db.schema
    .createIndex('audit_events_object')
    .on('audit_events')
    .columns(['object_type', 'object_id', 'at'])
    .execute();
}
