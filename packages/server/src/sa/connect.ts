import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { Kysely, MysqlDialect, PostgresDialect } from 'kysely';
import { createPool } from 'mysql2';
import pg from 'pg';
import type { SqlDialectName } from './dialect.ts';
import { NodeSqliteDialect } from './sqlite-dialect.ts';
import type { Database } from './tables.ts';

export interface ConnectOptions {
  /** Connections in the pool (PostgreSQL, MariaDB/MySQL). */
  poolSize: number;
  /** Refuse to talk to the database without TLS (verified against the system CA store). */
  requireTls: boolean;
  /** Time limit to open a connection. */
  connectTimeoutMs: number;
}

export class DatabaseUrlError extends Error {
  override name = 'DatabaseUrlError';
}

/** The dialect a `database.url` names, or an error naming what is accepted. */
export function dialectOf(url: string): SqlDialectName {
  if (url.startsWith('sqlite:')) return 'sqlite';
  if (url.startsWith('postgres://') || url.startsWith('postgresql://')) return 'postgres';
  if (url.startsWith('mysql://') || url.startsWith('mariadb://')) return 'mysql';
  throw new DatabaseUrlError(
    `database.url "${redact(url)}" is not sqlite:<path>, sqlite::memory:, postgres://… or mysql://… / mariadb://…`,
  );
}

/**
 * Opens a Kysely instance for `url`. SQLite: node:sqlite in WAL mode, synchronous=NORMAL (durable across
 * process crashes; a power loss may lose the last transactions). PostgreSQL: node-postgres pool.
 * MariaDB/MySQL: mysql2 pool. All three are pure JavaScript (no native addon).
 */
export function connect(
  url: string,
  opts: ConnectOptions,
): { db: Kysely<Database>; dialect: SqlDialectName } {
  const dialect = dialectOf(url);
  if (dialect === 'sqlite') {
    const file = url.slice('sqlite:'.length);
    if (file === '') throw new DatabaseUrlError('database.url "sqlite:" names no file');
    if (file !== ':memory:') mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
    const raw = new DatabaseSync(file);
    raw.exec('PRAGMA journal_mode = WAL');
    raw.exec('PRAGMA synchronous = NORMAL');
    raw.exec('PRAGMA busy_timeout = 5000');
    raw.exec('PRAGMA foreign_keys = ON');
    return { db: new Kysely<Database>({ dialect: new NodeSqliteDialect(raw) }), dialect };
  }
  if (dialect === 'postgres') {
    const pool = new pg.Pool({
      connectionString: url,
      max: opts.poolSize,
      connectionTimeoutMillis: opts.connectTimeoutMs,
      ...(opts.requireTls ? { ssl: { rejectUnauthorized: true } } : {}),
    });
    return { db: new Kysely<Database>({ dialect: new PostgresDialect({ pool }) }), dialect };
  }
  const pool = createPool({
    uri: url.replace(/^mariadb:/, 'mysql:'),
    connectionLimit: opts.poolSize,
    connectTimeout: opts.connectTimeoutMs,
    // BIGINT columns hold epoch milliseconds: numbers, never strings.
    supportBigNumbers: true,
    bigNumberStrings: false,
    ...(opts.requireTls ? { ssl: { rejectUnauthorized: true } } : {}),
  });
  return { db: new Kysely<Database>({ dialect: new MysqlDialect({ pool }) }), dialect };
}

/** The URL without its password, for messages. */
export function redact(url: string): string {
  return url.replace(/(\/\/[^:/@]+:)[^@]*@/, '$1***@');
}
