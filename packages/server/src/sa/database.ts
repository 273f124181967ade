import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { Kysely } from 'kysely';
import { type Migration, type MigrationProvider, Migrator } from 'kysely/migration';
import * as createAcmeTables from './migrations/2026_11_23_000000_create_acme_tables.ts';
import { NodeSqliteDialect } from './sqlite-dialect.ts';
import type { Database } from './tables.ts';

/** Every migration, in order. Names are their file names; new ones are appended, old ones never change. */
const MIGRATIONS: Record<string, Migration> = {
  '2026_11_23_000000_create_acme_tables': createAcmeTables,
};

export interface OpenedDatabase {
  db: Kysely<Database>;
  dialect: 'sqlite';
  close(): Promise<void>;
}

export class DatabaseError extends Error {
  override name = 'DatabaseError';
}

/**
 * Opens `database.url`: `sqlite:<path>` or `sqlite::memory:`. SQLite runs in WAL mode with
 * synchronous=NORMAL (durable across process crashes; a power loss may lose the last transactions).
 */
export function openDatabase(url: string): OpenedDatabase {
  if (!url.startsWith('sqlite:')) {
    throw new DatabaseError(`database.url "${url}": only sqlite: URLs are supported by this build`);
  }
  const file = url.slice('sqlite:'.length);
  if (file === '') throw new DatabaseError('database.url "sqlite:" names no file');
  if (file !== ':memory:') mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  const raw = new DatabaseSync(file);
  raw.exec('PRAGMA journal_mode = WAL');
  raw.exec('PRAGMA synchronous = NORMAL');
  raw.exec('PRAGMA busy_timeout = 5000');
  raw.exec('PRAGMA foreign_keys = ON');
  const db = new Kysely<Database>({ dialect: new NodeSqliteDialect(raw) });
  return { db, dialect: 'sqlite', close: () => db.destroy() };
}

/** Runs pending migrations; refuses a schema newer than this build knows. */
export async function migrateToLatest(db: Kysely<Database>): Promise<void> {
  const provider: MigrationProvider = { getMigrations: async () => MIGRATIONS };
  const migrator = new Migrator({ db, provider });
  const { error, results } = await migrator.migrateToLatest();
  if (error) {
    const failed = results?.find((r) => r.status === 'Error');
    const msg = error instanceof Error ? error.message : String(error);
    if (/corrupted migrations|previously executed migration .* is missing/i.test(msg)) {
      throw new DatabaseError(
        `the database schema is newer than this version of akamu knows (${msg}); upgrade akamu`,
      );
    }
    throw new DatabaseError(`migration ${failed?.migrationName ?? ''} failed: ${msg}`);
  }
}
