import type { Kysely } from 'kysely';

/**
 * CRL numbers (RFC 5280 §5.2.3), one monotonic counter per CRL scope ("full" or a shard number), and an
 * index for listing revoked certificates when a CRL is built. Frozen in time: never import application
 * code here. Portable types only.
 */
// biome-ignore lint/suspicious/noExplicitAny: migrations work on the schema as it was, not as typed today
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('crl_numbers')
    .addColumn('scope', 'varchar(32)', (c) => c.primaryKey())
    .addColumn('crl_number', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema
    .createIndex('certificates_status_not_after')
    .on('certificates')
    .columns(['status', 'not_after'])
    .execute();
}

// biome-ignore lint/suspicious/noExplicitAny: see up()
export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex('certificates_status_not_after').on('certificates').execute();
  await db.schema.dropTable('crl_numbers').execute();
}
