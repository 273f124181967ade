import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { Kysely, MysqlDialect, PostgresDialect } from 'kysely';
import { createPool } from 'mysql2';
import pg from 'pg';
import type { SqlDialectName } from './dialect.ts';
import { CHECKPOINT_SAFETY_NET_PAGES, startCheckpointer } from './sqlite-checkpointer.ts';
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

function sqliteKysely(dialect: NodeSqliteDialect): Kysely<Database> {
  const db = new Kysely<Database>({ dialect });
  dialect.enableDirectExecution(db);
  return db;
}

/**
 * Opens a Kysely instance for `url`. SQLite: node:sqlite in WAL mode, synchronous=NORMAL (durable across
 * process crashes; a power loss may lose the last transactions). PostgreSQL: node-postgres pool.
 * MariaDB/MySQL: mysql2 pool. All three are pure JavaScript (no native addon).
 */
export function connect(
  url: string,
  opts: ConnectOptions,
): { db: Kysely<Database>; dialect: SqlDialectName; poolStats?: () => PoolStats } {
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
    if (file === ':memory:') return { db: sqliteKysely(new NodeSqliteDialect(raw)), dialect };
    // Checkpoints run in a worker thread, not inside this connection's commits (sqlite-checkpointer.ts).
    raw.exec(`PRAGMA wal_autocheckpoint = ${CHECKPOINT_SAFETY_NET_PAGES}`);
    const checkpointer = startCheckpointer(file, {
      onFailure: (error) => {
        process.emitWarning(
          `SQLite checkpoints of ${file} are back in the server's commits: ${error.message}`,
        );
        if (raw.isOpen) raw.exec('PRAGMA wal_autocheckpoint = 1000');
      },
    });
    return {
      db: sqliteKysely(new NodeSqliteDialect(raw, { onDestroy: () => checkpointer.close() })),
      dialect,
    };
  }
  if (dialect === 'postgres') {
    const pool = new pg.Pool({
      connectionString: url,
      max: opts.poolSize,
      connectionTimeoutMillis: opts.connectTimeoutMs,
      ...(opts.requireTls ? { ssl: { rejectUnauthorized: true } } : {}),
    });
    const poolStats = () => ({ total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount });
    return { db: new Kysely<Database>({ dialect: new PostgresDialect({ pool }) }), dialect, poolStats };
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
  return {
    db: new Kysely<Database>({ dialect: new MysqlDialect({ pool }) }),
    dialect,
    poolStats: mysqlPoolStats(pool),
  };
}

/** Connection counts of a pool (metrics.ts); SQLite has a single connection and none. */
export interface PoolStats {
  total: number;
  idle: number;
  waiting: number;
}

/** mysql2 keeps its counts in queues it does not type; read them defensively. */
function mysqlPoolStats(pool: object): () => PoolStats {
  const p = pool as {
    _allConnections?: { length: number };
    _freeConnections?: { length: number };
    _connectionQueue?: { length: number };
  };
  return () => ({
    total: p._allConnections?.length ?? 0,
    idle: p._freeConnections?.length ?? 0,
    waiting: p._connectionQueue?.length ?? 0,
  });
}

/** The URL without its password, for messages. */
export function redact(url: string): string {
  return url.replace(/(\/\/[^:/@]+:)[^@]*@/, '$1***@');
}
