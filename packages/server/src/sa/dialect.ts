/** Dialect differences in one place (docs/sql-dialects.md). */

import type { InsertQueryBuilder } from 'kysely';

export type SqlDialectName = 'sqlite' | 'postgres' | 'mysql';

/**
 * An INSERT that skips a row whose key exists instead of failing, so the affected-row count says whether
 * this insert was the first: ON CONFLICT DO NOTHING on SQLite and PostgreSQL, INSERT IGNORE on MariaDB.
 */
export function ignoringDuplicates<DB, T extends keyof DB & string, O>(
  insert: InsertQueryBuilder<DB, T, O>,
  dialect: SqlDialectName,
): InsertQueryBuilder<DB, T, O> {
  return dialect === 'mysql' ? insert.ignore() : insert.onConflict((oc) => oc.doNothing());
}

/** A unique or primary-key constraint violation, on SQLite (node:sqlite), PostgreSQL (pg) or MariaDB (mysql2). */
export function isUniqueViolation(e: unknown): boolean {
  if (typeof e !== 'object' || e === null) return false;
  const err = e as { code?: unknown; errcode?: unknown; errno?: unknown; message?: unknown };
  if (err.errcode === 2067 || err.errcode === 1555) return true; // SQLITE_CONSTRAINT_UNIQUE / _PRIMARYKEY
  if (err.code === '23505') return true; // PostgreSQL unique_violation
  if (err.errno === 1062 || err.code === 'ER_DUP_ENTRY') return true; // MariaDB/MySQL
  return typeof err.message === 'string' && /UNIQUE constraint failed/.test(err.message);
}
