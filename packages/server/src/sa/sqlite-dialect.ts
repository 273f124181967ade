import type { DatabaseSync, StatementSync } from 'node:sqlite';
import {
  CompiledQuery,
  type DatabaseConnection,
  type Dialect,
  type Driver,
  type Kysely,
  type QueryResult,
  SqliteAdapter,
  SqliteIntrospector,
  SqliteQueryCompiler,
} from 'kysely';
import { registerDirectExecutor } from './prepared.ts';

/**
 * Kysely over node:sqlite (built into Node 24, no native addon). node:sqlite is synchronous and has one
 * connection, so the driver hands that connection to one user at a time: a transaction holds it from
 * BEGIN to COMMIT and no other query can interleave (Kysely's own SqliteDriver has no such lock).
 * Prepared statements are cached by SQL text.
 */
export class NodeSqliteDialect implements Dialect {
  readonly #db: DatabaseSync;
  readonly #onDestroy: (() => Promise<void>) | undefined;
  #driver: NodeSqliteDriver | undefined;
  /** `onDestroy` runs after the connection is closed (the WAL checkpointer's last checkpoint). */
  constructor(db: DatabaseSync, opts: { onDestroy?: () => Promise<void> } = {}) {
    this.#db = db;
    this.#onDestroy = opts.onDestroy;
  }
  createAdapter() {
    return new TransactionalDdlSqliteAdapter();
  }
  createDriver(): Driver {
    this.#driver = new NodeSqliteDriver(this.#db, this.#onDestroy);
    return this.#driver;
  }
  /**
   * Lets prepared queries on `db` (the Kysely instance made with this dialect, not its transactions) run
   * at once, synchronously, whenever no transaction or query holds the connection (prepared.ts,
   * executeDirectly): node:sqlite is synchronous, so Kysely's connection hand-off, a few promises per
   * statement, buys nothing then. When the connection is busy they queue through Kysely as before.
   */
  enableDirectExecution(db: object): void {
    const driver = this.#driver;
    if (!driver) throw new Error('the dialect has no driver yet: pass it to new Kysely() first');
    registerDirectExecutor(db, (query) => driver.executeNowIfIdle(query));
  }
  createQueryCompiler() {
    return new SqliteQueryCompiler();
  }
  // biome-ignore lint/suspicious/noExplicitAny: Kysely's introspector takes any database
  createIntrospector(db: Kysely<any>) {
    return new SqliteIntrospector(db);
  }
}

/**
 * SQLite runs schema changes inside transactions, but Kysely's SqliteAdapter says it cannot, so its
 * Migrator would run each migration statement by statement: a process killed in the middle of one (say
 * between dropping a table and renaming its replacement) would leave a schema no start could migrate. Said
 * true, the Migrator runs every pending migration, and its bookkeeping, in one transaction.
 */
class TransactionalDdlSqliteAdapter extends SqliteAdapter {
  override get supportsTransactionalDdl(): boolean {
    return true;
  }
}

class NodeSqliteDriver implements Driver {
  readonly #connection: NodeSqliteConnection;
  #tail: Promise<void> = Promise.resolve();
  #release: (() => void) | undefined;
  /** Users holding the connection (0 or 1) or waiting for it. */
  #users = 0;
  readonly #onDestroy: (() => Promise<void>) | undefined;

  constructor(db: DatabaseSync, onDestroy?: () => Promise<void>) {
    this.#connection = new NodeSqliteConnection(db);
    this.#onDestroy = onDestroy;
  }
  async init(): Promise<void> {}
  async acquireConnection(): Promise<DatabaseConnection> {
    this.#users++;
    const previous = this.#tail;
    let release!: () => void;
    this.#tail = new Promise<void>((r) => {
      release = r;
    });
    await previous;
    this.#release = release;
    return this.#connection;
  }
  async releaseConnection(): Promise<void> {
    const release = this.#release;
    this.#release = undefined;
    this.#users--;
    release?.();
  }
  /** Runs `query` now if nobody holds or waits for the connection; undefined (not run) otherwise. */
  executeNowIfIdle(query: CompiledQuery): QueryResult<unknown> | undefined {
    if (this.#users > 0 || !this.#connection.isOpen) return undefined;
    return this.#connection.executeSync(query);
  }
  async beginTransaction(c: DatabaseConnection): Promise<void> {
    await c.executeQuery(CompiledQuery.raw('begin immediate'));
  }
  async commitTransaction(c: DatabaseConnection): Promise<void> {
    await c.executeQuery(CompiledQuery.raw('commit'));
  }
  async rollbackTransaction(c: DatabaseConnection): Promise<void> {
    await c.executeQuery(CompiledQuery.raw('rollback'));
  }
  async destroy(): Promise<void> {
    this.#connection.close();
    await this.#onDestroy?.();
  }
}

type SqlValue = null | number | bigint | string | Uint8Array;

class NodeSqliteConnection implements DatabaseConnection {
  readonly #db: DatabaseSync;
  readonly #statements = new Map<string, { stmt: StatementSync; reader: boolean }>();
  constructor(db: DatabaseSync) {
    this.#db = db;
  }
  get isOpen(): boolean {
    return this.#db.isOpen;
  }
  close(): void {
    if (this.#db.isOpen) this.#db.close();
  }
  async executeQuery<R>(query: CompiledQuery): Promise<QueryResult<R>> {
    return this.executeSync(query);
  }
  executeSync<R>(query: CompiledQuery): QueryResult<R> {
    let entry = this.#statements.get(query.sql);
    if (!entry) {
      const stmt = this.#db.prepare(query.sql);
      entry = { stmt, reader: stmt.columns().length > 0 };
      if (this.#statements.size < 500) this.#statements.set(query.sql, entry);
    }
    const params = query.parameters.map(toSqlValue);
    if (entry.reader) return { rows: entry.stmt.all(...params) as R[] };
    const r = entry.stmt.run(...params);
    return { rows: [], numAffectedRows: BigInt(r.changes), insertId: BigInt(r.lastInsertRowid) };
  }
  // biome-ignore lint/correctness/useYield: streaming is not used; refuse it loudly
  async *streamQuery<R>(): AsyncIterableIterator<QueryResult<R>> {
    throw new Error('streaming queries are not supported by the node:sqlite driver');
  }
}

function toSqlValue(v: unknown): SqlValue {
  if (v === undefined || v === null) return null;
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (typeof v === 'number' || typeof v === 'bigint' || typeof v === 'string') return v;
  if (v instanceof Uint8Array) return v;
  return String(v);
}
