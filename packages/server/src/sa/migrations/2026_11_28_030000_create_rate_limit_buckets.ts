import type { Kysely } from 'kysely';

/**
 * Rate limits (RFC 8555 §6.6) held in the database so every node of a cluster counts against the same
 * buckets: one fixed window per bucket, `hits` counted until `expires_at`. Frozen in time.
 */
// biome-ignore lint/suspicious/noExplicitAny: migrations work on the schema as it was, not as typed today
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('rate_limit_buckets')
    .addColumn('bucket', 'varchar(96)', (c) => c.primaryKey())
    .addColumn('hits', 'integer', (c) => c.notNull())
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema
    .createIndex('rate_limit_buckets_expires_at')
    .on('rate_limit_buckets')
    .column('expires_at')
    .execute();
}

// biome-ignore lint/suspicious/noExplicitAny: see up()
export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('rate_limit_buckets').execute();
}
