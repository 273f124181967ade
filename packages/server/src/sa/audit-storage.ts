import type { Kysely, Transaction } from 'kysely';
import type { AuditEvent, AuditRecord } from '../core/audit.ts';
import { randomBytesPooled } from '../core/random.ts';
import { malformed } from '../errors.ts';
import { AUDIT_COLUMNS } from './columns.ts';
import { type PreparedQuery, preparedInsert } from './prepared.ts';
import type { AuditEventsTable, Database } from './tables.ts';

/**
 * The audit log's storage (docs/operations.md, "Audit"). Every state change inserts its event with
 * `insertAuditEvent` inside the transaction of the change — usually through `auditedTransaction`, which
 * also hands the committed events to the publisher (the JSON-lines file) once the commit succeeded. A
 * rolled-back change therefore leaves no row and no line; a committed one exactly one of each.
 */

/** Told about events after their transaction committed (never for rolled-back ones). Must not throw. */
export type AuditPublisher = (events: readonly AuditRecord[]) => void;

// biome-ignore lint/suspicious/noExplicitAny: any akamu schema view (withTables) of the same database
type Db = Kysely<any> | Transaction<any>;

/** Inserts one event in `trx` (the transaction of the change it records) and returns it with its id. */
export async function insertAuditEvent(trx: Db, event: AuditEvent): Promise<AuditRecord> {
  const record: AuditRecord = { id: newAuditId(), ...event };
  await auditInsert(trx).execute(trx, auditRecordToRow(record));
  return record;
}

/**
 * The audit INSERT, compiled once per dialect (every state change writes one, so building and compiling
 * it each time was most of its JavaScript cost). Keyed by the executor's adapter, which a database and
 * every transaction begun from it share.
 */
const auditInserts = new WeakMap<object, PreparedQuery<AuditEventsTable, unknown>>();
function auditInsert(trx: Db): PreparedQuery<AuditEventsTable, unknown> {
  const adapter = trx.getExecutor().adapter;
  let q = auditInserts.get(adapter);
  if (!q) {
    q = preparedInsert(trx as Kysely<Database>, 'audit_events', AUDIT_COLUMNS);
    auditInserts.set(adapter, q);
  }
  return q;
}

/**
 * Runs `fn` in one transaction; `audit(event)` inserts an event in it (undefined is ignored: callers
 * without an event, such as embedders' tests). After the commit the inserted events are published.
 */
export async function auditedTransaction<DB, T>(
  db: Kysely<DB>,
  publish: AuditPublisher | undefined,
  fn: (trx: Transaction<DB>, audit: (event: AuditEvent | undefined) => Promise<void>) => Promise<T>,
): Promise<T> {
  const written: AuditRecord[] = [];
  const result = await db.transaction().execute((trx) =>
    fn(trx, async (event) => {
      if (event) written.push(await insertAuditEvent(trx, event));
    }),
  );
  if (written.length > 0 && publish) {
    try {
      publish(written);
    } catch {
      // The change is committed; a publisher that throws (it should not) cannot undo it.
    }
  }
  return result;
}

export interface AuditQuery {
  /** An event type, or a prefix ending in `.*` (`operator.*`). */
  type?: string;
  actor?: string;
  objectType?: string;
  objectId?: string;
  /** Epoch ms, inclusive. */
  since?: number;
  /** Epoch ms, exclusive. */
  until?: number;
  /** 1–1000; default 100. */
  limit?: number;
  /** The `next` of the previous page. */
  cursor?: string;
}

export interface AuditPage {
  /** Newest first. */
  events: AuditRecord[];
  /** Set when older events follow: pass it as `cursor`. */
  next: string | undefined;
}

export const AUDIT_QUERY_MAX_LIMIT = 1000;

/** Events matching every given filter, newest first, a page at a time. Bad filters throw `malformed`. */
export async function queryAuditEvents(db: Kysely<Database>, filter: AuditQuery = {}): Promise<AuditPage> {
  const limit = filter.limit ?? 100;
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > AUDIT_QUERY_MAX_LIMIT) {
    throw malformed(`limit must be an integer from 1 to ${AUDIT_QUERY_MAX_LIMIT}`);
  }
  for (const [name, v] of [
    ['since', filter.since],
    ['until', filter.until],
  ] as const) {
    if (v !== undefined && !Number.isSafeInteger(v)) throw malformed(`${name} must be epoch milliseconds`);
  }
  let q = db.selectFrom('audit_events').selectAll();
  if (filter.type !== undefined) {
    if (filter.type.endsWith('.*')) {
      const prefix = filter.type.slice(0, -1);
      if (!/^[a-z_]+\.$/.test(prefix)) throw malformed('a type prefix is letters and _ followed by ".*"');
      // Every type starting with the prefix: from "p." up to "p/" ('/' follows '.'), exact on every backend.
      q = q.where('type', '>=', prefix).where('type', '<', `${prefix.slice(0, -1)}/`);
    } else q = q.where('type', '=', filter.type);
  }
  if (filter.actor !== undefined) q = q.where('actor', '=', filter.actor);
  if (filter.objectType !== undefined) q = q.where('object_type', '=', filter.objectType);
  if (filter.objectId !== undefined) q = q.where('object_id', '=', filter.objectId);
  if (filter.since !== undefined) q = q.where('at', '>=', filter.since);
  if (filter.until !== undefined) q = q.where('at', '<', filter.until);
  if (filter.cursor !== undefined) {
    const c = parseAuditCursor(filter.cursor);
    q = q.where((eb) => eb.or([eb('at', '<', c.at), eb.and([eb('at', '=', c.at), eb('id', '<', c.id)])]));
  }
  const rows = await q
    .orderBy('at', 'desc')
    .orderBy('id', 'desc')
    .limit(limit + 1)
    .execute();
  const events = rows.slice(0, limit).map(auditRowToRecord);
  const last = events.at(-1);
  return { events, next: rows.length > limit && last ? `${last.at}.${last.id}` : undefined };
}

/**
 * Event ids: 96 random bits in lower-case hex, so they sort alike on every backend (MariaDB compares text
 * case-insensitively): the tie-breaker of events written in the same millisecond.
 */
function newAuditId(): string {
  return randomBytesPooled(12).toString('hex');
}

function parseAuditCursor(cursor: string): { at: number; id: string } {
  const dot = cursor.indexOf('.');
  const at = Number(cursor.slice(0, dot));
  const id = cursor.slice(dot + 1);
  if (dot < 1 || !Number.isSafeInteger(at) || !/^[0-9a-f]{24}$/.test(id)) {
    throw malformed('the cursor is not one this server returned');
  }
  return { at, id };
}

/**
 * The audit log of one database: queries, and events that stand alone (configuration loaded, operator
 * actions without another row to change), each in its own transaction and published after it.
 */
export class SqlAuditLog {
  readonly #db: Kysely<Database>;
  readonly #publish: AuditPublisher | undefined;

  constructor(db: Kysely<Database>, publish?: AuditPublisher) {
    this.#db = db;
    this.#publish = publish;
  }

  queryAuditEvents(filter: AuditQuery = {}): Promise<AuditPage> {
    return queryAuditEvents(this.#db, filter);
  }

  /** Writes one event on its own. State changes use auditedTransaction with their own writes instead. */
  async record(event: AuditEvent): Promise<AuditRecord> {
    const stored = await this.#db.transaction().execute((trx) => insertAuditEvent(trx, event));
    try {
      this.#publish?.([stored]);
    } catch {
      // Committed; see auditedTransaction.
    }
    return stored;
  }

  /** Runs `fn` in a transaction whose events are published after the commit (for other storages). */
  transaction<T>(
    fn: (trx: Transaction<Database>, audit: (event: AuditEvent | undefined) => Promise<void>) => Promise<T>,
  ): Promise<T> {
    return auditedTransaction(this.#db, this.#publish, fn);
  }
}

function auditRecordToRow(r: AuditRecord): AuditEventsTable {
  return {
    id: r.id,
    at: r.at,
    type: r.type,
    actor: r.actor,
    object_type: r.objectType,
    object_id: r.objectId,
    outcome: r.outcome,
    detail: r.detail,
    source: r.source,
    request_id: r.requestId,
    details: r.details === null ? null : JSON.stringify(r.details),
  };
}

export function auditRowToRecord(r: AuditEventsTable): AuditRecord {
  return {
    id: r.id,
    at: Number(r.at),
    type: r.type as AuditRecord['type'],
    actor: r.actor,
    objectType: r.object_type,
    objectId: r.object_id,
    outcome: r.outcome as AuditRecord['outcome'],
    detail: r.detail,
    source: r.source,
    requestId: r.request_id,
    details: r.details === null ? null : (JSON.parse(r.details) as Record<string, unknown>),
  };
}
