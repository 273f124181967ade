import type { Identifier } from '@akamu/protocol';
import { type Expression, type Kysely, type SqlBool, sql } from 'kysely';
import type { AuditEvent } from '../core/audit.ts';
import type { Account, Certificate, Order } from '../core/types.ts';
import { type AuditPublisher, auditedTransaction } from './audit-storage.ts';
import { accountRowToAccount, certificateRowToCertificate, orderRowToOrder } from './converters.ts';
import { isUniqueViolation } from './dialect.ts';
import type { AccountsTable, Database, OperatorsTable, OrdersTable } from './tables.ts';

/** The four operator roles of the admin API (docs/admin-api.md). */
export type OperatorRole = 'administrator' | 'operations' | 'registration_officer' | 'auditor';

/** What a registration officer may see and act on: accounts by id, certificates and orders by name. */
export interface OperatorScope {
  /** Names equal to or under one of these suffixes ("example.com" covers "a.example.com"). */
  identifierSuffixes: string[];
  accounts: string[];
}

export interface Operator {
  id: string;
  name: string;
  role: OperatorRole;
  /** Lower-case hex SHA-256 of the token's secret. Never rendered. */
  tokenHash: string;
  /** Upper-case hex SHA-256 of the client certificate (DER). */
  certFingerprint: string | null;
  scope: OperatorScope | null;
  disabled: boolean;
  failedLogins: number;
  lockedUntil: number | null;
  createdAt: number;
  tokenRotatedAt: number;
  lastLoginAt: number | null;
}

/** One page of a list: `next` is an opaque cursor when more rows follow. */
export interface Page<T> {
  items: T[];
  next: string | undefined;
}

export interface PageRequest {
  cursor?: string | undefined;
  limit: number;
}

/** A restriction of a list to a registration officer's scope (coarse: the caller re-checks each row). */
export interface ScopeFilter {
  accounts: string[];
  identifierSuffixes: string[];
}

export interface AccountFilter extends PageRequest {
  id?: string | undefined;
  status?: string | undefined;
  /** A substring of one of the contact URLs. */
  contact?: string | undefined;
  scope?: ScopeFilter | undefined;
}

export interface OrderFilter extends PageRequest {
  account?: string | undefined;
  /** A stored status: pending, processing, valid, invalid. */
  status?: string | undefined;
  scope?: ScopeFilter | undefined;
}

export type CertificateListStatus = 'valid' | 'revoked' | 'expired';

export interface CertificateFilter extends PageRequest {
  /** An identifier of the certificate's order, exactly ("www.example.com", "*.example.com", "192.0.2.1"). */
  name?: string | undefined;
  /** Lower-case hex. */
  serial?: string | undefined;
  account?: string | undefined;
  status?: CertificateListStatus | undefined;
  /** notAfter at or after / before these instants. */
  expiresAfter?: number | undefined;
  expiresBefore?: number | undefined;
  now: number;
  scope?: ScopeFilter | undefined;
}

export interface CertificateWithNames extends Certificate {
  identifiers: Identifier[];
}

export interface AdminStatistics {
  accounts: Record<string, number>;
  orders: Record<string, number>;
  certificates: Record<CertificateListStatus, number>;
  eabKeys: { used: number; unused: number };
  operators: Record<string, number>;
}

/** Reads for the admin API, and the operators table. */
export interface AdminStorage {
  countOperators(): Promise<number>;
  /** Inserts an operator with its audit event (one transaction); 'duplicate' when its name or fingerprint is taken. */
  insertOperator(op: Operator, audit?: AuditEvent): Promise<'created' | 'duplicate'>;
  getOperator(id: string): Promise<Operator | undefined>;
  getOperatorByFingerprint(fingerprint: string): Promise<Operator | undefined>;
  listOperators(): Promise<Operator[]>;
  /** Applies the changes; false when the operator does not exist. */
  updateOperator(
    id: string,
    changes: Partial<Pick<Operator, 'disabled' | 'tokenHash' | 'tokenRotatedAt' | 'lockedUntil'>>,
    audit?: AuditEvent,
  ): Promise<boolean>;
  /**
   * One more failed login, in one transaction: at `max` the operator is locked until `now + lockoutMs` and
   * the counter starts again. Returns the lockout end when this failure locked the operator.
   */
  recordFailedLogin(
    id: string,
    now: number,
    max: number,
    lockoutMs: number,
    audit?: (lockedUntil: number | undefined) => AuditEvent,
  ): Promise<number | undefined>;
  /** A successful login: the failure counter is reset. */
  recordLogin(id: string, now: number): Promise<void>;

  listAccounts(f: AccountFilter): Promise<Page<Account>>;
  listOrders(f: OrderFilter): Promise<Page<Order>>;
  listCertificates(f: CertificateFilter): Promise<Page<CertificateWithNames>>;
  /** The identifiers of a certificate's order (its names). */
  certificateIdentifiers(orderId: string): Promise<Identifier[]>;
  statistics(now: number): Promise<AdminStatistics>;
}

const num = (v: unknown): number => Number(v);

function operatorFromRow(r: OperatorsTable): Operator {
  return {
    id: r.id,
    name: r.name,
    role: r.role as OperatorRole,
    tokenHash: r.token_hash,
    certFingerprint: r.cert_fingerprint,
    scope: r.scope === null ? null : (JSON.parse(r.scope) as OperatorScope),
    disabled: num(r.disabled) === 1,
    failedLogins: num(r.failed_logins),
    lockedUntil: r.locked_until === null ? null : num(r.locked_until),
    createdAt: num(r.created_at),
    tokenRotatedAt: num(r.token_rotated_at),
    lastLoginAt: r.last_login_at === null ? null : num(r.last_login_at),
  };
}

/** A LIKE pattern matching `value` literally inside a column (escape character "!", portable). */
function likeLiteral(value: string): string {
  return value.replace(/[!%_]/g, (c) => `!${c}`);
}

/** `column LIKE pattern ESCAPE '!'` (SQLite has no default escape character; '!' needs no quoting anywhere). */
function like(column: string, pattern: string): Expression<SqlBool> {
  return sql<SqlBool>`${sql.ref(column)} like ${pattern} escape '!'`;
}

function encodeCursor(createdAt: number, id: string): string {
  return Buffer.from(JSON.stringify([createdAt, id])).toString('base64url');
}

/** The (created_at, id) a cursor carries; undefined for anything that is not one of ours. */
export function decodeCursor(cursor: string): [number, string] | undefined {
  try {
    const v = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown;
    if (Array.isArray(v) && v.length === 2 && Number.isSafeInteger(v[0]) && typeof v[1] === 'string')
      return [v[0] as number, v[1] as string];
  } catch {
    // not JSON: not a cursor
  }
  return undefined;
}

/** AdminStorage on the akamu database (SQLite, PostgreSQL, MariaDB) through Kysely. */
export class SqlAdminStorage implements AdminStorage {
  readonly #db: Kysely<Database>;
  readonly #publish: AuditPublisher | undefined;

  /** `publishAudit` is told of committed audit events (the `[audit] file`). */
  constructor(db: Kysely<Database>, publishAudit?: AuditPublisher) {
    this.#db = db;
    this.#publish = publishAudit;
  }

  async countOperators(): Promise<number> {
    const r = await this.#db
      .selectFrom('operators')
      .select((eb) => eb.fn.countAll().as('n'))
      .executeTakeFirst();
    return num(r?.n ?? 0);
  }

  async insertOperator(op: Operator, event?: AuditEvent): Promise<'created' | 'duplicate'> {
    try {
      await auditedTransaction(this.#db, this.#publish, async (trx, audit) => {
        await trx
          .insertInto('operators')
          .values({
            id: op.id,
            name: op.name,
            role: op.role,
            token_hash: op.tokenHash,
            cert_fingerprint: op.certFingerprint,
            scope: op.scope === null ? null : JSON.stringify(op.scope),
            disabled: op.disabled ? 1 : 0,
            failed_logins: 0,
            locked_until: null,
            created_at: op.createdAt,
            token_rotated_at: op.tokenRotatedAt,
            last_login_at: null,
          })
          .execute();
        await audit(event);
      });
      return 'created';
    } catch (e) {
      if (isUniqueViolation(e)) return 'duplicate';
      throw e;
    }
  }

  async getOperator(id: string): Promise<Operator | undefined> {
    const r = await this.#db.selectFrom('operators').selectAll().where('id', '=', id).executeTakeFirst();
    return r && operatorFromRow(r);
  }

  async getOperatorByFingerprint(fingerprint: string): Promise<Operator | undefined> {
    const r = await this.#db
      .selectFrom('operators')
      .selectAll()
      .where('cert_fingerprint', '=', fingerprint)
      .executeTakeFirst();
    return r && operatorFromRow(r);
  }

  async listOperators(): Promise<Operator[]> {
    const rows = await this.#db
      .selectFrom('operators')
      .selectAll()
      .orderBy('created_at')
      .orderBy('id')
      .execute();
    return rows.map(operatorFromRow);
  }

  async updateOperator(
    id: string,
    changes: Partial<Pick<Operator, 'disabled' | 'tokenHash' | 'tokenRotatedAt' | 'lockedUntil'>>,
    event?: AuditEvent,
  ): Promise<boolean> {
    const set: Partial<OperatorsTable> = {};
    if (changes.disabled !== undefined) set.disabled = changes.disabled ? 1 : 0;
    if (changes.tokenHash !== undefined) set.token_hash = changes.tokenHash;
    if (changes.tokenRotatedAt !== undefined) set.token_rotated_at = changes.tokenRotatedAt;
    if (changes.lockedUntil !== undefined) set.locked_until = changes.lockedUntil;
    if (changes.tokenHash !== undefined || changes.lockedUntil === null) set.failed_logins = 0;
    return auditedTransaction(this.#db, this.#publish, async (trx, audit) => {
      await trx.updateTable('operators').set(set).where('id', '=', id).execute();
      // MariaDB counts changed rows, not matched ones: existence is read back.
      const exists = await trx.selectFrom('operators').select('id').where('id', '=', id).executeTakeFirst();
      if (exists) await audit(event);
      return exists !== undefined;
    });
  }

  recordFailedLogin(
    id: string,
    now: number,
    max: number,
    lockoutMs: number,
    event?: (lockedUntil: number | undefined) => AuditEvent,
  ): Promise<number | undefined> {
    return auditedTransaction(this.#db, this.#publish, async (tx, audit) => {
      await tx
        .updateTable('operators')
        .set((eb) => ({ failed_logins: eb('failed_logins', '+', 1) }))
        .where('id', '=', id)
        .execute();
      const r = await tx
        .selectFrom('operators')
        .select('failed_logins')
        .where('id', '=', id)
        .executeTakeFirst();
      if (!r) return undefined;
      if (num(r.failed_logins) < max) {
        await audit(event?.(undefined));
        return undefined;
      }
      const until = now + lockoutMs;
      await tx
        .updateTable('operators')
        .set({ failed_logins: 0, locked_until: until })
        .where('id', '=', id)
        .execute();
      await audit(event?.(until));
      return until;
    });
  }

  async recordLogin(id: string, now: number): Promise<void> {
    await this.#db
      .updateTable('operators')
      .set({ failed_logins: 0, last_login_at: now })
      .where('id', '=', id)
      .execute();
  }

  async listAccounts(f: AccountFilter): Promise<Page<Account>> {
    let q = this.#db.selectFrom('accounts').selectAll();
    if (f.id) q = q.where('id', '=', f.id);
    if (f.status) q = q.where('status', '=', f.status);
    if (f.contact) q = q.where(like('contact', `%${likeLiteral(f.contact)}%`));
    if (f.scope) {
      if (f.scope.accounts.length === 0) return { items: [], next: undefined };
      q = q.where('id', 'in', f.scope.accounts);
    }
    const rows = await this.#page<AccountsTable>(q, f, 'accounts');
    return { items: rows.items.map(accountRowToAccount), next: rows.next };
  }

  async listOrders(f: OrderFilter): Promise<Page<Order>> {
    let q = this.#db.selectFrom('orders').selectAll();
    if (f.account) q = q.where('account_id', '=', f.account);
    if (f.status) q = q.where('status', '=', f.status);
    if (f.scope) {
      const scope = f.scope;
      q = q.where((eb) => eb.or(scopeConditions(eb, scope, 'account_id', 'identifiers')));
    }
    const rows = await this.#page<OrdersTable>(q, f, 'orders');
    return { items: rows.items.map(orderRowToOrder), next: rows.next };
  }

  async listCertificates(f: CertificateFilter): Promise<Page<CertificateWithNames>> {
    let q = this.#db
      .selectFrom('certificates as c')
      .innerJoin('orders as o', 'o.id', 'c.order_id')
      .selectAll('c')
      .select('o.identifiers as identifiers');
    if (f.serial) q = q.where('c.serial', '=', f.serial);
    if (f.account) q = q.where('c.account_id', '=', f.account);
    if (f.name) q = q.where(like('o.identifiers', `%"value":${likeLiteral(JSON.stringify(f.name))}%`));
    if (f.status === 'revoked') q = q.where('c.status', '=', 'revoked');
    if (f.status === 'valid') q = q.where('c.status', '=', 'valid').where('c.not_after', '>=', f.now);
    if (f.status === 'expired') q = q.where('c.status', '=', 'valid').where('c.not_after', '<', f.now);
    if (f.expiresAfter !== undefined) q = q.where('c.not_after', '>=', f.expiresAfter);
    if (f.expiresBefore !== undefined) q = q.where('c.not_after', '<', f.expiresBefore);
    if (f.scope) {
      const scope = f.scope;
      q = q.where((eb) => eb.or(scopeConditions(eb, scope, 'c.account_id', 'o.identifiers')));
    }
    if (f.cursor !== undefined) {
      const c = decodeCursor(f.cursor);
      if (!c) return { items: [], next: undefined };
      q = q.where((eb) =>
        eb.or([
          eb('c.created_at', '<', c[0]),
          eb.and([eb('c.created_at', '=', c[0]), eb('c.id', '<', c[1])]),
        ]),
      );
    }
    const rows = await q
      .orderBy('c.created_at', 'desc')
      .orderBy('c.id', 'desc')
      .limit(f.limit + 1)
      .execute();
    const more = rows.length > f.limit;
    const items = rows.slice(0, f.limit).map((r) => ({
      ...certificateRowToCertificate(r),
      identifiers: JSON.parse(r.identifiers) as Identifier[],
    }));
    const last = items.at(-1);
    return { items, next: more && last ? encodeCursor(last.createdAt, last.id) : undefined };
  }

  async certificateIdentifiers(orderId: string): Promise<Identifier[]> {
    const r = await this.#db
      .selectFrom('orders')
      .select('identifiers')
      .where('id', '=', orderId)
      .executeTakeFirst();
    return r ? (JSON.parse(r.identifiers) as Identifier[]) : [];
  }

  async statistics(now: number): Promise<AdminStatistics> {
    const counts = async (table: 'accounts' | 'orders' | 'operators', column: 'status' | 'role') => {
      const rows = await this.#db
        .selectFrom(table)
        // biome-ignore lint/suspicious/noExplicitAny: one helper over three tables that all have the column
        .select([sql.ref<string>(column).as('k'), (eb: any) => eb.fn.countAll().as('n')])
        .groupBy(column)
        .execute();
      const out: Record<string, number> = {};
      for (const r of rows as unknown as { k: string; n: unknown }[]) out[r.k] = num(r.n);
      return out;
    };
    const certs = await this.#db
      .selectFrom('certificates')
      .select([
        (eb) => eb.fn.countAll().as('n'),
        sql<string>`case when status = 'revoked' then 'revoked' when not_after < ${now} then 'expired' else 'valid' end`.as(
          'k',
        ),
      ])
      .groupBy('k')
      .execute();
    const certificates: Record<CertificateListStatus, number> = { valid: 0, revoked: 0, expired: 0 };
    for (const r of certs) certificates[r.k as CertificateListStatus] = num(r.n);
    const eab = await this.#db
      .selectFrom('eab_keys')
      .select([
        (eb) => eb.fn.countAll().as('n'),
        sql<number>`case when used_by is null then 0 else 1 end`.as('used'),
      ])
      .groupBy('used')
      .execute();
    const eabKeys = { used: 0, unused: 0 };
    for (const r of eab) eabKeys[num(r.used) === 1 ? 'used' : 'unused'] = num(r.n);
    return {
      accounts: await counts('accounts', 'status'),
      orders: await counts('orders', 'status'),
      certificates,
      eabKeys,
      operators: await counts('operators', 'role'),
    };
  }

  /** Keyset pagination, newest first, on (created_at, id). */
  async #page<T>(
    // biome-ignore lint/suspicious/noExplicitAny: a select over accounts or orders
    query: any,
    f: PageRequest,
    _table: string,
  ): Promise<Page<T>> {
    let q = query;
    if (f.cursor !== undefined) {
      const c = decodeCursor(f.cursor);
      if (!c) return { items: [], next: undefined };
      // biome-ignore lint/suspicious/noExplicitAny: see query
      q = q.where((eb: any) =>
        eb.or([eb('created_at', '<', c[0]), eb.and([eb('created_at', '=', c[0]), eb('id', '<', c[1])])]),
      );
    }
    const rows = (await q
      .orderBy('created_at', 'desc')
      .orderBy('id', 'desc')
      .limit(f.limit + 1)
      .execute()) as T[];
    const more = rows.length > f.limit;
    const items = rows.slice(0, f.limit);
    const last = items.at(-1) as { created_at: number; id: string } | undefined;
    return { items, next: more && last ? encodeCursor(num(last.created_at), last.id) : undefined };
  }
}

/**
 * The coarse SQL side of a scope: the account is one of the scope's, or some identifier lies under one of
 * its suffixes. (The admin layer then requires every identifier to be in scope.)
 */
// biome-ignore lint/suspicious/noExplicitAny: an expression builder over orders or certificates ⋈ orders
function scopeConditions(eb: any, scope: ScopeFilter, accountColumn: string, identifiersColumn: string) {
  const out: Expression<SqlBool>[] = [];
  if (scope.accounts.length > 0) out.push(eb(accountColumn, 'in', scope.accounts));
  for (const suffix of scope.identifierSuffixes) {
    out.push(like(identifiersColumn, `%"value":${likeLiteral(JSON.stringify(suffix))}%`));
    out.push(like(identifiersColumn, `%.${likeLiteral(JSON.stringify(suffix).slice(1))}%`));
  }
  if (out.length === 0) out.push(sql<SqlBool>`1 = 0`);
  return out;
}
