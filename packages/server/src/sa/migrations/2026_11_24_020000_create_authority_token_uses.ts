import type { Kysely } from 'kysely';

/**
 * Authority tokens already redeemed (RFC 9447 §4: a token's "jti" may be used once), kept until the
 * token's "exp". Frozen in time: never import application code here. Portable types only.
 */
// biome-ignore lint/suspicious/noExplicitAny: migrations work on the schema as it was, not as typed today
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('authority_token_uses')
    .addColumn('jti_hash', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    .addColumn('used_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema
    .createIndex('authority_token_uses_expires_at')
    .on('authority_token_uses')
    .column('expires_at')
    .execute();
}

// biome-ignore lint/suspicious/noExplicitAny: see up()
export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('authority_token_uses').execute();
}
