import { randomBytes } from 'node:crypto';
import net from 'node:net';

/**
 * The database backends the suites run on. SQLite is always there; PostgreSQL (127.0.0.1:5432, trust auth,
 * database `test`) and MariaDB (127.0.0.1:3306, root without password, database `test`) are used when they
 * answer. Each run gets a fresh schema (PostgreSQL) or database (MariaDB) that is dropped afterwards.
 * Under CI=true an unreachable PostgreSQL or MariaDB is a failure; elsewhere those runs are skipped with a
 * message saying how to enable them. TEST_POSTGRES_URL / TEST_MARIADB_URL point elsewhere.
 */
export type Backend = 'sqlite' | 'postgres' | 'mariadb';
export const BACKENDS: readonly Backend[] = ['sqlite', 'postgres', 'mariadb'];

const POSTGRES_URL = process.env.TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const MARIADB_URL = process.env.TEST_MARIADB_URL ?? 'mariadb://root@127.0.0.1:3306/test';

export interface ProvisionedDatabase {
  /** A database.url for akamu; undefined for SQLite (the default file in the data directory). */
  url: string | undefined;
  drop(): Promise<void>;
}

function reachable(url: string): Promise<boolean> {
  const u = new URL(url.replace(/^mariadb:/, 'mysql:'));
  return new Promise((resolve) => {
    const socket = net.connect({ host: u.hostname, port: Number(u.port), timeout: 2000 });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
    socket.once('timeout', () => {
      socket.destroy();
      resolve(false);
    });
  });
}

/** Why this backend's runs are skipped, or undefined when it can be used. Throws under CI=true. */
export async function backendSkipReason(backend: Backend): Promise<string | undefined> {
  if (backend === 'sqlite') return undefined;
  const url = backend === 'postgres' ? POSTGRES_URL : MARIADB_URL;
  if (await reachable(url)) return undefined;
  const why = `${backend} is not reachable at ${new URL(url.replace(/^mariadb:/, 'mysql:')).host}`;
  if (process.env.CI === 'true') throw new Error(`${why} (required under CI=true)`);
  const how =
    backend === 'postgres'
      ? 'start PostgreSQL on 127.0.0.1:5432 with a trusted database "test", or set TEST_POSTGRES_URL'
      : 'start MariaDB on 127.0.0.1:3306 (root, no password, database "test"), or set TEST_MARIADB_URL';
  process.stderr.write(`\n*** skipping the ${backend} runs: ${why}; to enable them, ${how}\n\n`);
  return `${why}; ${how}`;
}

/** A fresh, empty database on the backend. */
export async function provisionDatabase(backend: Backend): Promise<ProvisionedDatabase> {
  if (backend === 'sqlite') return { url: undefined, drop: async () => {} };
  const name = `akamu_test_${randomBytes(6).toString('hex')}`;
  if (backend === 'postgres') {
    const pg = (await import('pg')).default;
    const admin = new pg.Client({ connectionString: POSTGRES_URL, connectionTimeoutMillis: 5000 });
    await admin.connect();
    await admin.query(`create schema ${name}`);
    await admin.end();
    const url = new URL(POSTGRES_URL);
    url.searchParams.set('options', `-c search_path=${name}`);
    return {
      url: url.href,
      drop: async () => {
        const c = new pg.Client({ connectionString: POSTGRES_URL, connectionTimeoutMillis: 5000 });
        await c.connect();
        await c.query(`drop schema if exists ${name} cascade`);
        await c.end();
      },
    };
  }
  const mysql = await import('mysql2/promise');
  const adminUrl = MARIADB_URL.replace(/^mariadb:/, 'mysql:');
  const admin = await mysql.createConnection({ uri: adminUrl, connectTimeout: 5000 });
  await admin.query(`create database ${name}`);
  await admin.end();
  const url = new URL(MARIADB_URL);
  url.pathname = `/${name}`;
  return {
    url: url.href,
    drop: async () => {
      const c = await mysql.createConnection({ uri: adminUrl, connectTimeout: 5000 });
      await c.query(`drop database if exists ${name}`);
      await c.end();
    },
  };
}

/** The backend the ACME integration and interop suites use in this run (TEST_DB_BACKEND, default sqlite). */
export function currentBackend(): Backend {
  const b = process.env.TEST_DB_BACKEND ?? 'sqlite';
  if (!(BACKENDS as readonly string[]).includes(b))
    throw new Error(`TEST_DB_BACKEND=${b} is not one of ${BACKENDS.join(', ')}`);
  return b as Backend;
}
