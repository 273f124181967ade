import type { Kysely } from 'kysely';

/**
 * Operators of the admin API (docs/admin-api.md): a role, the SHA-256 of an API token (never the token),
 * an optional client-certificate fingerprint, a scope for registration officers, and the failed-login
 * counter with the lockout it leads to. Frozen in time: never import application code here. Portable
 * types only (epoch ms in bigint, 0/1 integers, text for JSON).
 */
// biome-ignore lint/suspicious/noExplicitAny: migrations work on the schema as it was, not as typed today
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('operators')
    .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('name', 'varchar(128)', (c) => c.notNull().unique())
    /** administrator, operations, registration_officer or auditor. */
    .addColumn('role', 'varchar(32)', (c) => c.notNull())
    /** Lower-case hex SHA-256 of the token's secret part. */
    .addColumn('token_hash', 'varchar(64)', (c) => c.notNull())
    /** Upper-case hex SHA-256 of the operator's client certificate (DER), no colons; null: none. */
    .addColumn('cert_fingerprint', 'varchar(64)', (c) => c.unique())
    /** JSON {"identifierSuffixes": [...], "accounts": [...]} for registration officers; null: none. */
    .addColumn('scope', 'text')
    .addColumn('disabled', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('failed_logins', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('locked_until', 'bigint')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('token_rotated_at', 'bigint', (c) => c.notNull())
    .addColumn('last_login_at', 'bigint')
    .execute();
}

// biome-ignore lint/suspicious/noExplicitAny: see up()
export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('operators').execute();
}
