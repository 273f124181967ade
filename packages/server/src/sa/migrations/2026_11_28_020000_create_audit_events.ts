import type { Kysely } from 'kysely';

/**
 * The audit log (docs/operations.md, "Audit"): one row per state change, inserted in the transaction of
 * the change. Read newest first, filtered by type, actor, object and time. Frozen in time: never import
 * application code here. Portable types only (epoch ms in bigint, text for JSON).
 */
// biome-ignore lint/suspicious/noExplicitAny: migrations work on the schema as it was, not as typed today
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('audit_events')
    .addColumn('id', 'varchar(32)', (c) => c.primaryKey())
    .addColumn('at', 'bigint', (c) => c.notNull())
    .addColumn('type', 'varchar(64)', (c) => c.notNull())
    .addColumn('actor', 'varchar(255)', (c) => c.notNull())
    .addColumn('object_type', 'varchar(32)', (c) => c.notNull())
    .addColumn('object_id', 'varchar(255)', (c) => c.notNull())
    /** 'success' or 'failure'. */
    .addColumn('outcome', 'varchar(16)', (c) => c.notNull())
    /** Why a change failed (a failed validation's problem detail). */
    .addColumn('detail', 'text')
    /** The client's IP address; null for background work. */
    .addColumn('source', 'varchar(64)')
    .addColumn('request_id', 'varchar(64)')
    /** JSON object; never secrets. */
    .addColumn('details', 'text')
    .execute();
  await db.schema.createIndex('audit_events_at').on('audit_events').columns(['at', 'id']).execute();
  await db.schema.createIndex('audit_events_type').on('audit_events').columns(['type', 'at']).execute();
  await db.schema.createIndex('audit_events_actor').on('audit_events').columns(['actor', 'at']).execute();
  await db.schema
    .createIndex('audit_events_object')
    .on('audit_events')
    .columns(['object_type', 'object_id', 'at'])
    .execute();
}

// biome-ignore lint/suspicious/noExplicitAny: see up()
export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('audit_events').execute();
}
