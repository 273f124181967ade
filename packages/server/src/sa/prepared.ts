import type { Compilable, CompiledQuery, Kysely, QueryResult } from 'kysely';
import type { Database } from './tables.ts';

/**
 * A Kysely query built and compiled once, executed many times with new parameter values. Building and
 * compiling a query costs ~10 µs; executing a compiled one ~3 µs (measured on node:sqlite). Parameters
 * are named placeholders returned by `p('name')`; the compiled parameter list maps them back by position.
 * Only for queries whose shape never changes (no variable-length IN lists).
 */
const MARK = '\u0000akamu-param:';

export type Placeholder = <T = string>(name: string) => T;

export class PreparedQuery<P extends object, R> {
  readonly #compiled: CompiledQuery<R>;
  readonly #slots: (string | { value: unknown })[];

  constructor(build: (p: Placeholder) => Compilable<R>) {
    const p = (<T>(name: string) => `${MARK}${name}` as T) as Placeholder;
    this.#compiled = build(p).compile();
    this.#slots = this.#compiled.parameters.map((v) =>
      typeof v === 'string' && v.startsWith(MARK) ? v.slice(MARK.length) : { value: v },
    );
  }

  // biome-ignore lint/suspicious/noExplicitAny: runs in any Kysely instance or transaction of the same dialect
  execute(db: Kysely<any>, params: P): Promise<QueryResult<R>> {
    const values = params as Record<string, unknown>;
    const parameters = this.#slots.map((s) => (typeof s === 'string' ? values[s] : s.value));
    const query = { ...this.#compiled, parameters };
    const direct = directExecutors.get(db);
    if (direct) {
      try {
        const result = direct(query);
        if (result) return Promise.resolve(result as QueryResult<R>);
      } catch (error) {
        return Promise.reject(error);
      }
    }
    return db.executeQuery<R>(query);
  }

  // biome-ignore lint/suspicious/noExplicitAny: see execute()
  async first(db: Kysely<any>, params: P): Promise<R | undefined> {
    return (await this.execute(db, params)).rows[0];
  }
}

/** A prepared INSERT of one row whose parameters are named after its columns. */
export function preparedInsert<T extends keyof Database>(
  db: Kysely<Database>,
  table: T,
  columns: readonly (keyof Database[T] & string)[],
): PreparedQuery<Database[T], unknown> {
  return new PreparedQuery<Database[T], unknown>((p) =>
    // biome-ignore lint/suspicious/noExplicitAny: the column list is checked against the row converters' output
    db.insertInto(table).values(Object.fromEntries(columns.map((c) => [c, p(c)])) as any),
  );
}

/**
 * Runs a compiled query at once and returns its result, or returns undefined when it cannot right now (the
 * query then goes through Kysely). Registered per Kysely instance by a synchronous driver
 * (sqlite-dialect.ts); PostgreSQL and MariaDB have none.
 */
export type DirectExecutor = (query: CompiledQuery) => QueryResult<unknown> | undefined;
const directExecutors = new WeakMap<object, DirectExecutor>();

export function registerDirectExecutor(db: object, executor: DirectExecutor): void {
  directExecutors.set(db, executor);
}
