import type { Kysely } from 'kysely';

/**
 * The RFC 8555 objects. Frozen in time: never import application code here. Portable across SQLite,
 * PostgreSQL and MariaDB: varchar for keys and indexed columns, bigint epoch milliseconds for times,
 * integer 0/1 for booleans, text for JSON and PEM.
 */
// biome-ignore lint/suspicious/noExplicitAny: migrations work on the schema as it was, not as typed today
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('settings')
    .addColumn('name', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('value', 'text', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('used_nonces')
    .addColumn('nonce', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('used_nonces_expires_at').on('used_nonces').column('expires_at').execute();

  await db.schema
    .createTable('accounts')
    .addColumn('id', 'varchar(32)', (c) => c.primaryKey())
    .addColumn('thumbprint', 'varchar(64)', (c) => c.notNull().unique())
    .addColumn('jwk', 'text', (c) => c.notNull())
    .addColumn('status', 'varchar(16)', (c) => c.notNull())
    .addColumn('contact', 'text', (c) => c.notNull())
    .addColumn('tos_agreed', 'integer', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('orders')
    .addColumn('id', 'varchar(32)', (c) => c.primaryKey())
    .addColumn('account_id', 'varchar(32)', (c) => c.notNull())
    .addColumn('status', 'varchar(16)', (c) => c.notNull())
    .addColumn('identifiers', 'text', (c) => c.notNull())
    .addColumn('authorization_ids', 'text', (c) => c.notNull())
    .addColumn('not_before', 'bigint')
    .addColumn('not_after', 'bigint')
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    .addColumn('error', 'text')
    .addColumn('certificate_id', 'varchar(32)')
    .addColumn('profile', 'varchar(64)')
    .addColumn('finalize_started_at', 'bigint')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema
    .createIndex('orders_account_created')
    .on('orders')
    .columns(['account_id', 'created_at', 'id'])
    .execute();
  await db.schema.createIndex('orders_status').on('orders').column('status').execute();

  await db.schema
    .createTable('authorizations')
    .addColumn('id', 'varchar(32)', (c) => c.primaryKey())
    .addColumn('account_id', 'varchar(32)', (c) => c.notNull())
    .addColumn('identifier_type', 'varchar(32)', (c) => c.notNull())
    .addColumn('identifier_value', 'varchar(255)', (c) => c.notNull())
    .addColumn('wildcard', 'integer', (c) => c.notNull())
    .addColumn('status', 'varchar(16)', (c) => c.notNull())
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema
    .createIndex('authorizations_reuse')
    .on('authorizations')
    .columns(['account_id', 'identifier_value', 'identifier_type', 'status'])
    .execute();

  await db.schema
    .createTable('challenges')
    .addColumn('id', 'varchar(32)', (c) => c.primaryKey())
    .addColumn('authorization_id', 'varchar(32)', (c) => c.notNull())
    .addColumn('type', 'varchar(32)', (c) => c.notNull())
    .addColumn('token', 'varchar(64)', (c) => c.notNull())
    .addColumn('status', 'varchar(16)', (c) => c.notNull())
    .addColumn('validated_at', 'bigint')
    .addColumn('error', 'text')
    .execute();
  await db.schema
    .createIndex('challenges_authorization')
    .on('challenges')
    .column('authorization_id')
    .execute();
  await db.schema.createIndex('challenges_status').on('challenges').column('status').execute();

  await db.schema
    .createTable('certificates')
    .addColumn('id', 'varchar(32)', (c) => c.primaryKey())
    .addColumn('serial', 'varchar(64)', (c) => c.notNull().unique())
    .addColumn('account_id', 'varchar(32)', (c) => c.notNull())
    .addColumn('order_id', 'varchar(32)', (c) => c.notNull())
    .addColumn('pem', 'text', (c) => c.notNull())
    .addColumn('not_before', 'bigint', (c) => c.notNull())
    .addColumn('not_after', 'bigint', (c) => c.notNull())
    .addColumn('status', 'varchar(16)', (c) => c.notNull())
    .addColumn('revoked_at', 'bigint')
    .addColumn('revocation_reason', 'integer')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('certificates_account').on('certificates').column('account_id').execute();
}

// biome-ignore lint/suspicious/noExplicitAny: see up()
export async function down(db: Kysely<any>): Promise<void> {
  for (const t of [
    'certificates',
    'challenges',
    'authorizations',
    'orders',
    'accounts',
    'used_nonces',
    'settings',
  ]) {
    await db.schema.dropTable(t).execute();
  }
}
