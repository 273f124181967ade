/** Dialect differences in one place (docs/sql-dialects.md). */

/** A unique or primary-key constraint violation, on SQLite (node:sqlite), PostgreSQL (pg) or MariaDB (mysql2). */
export function isUniqueViolation(e: unknown): boolean {
  if (typeof e !== 'object' || e === null) return false;
  const err = e as { code?: unknown; errcode?: unknown; errno?: unknown; message?: unknown };
  if (err.errcode === 2067 || err.errcode === 1555) return true; // SQLITE_CONSTRAINT_UNIQUE / _PRIMARYKEY
  if (err.code === '23505') return true; // PostgreSQL unique_violation
  if (err.errno === 1062 || err.code === 'ER_DUP_ENTRY') return true; // MariaDB/MySQL
  return typeof err.message === 'string' && /UNIQUE constraint failed/.test(err.message);
}
