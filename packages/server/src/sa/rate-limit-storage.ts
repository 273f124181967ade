import type { Kysely, Transaction } from 'kysely';
import { ignoringDuplicates, type SqlDialectName } from './dialect.ts';
import type { Database } from './tables.ts';

/** One bucket to take a hit from: at most `limit` hits per fixed window of `windowMs`. */
export interface BucketRequest {
  /** At most 96 characters (ra/rate-limits.ts hashes what it counts). */
  bucket: string;
  limit: number;
  windowMs: number;
}

export type TakeResult =
  | { ok: true }
  /** The bucket at `index` is full until `freeAt` (epoch ms); nothing was counted. */
  | { ok: false; index: number; freeAt: number };

/**
 * Rate-limit buckets (RFC 8555 §6.6) shared by every node on the database. A bucket counts hits in a fixed
 * window that starts with its first hit; each change is one conditional UPDATE, so concurrent requests on
 * any number of nodes never count past a limit.
 */
export interface RateLimitStore {
  /**
   * Counts one hit in every bucket if each stays within its limit, else counts none (one transaction).
   */
  take(requests: BucketRequest[], now: number): Promise<TakeResult>;
  /** Counts one hit without refusing (an event that happened, e.g. a failed validation), up to `cap`. */
  record(request: BucketRequest, now: number): Promise<void>;
  /** Whether a bucket is full now; with the instant it frees. */
  isFull(request: BucketRequest, now: number): Promise<{ full: false } | { full: true; freeAt: number }>;
  /** Pending, unexpired authorizations of an account, and the earliest of their expiries. */
  pendingAuthorizations(accountId: string, now: number): Promise<{ count: number; firstExpiry: number }>;
  /** Deletes buckets whose window ended before `now`. */
  deleteExpired(now: number): Promise<number>;
}

/** Thrown inside the transaction to roll back the hits already counted. */
class Refused {
  readonly index: number;
  readonly freeAt: number;
  constructor(index: number, freeAt: number) {
    this.index = index;
    this.freeAt = freeAt;
  }
}

/** RateLimitStore on the akamu database (SQLite, PostgreSQL, MariaDB) through Kysely. */
export class SqlRateLimitStore implements RateLimitStore {
  readonly #db: Kysely<Database>;
  readonly #dialect: SqlDialectName;

  constructor(db: Kysely<Database>, dialect: SqlDialectName) {
    this.#db = db;
    this.#dialect = dialect;
  }

  async take(requests: BucketRequest[], now: number): Promise<TakeResult> {
    if (requests.length === 0) return { ok: true };
    // A fixed order of row locks, so two transactions taking the same buckets never deadlock.
    const order = requests.map((r, i) => ({ r, i })).sort((a, b) => (a.r.bucket < b.r.bucket ? -1 : 1));
    return this.#retrying(async () => {
      // The rows exist before the transaction locks them: an INSERT inside it would hold a shared lock on
      // MariaDB that two transactions then both want to upgrade (a deadlock).
      for (const { r } of order) await this.#create(r, now);
      try {
        await this.#db.transaction().execute(async (trx) => {
          for (const { r, i } of order) {
            if (!(await this.#hit(trx, r, now))) {
              const row = await trx
                .selectFrom('rate_limit_buckets')
                .select('expires_at')
                .where('bucket', '=', r.bucket)
                .executeTakeFirst();
              // Deleted by the sweep meanwhile: start over.
              if (!row) throw new Vanished();
              throw new Refused(i, Number(row.expires_at));
            }
          }
        });
        return { ok: true };
      } catch (e) {
        if (e instanceof Refused) return { ok: false, index: e.index, freeAt: e.freeAt };
        throw e;
      }
    });
  }

  async record(r: BucketRequest, now: number): Promise<void> {
    await this.#retrying(async () => {
      await this.#create(r, now);
      await this.#db.transaction().execute((trx) => this.#hit(trx, r, now));
    });
  }

  async isFull(r: BucketRequest, now: number): Promise<{ full: false } | { full: true; freeAt: number }> {
    const row = await this.#db
      .selectFrom('rate_limit_buckets')
      .select(['hits', 'expires_at'])
      .where('bucket', '=', r.bucket)
      .executeTakeFirst();
    if (!row || Number(row.expires_at) <= now || Number(row.hits) < r.limit) return { full: false };
    return { full: true, freeAt: Number(row.expires_at) };
  }

  async pendingAuthorizations(
    accountId: string,
    now: number,
  ): Promise<{ count: number; firstExpiry: number }> {
    const row = await this.#db
      .selectFrom('authorizations')
      .select((eb) => [eb.fn.countAll().as('n'), eb.fn.min('expires_at').as('first')])
      .where('account_id', '=', accountId)
      .where('status', '=', 'pending')
      .where('expires_at', '>', now)
      .executeTakeFirst();
    return { count: Number(row?.n ?? 0), firstExpiry: Number(row?.first ?? now) };
  }

  async deleteExpired(now: number): Promise<number> {
    const r = await this.#db
      .deleteFrom('rate_limit_buckets')
      .where('expires_at', '<=', now)
      .executeTakeFirst();
    return Number(r.numDeletedRows);
  }

  /** Creates the bucket (autocommit) when it does not exist. */
  async #create(r: BucketRequest, now: number): Promise<void> {
    await ignoringDuplicates(
      this.#db
        .insertInto('rate_limit_buckets')
        .values({ bucket: r.bucket, hits: 0, expires_at: now + r.windowMs }),
      this.#dialect,
    ).execute();
  }

  /**
   * Starts a new window when the last one has ended, then counts one hit if the bucket is below its limit
   * (the first UPDATE locks the row until the transaction ends). False: the bucket is full or gone.
   */
  async #hit(trx: Transaction<Database>, r: BucketRequest, now: number): Promise<boolean> {
    await trx
      .updateTable('rate_limit_buckets')
      .set({ hits: 0, expires_at: now + r.windowMs })
      .where('bucket', '=', r.bucket)
      .where('expires_at', '<=', now)
      .execute();
    const counted = await trx
      .updateTable('rate_limit_buckets')
      .set((eb) => ({ hits: eb('hits', '+', 1) }))
      .where('bucket', '=', r.bucket)
      .where('hits', '<', r.limit)
      .executeTakeFirst();
    return Number(counted.numUpdatedRows) === 1;
  }

  /** Runs `work` again when the database chose it as a deadlock victim or the bucket vanished. */
  async #retrying<T>(work: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await work();
      } catch (e) {
        if (attempt >= 5 || !(e instanceof Vanished || isRetryable(e))) throw e;
      }
    }
  }
}

class Vanished extends Error {}

/** A deadlock or serialization failure the database asks the client to retry (PostgreSQL, MariaDB). */
function isRetryable(e: unknown): boolean {
  const err = e as { code?: unknown; errno?: unknown };
  return err?.code === '40001' || err?.code === '40P01' || err?.errno === 1213 || err?.errno === 1205;
}
