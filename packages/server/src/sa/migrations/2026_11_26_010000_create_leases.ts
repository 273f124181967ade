import type { Kysely } from 'kysely';

/**
 * Several nodes on one database: leases name the node doing a piece of background work (one sweep at a
 * time across the cluster), and challenges remember when their validation began, so a validation
 * abandoned by a node that died is claimed and run again by another. Frozen in time.
 */
// biome-ignore lint/suspicious/noExplicitAny: migrations work on the schema as it was, not as typed today
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('leases')
    .addColumn('name', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('holder', 'varchar(64)', (c) => c.notNull())
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.alterTable('challenges').addColumn('processing_since', 'bigint').execute();
}

// biome-ignore lint/suspicious/noExplicitAny: see up()
export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('challenges').dropColumn('processing_since').execute();
  await db.schema.dropTable('leases').execute();
}
