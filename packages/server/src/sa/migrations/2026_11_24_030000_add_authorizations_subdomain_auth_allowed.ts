import type { Kysely } from 'kysely';

/**
 * RFC 9444: an authorization of an ancestor domain may authorize the names below it. Frozen in time:
 * never import application code here. integer 0/1 like every boolean column.
 */
// biome-ignore lint/suspicious/noExplicitAny: migrations work on the schema as it was, not as typed today
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .alterTable('authorizations')
    .addColumn('subdomain_auth_allowed', 'integer', (c) => c.notNull().defaultTo(0))
    .execute();
}

// biome-ignore lint/suspicious/noExplicitAny: see up()
export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('authorizations').dropColumn('subdomain_auth_allowed').execute();
}
