import type { Kysely } from 'kysely';

/**
 * Renewal extensions: ARI (RFC 9773) windows and replacements, STAR (RFC 8739) orders, and delegations
 * (RFC 9115). Frozen in time: never import application code here. Portable types only (varchar, bigint
 * epoch milliseconds, integer 0/1, text for JSON).
 */
// biome-ignore lint/suspicious/noExplicitAny: migrations work on the schema as it was, not as typed today
export async function up(db: Kysely<any>): Promise<void> {
  // The RFC 8739/9773/9115 members of a new-order request, one row per order that had any.
  await db.schema
    .createTable('order_extensions')
    .addColumn('order_id', 'varchar(32)', (c) => c.primaryKey())
    .addColumn('replaces_certificate_id', 'varchar(32)')
    .addColumn('replaces_cert_id', 'varchar(255)')
    .addColumn('delegation_id', 'varchar(32)')
    .addColumn('auto_renewal', 'text')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema
    .createIndex('order_extensions_replaces')
    .on('order_extensions')
    .column('replaces_certificate_id')
    .execute();

  // A certificate replaced by a valid order (RFC 9773 §5); the primary key makes the mark happen once.
  await db.schema
    .createTable('certificate_replacements')
    .addColumn('certificate_id', 'varchar(32)', (c) => c.primaryKey())
    .addColumn('order_id', 'varchar(32)', (c) => c.notNull())
    .addColumn('replaced_at', 'bigint', (c) => c.notNull())
    .execute();

  // Operator-set renewal windows (RFC 9773 §4.2), overriding the computed one.
  await db.schema
    .createTable('renewal_windows')
    .addColumn('certificate_id', 'varchar(32)', (c) => c.primaryKey())
    .addColumn('window_start', 'bigint', (c) => c.notNull())
    .addColumn('window_end', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .execute();

  // STAR orders after finalization: what to issue next and when (RFC 8739 §3.1.3).
  await db.schema
    .createTable('star_orders')
    .addColumn('order_id', 'varchar(32)', (c) => c.primaryKey())
    .addColumn('account_id', 'varchar(32)', (c) => c.notNull())
    .addColumn('status', 'varchar(16)', (c) => c.notNull())
    .addColumn('start_date', 'bigint', (c) => c.notNull())
    .addColumn('end_date', 'bigint', (c) => c.notNull())
    .addColumn('lifetime', 'bigint', (c) => c.notNull())
    .addColumn('lifetime_adjust', 'bigint', (c) => c.notNull())
    .addColumn('allow_certificate_get', 'integer', (c) => c.notNull())
    .addColumn('next_slot', 'integer', (c) => c.notNull())
    .addColumn('next_issue_at', 'bigint')
    .addColumn('spki', 'text', (c) => c.notNull())
    .addColumn('canceled_at', 'bigint')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema
    .createIndex('star_orders_due')
    .on('star_orders')
    .columns(['status', 'next_issue_at'])
    .execute();

  // RFC 9115 §2.3.1 delegation objects of an account.
  await db.schema
    .createTable('delegations')
    .addColumn('id', 'varchar(32)', (c) => c.primaryKey())
    .addColumn('account_id', 'varchar(32)', (c) => c.notNull())
    .addColumn('csr_template', 'text', (c) => c.notNull())
    .addColumn('cname_map', 'text')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema
    .createIndex('delegations_account')
    .on('delegations')
    .columns(['account_id', 'created_at'])
    .execute();

  // STAR serves an order's certificates; ARI finds a replaced certificate's order.
  await db.schema.createIndex('certificates_order').on('certificates').column('order_id').execute();
}

// biome-ignore lint/suspicious/noExplicitAny: see up()
export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex('certificates_order').on('certificates').execute();
  for (const t of [
    'delegations',
    'star_orders',
    'renewal_windows',
    'certificate_replacements',
    'order_extensions',
  ]) {
    await db.schema.dropTable(t).execute();
  }
}
