import type { Kysely } from 'kysely';

/**
 * External account binding keys (RFC 8555 §7.3.4) and the key that bound each account. A key is unused
 * while `used_by` is null; new-account sets `used_by` with a conditional update in the transaction that
 * inserts the account, so a key binds at most one account. Frozen in time: never import application code
 * here. Portable types only (epoch ms in bigint, text for JSON).
 */
// biome-ignore lint/suspicious/noExplicitAny: migrations work on the schema as it was, not as typed today
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('eab_keys')
    .addColumn('kid', 'varchar(255)', (c) => c.primaryKey())
    /** The MAC key, base64url. */
    .addColumn('hmac_key', 'varchar(255)', (c) => c.notNull())
    /** 'config' (seeded from [eab.keys]), 'api' (createEabKey) or 'derived' (HKDF, GET /acme/eab). */
    .addColumn('source', 'varchar(16)', (c) => c.notNull())
    .addColumn('principal', 'varchar(255)')
    .addColumn('note', 'text')
    /** JSON array of profile ids the key grants; null: no restriction. */
    .addColumn('profiles', 'text')
    .addColumn('expires_at', 'bigint')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('used_by', 'varchar(64)')
    .addColumn('used_at', 'bigint')
    .execute();
  await db.schema.createIndex('eab_keys_used_by').on('eab_keys').column('used_by').execute();
  await db.schema.alterTable('accounts').addColumn('eab_kid', 'varchar(255)').execute();
}

// biome-ignore lint/suspicious/noExplicitAny: see up()
export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('accounts').dropColumn('eab_kid').execute();
  await db.schema.dropTable('eab_keys').execute();
}
