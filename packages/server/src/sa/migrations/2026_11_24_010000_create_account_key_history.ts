import type { Kysely } from 'kysely';

/**
 * The keys an account used before its current one (draft-ietf-acme-dns-persist-02 §4.2: a CA keeps the
 * JWK thumbprint of every key an account has used, so a dns-persist-01 record computed with an earlier
 * key still validates). Frozen in time: never import application code here.
 */
// biome-ignore lint/suspicious/noExplicitAny: migrations work on the schema as it was, not as typed today
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('account_key_history')
    .addColumn('account_id', 'varchar(32)', (c) => c.notNull())
    .addColumn('thumbprint', 'varchar(64)', (c) => c.notNull())
    .addColumn('retired_at', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('account_key_history_pk', ['account_id', 'thumbprint'])
    .execute();
}

// biome-ignore lint/suspicious/noExplicitAny: see up()
export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('account_key_history').execute();
}
