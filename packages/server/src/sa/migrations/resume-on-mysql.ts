import { type Kysely, MysqlAdapter, sql } from 'kysely';

/**
 * MySQL and MariaDB commit every schema change on its own, so a migration that builds a replacement table,
 * copies into it, drops the original and renames the replacement can be cut off half-way (SQLite and
 * PostgreSQL run all pending migrations in one transaction instead; sa/sqlite-dialect.ts). Called first by
 * such a migration, this finds where a run that was cut off stopped:
 *
 * - only the replacement exists: the original was dropped after a complete copy, so the replacement is
 *   put in its place and the migration has nothing else to do but what `finish` does (`'renamed'`);
 * - both exist: the copy was cut off; the partial replacement is dropped and the migration starts over;
 * - otherwise (every other dialect, or no earlier run): `'fresh'`.
 *
 * Frozen with the migrations that use it: never import application code here.
 */
export async function resumeReplacement(
  // biome-ignore lint/suspicious/noExplicitAny: migrations work on the schema as it was, not as typed today
  db: Kysely<any>,
  original: string,
  replacement: string,
): Promise<'fresh' | 'renamed'> {
  if (!(db.getExecutor().adapter instanceof MysqlAdapter)) return 'fresh';
  const r = await sql<{ name: string }>`select table_name as name from information_schema.tables
    where table_schema = database() and table_name in (${original}, ${replacement})`.execute(db);
  const present = new Set(r.rows.map((row) => row.name));
  if (!present.has(replacement)) return 'fresh';
  if (present.has(original)) {
    await db.schema.dropTable(replacement).execute();
    return 'fresh';
  }
  await db.schema.alterTable(replacement).renameTo(original).execute();
  return 'renamed';
}
