import type { Identifier, ProblemJson } from '@akamu/protocol';
import { type Kysely, sql, type Transaction } from 'kysely';
import type { AuditEvent } from '../core/audit.ts';
import { setBounded } from '../core/bounded-map.ts';
import type { Account, Authorization, Certificate, Challenge, Order } from '../core/types.ts';
import { type AuditPublisher, auditedTransaction } from './audit-storage.ts';
import {
  ACCOUNT_COLUMNS,
  AUTHZ_COLUMNS,
  AUTHZ_JOINED_COLUMNS,
  CERT_COLUMNS,
  CHALLENGE_COLUMNS,
  ORDER_COLUMNS,
} from './columns.ts';
import {
  accountRowToAccount,
  accountToRow,
  authorizationRowToAuthorization,
  authorizationToRow,
  certificateRowToCertificate,
  certificateToRow,
  challengeRowToChallenge,
  challengeToRow,
  orderRowToOrder,
  orderToRow,
} from './converters.ts';
import { ignoringDuplicates, isUniqueViolation, type SqlDialectName } from './dialect.ts';
import { PreparedQuery, preparedInsert } from './prepared.ts';
import { currentCrlNumber, listRevokedCertificates, nextCrlNumber } from './revocation-queries.ts';
import type { RevokedCertificate, StorageAuthority } from './storage-authority.ts';
import type { AccountsTable, AuthorizationsTable, ChallengesTable, Database } from './tables.ts';

/** StorageAuthority over Kysely: the only module that writes SQL. Hot queries are compiled once (PreparedQuery). */
export class SqlStorageAuthority implements StorageAuthority {
  readonly #db: Kysely<Database>;
  readonly #q;

  /** Accounts read recently, by id: every authenticated request reads its account. */
  readonly #accounts = new Map<string, { account: Account; until: number }>();
  readonly #accountCacheMs: number;
  readonly #dialect: SqlDialectName;
  readonly #now: () => number;
  /** Told about audit events once their transaction committed (the JSON-lines file). */
  readonly #publishAudit: AuditPublisher | undefined;

  /**
   * `accountCacheMs` bounds how stale a cached account may be when another process changed it (writes
   * through this instance update the cache at once); 0 disables the cache.
   */
  constructor(
    db: Kysely<Database>,
    opts: {
      accountCacheMs?: number;
      now?: () => number;
      dialect?: SqlDialectName;
      publishAudit?: AuditPublisher;
    } = {},
  ) {
    this.#db = db;
    this.#publishAudit = opts.publishAudit;
    const dialect = opts.dialect ?? 'sqlite';
    this.#dialect = dialect;
    this.#accountCacheMs = opts.accountCacheMs ?? 0;
    this.#now = opts.now ?? Date.now;
    this.#q = {
      insertNonce: new PreparedQuery((p) =>
        ignoringDuplicates(
          db.insertInto('used_nonces').values({ issued_at: p<number>('issuedAt'), nonce: p('nonce') }),
          dialect,
        ),
      ),
      accountById: new PreparedQuery((p) =>
        db.selectFrom('accounts').select(ACCOUNT_COLUMNS).where('id', '=', p('id')),
      ),
      accountByThumbprint: new PreparedQuery((p) =>
        db.selectFrom('accounts').select(ACCOUNT_COLUMNS).where('thumbprint', '=', p('thumbprint')),
      ),
      orderById: new PreparedQuery((p) =>
        db.selectFrom('orders').select(ORDER_COLUMNS).where('id', '=', p('id')),
      ),
      authzJoinedById: new PreparedQuery((p) =>
        db
          .selectFrom('authorizations as a')
          .leftJoin('challenges as c', 'c.authorization_id', 'a.id')
          .select(AUTHZ_JOINED_COLUMNS)
          .where('a.id', '=', p('id'))
          .orderBy('c.type'),
      ),
      authzJoinedByChallenge: new PreparedQuery((p) =>
        db
          .selectFrom('authorizations as a')
          .leftJoin('challenges as c', 'c.authorization_id', 'a.id')
          .select(AUTHZ_JOINED_COLUMNS)
          .where('a.id', '=', (eb) =>
            eb.selectFrom('challenges').select('authorization_id').where('id', '=', p('id')),
          )
          .orderBy('c.type'),
      ),
      startChallenge: new PreparedQuery((p) =>
        db
          .updateTable('challenges')
          .set({ status: 'processing', processing_since: p<number>('now') })
          .where('id', '=', p('id'))
          .where('status', '=', 'pending'),
      ),
      insertAccount: preparedInsert(db, 'accounts', ACCOUNT_COLUMNS),
      insertOrder: preparedInsert(db, 'orders', [...ORDER_COLUMNS, 'finalize_started_at']),
      insertAuthz: preparedInsert(db, 'authorizations', AUTHZ_COLUMNS),
      insertChallenge: preparedInsert(db, 'challenges', CHALLENGE_COLUMNS),
      insertCertificate: preparedInsert(db, 'certificates', CERT_COLUMNS),
      validAuthzFor: new PreparedQuery((p) =>
        db
          .selectFrom('authorizations')
          .select(AUTHZ_COLUMNS)
          .where('account_id', '=', p('account'))
          .where('identifier_value', '=', p('value'))
          .where('status', '=', 'valid')
          .where('expires_at', '>', p<number>('now')),
      ),
      challengeValid: new PreparedQuery((p) =>
        db
          .updateTable('challenges')
          .set({ status: 'valid', validated_at: p<number>('at'), error: null })
          .where('id', '=', p('id'))
          .where('status', '=', 'processing'),
      ),
      challengeInvalid: new PreparedQuery((p) =>
        db
          .updateTable('challenges')
          .set({ status: 'invalid', error: p('error') })
          .where('id', '=', p('id'))
          .where('status', '=', 'processing'),
      ),
      authzValid: new PreparedQuery((p) =>
        db
          .updateTable('authorizations')
          .set({ status: 'valid', expires_at: p<number>('expires') })
          .where('id', '=', p('id'))
          .where('status', '=', 'pending'),
      ),
      authzInvalid: new PreparedQuery((p) =>
        db
          .updateTable('authorizations')
          .set({ status: 'invalid' })
          .where('id', '=', p('id'))
          .where('status', '=', 'pending'),
      ),
      orderValid: new PreparedQuery((p) =>
        db
          .updateTable('orders')
          .set({ status: 'valid', certificate_id: p('certificate') })
          .where('id', '=', p('id'))
          .where('status', '=', 'processing'),
      ),
      certById: new PreparedQuery((p) =>
        db.selectFrom('certificates').select(CERT_COLUMNS).where('id', '=', p('id')),
      ),
      certBySerial: new PreparedQuery((p) =>
        db.selectFrom('certificates').select(CERT_COLUMNS).where('serial', '=', p('serial')),
      ),
      beginFinalize: new PreparedQuery((p) =>
        db
          .updateTable('orders')
          .set({ status: 'processing', finalize_started_at: p<number>('now') })
          .where('id', '=', p('id'))
          .where('status', '=', 'pending'),
      ),
    };
  }

  async getOrCreateSetting(name: string, value: string): Promise<string> {
    const existing = await this.#db
      .selectFrom('settings')
      .select('value')
      .where('name', '=', name)
      .executeTakeFirst();
    if (existing) return existing.value;
    try {
      await this.#db.insertInto('settings').values({ name, value }).execute();
      return value;
    } catch (e) {
      if (!isUniqueViolation(e)) throw e;
      const row = await this.#db
        .selectFrom('settings')
        .select('value')
        .where('name', '=', name)
        .executeTakeFirstOrThrow();
      return row.value;
    }
  }

  /**
   * Group commit: nonces redeemed in the same turn of the event loop are inserted in one transaction, so
   * a busy server pays for one commit per batch instead of one per request. Each nonce still gets its own
   * answer (ON CONFLICT DO NOTHING, then the row count says whether this insert was the first).
   */
  consumeNonce(nonce: string, issuedAt: number): Promise<boolean> {
    return new Promise((resolve, reject) => {
      this.#nonceBatch.push({ nonce, issuedAt, resolve, reject });
      if (this.#nonceBatch.length === 1) setImmediate(() => void this.#flushNonces());
    });
  }

  readonly #nonceBatch: {
    nonce: string;
    issuedAt: number;
    resolve: (used: boolean) => void;
    reject: (e: unknown) => void;
  }[] = [];

  async #flushNonces(): Promise<void> {
    const batch = this.#nonceBatch.splice(0);
    if (batch.length === 1) {
      const n = batch[0]!;
      this.#q.insertNonce
        .execute(this.#db, { nonce: n.nonce, issuedAt: n.issuedAt })
        .then((r) => n.resolve(Number(r.numAffectedRows) === 1), n.reject);
      return;
    }
    try {
      const results = await this.#db.transaction().execute(async (trx) => {
        const out: boolean[] = [];
        for (const n of batch) {
          const r = await this.#q.insertNonce.execute(trx, { nonce: n.nonce, issuedAt: n.issuedAt });
          out.push(Number(r.numAffectedRows) === 1);
        }
        return out;
      });
      for (const [i, n] of batch.entries()) n.resolve(results[i]!);
    } catch (e) {
      for (const n of batch) n.reject(e);
    }
  }

  async deleteExpiredNonces(issuedBefore: number): Promise<number> {
    const r = await this.#db
      .deleteFrom('used_nonces')
      .where('issued_at', '<', issuedBefore)
      .executeTakeFirst();
    return Number(r.numDeletedRows);
  }

  async getAccount(id: string): Promise<Account | undefined> {
    const cached = this.#accounts.get(id);
    if (cached && cached.until > this.#now()) return cached.account;
    const row = await this.#q.accountById.first(this.#db, { id });
    const account = row && accountRowToAccount(row as AccountsTable);
    if (account) this.#remember(account);
    return account;
  }

  #remember(account: Account): void {
    if (this.#accountCacheMs <= 0) return;
    setBounded(this.#accounts, account.id, { account, until: this.#now() + this.#accountCacheMs }, 10_000);
  }

  async getAccountByThumbprint(thumbprint: string): Promise<Account | undefined> {
    const row = await this.#q.accountByThumbprint.first(this.#db, { thumbprint });
    return row && accountRowToAccount(row as AccountsTable);
  }

  async createAccount(account: Account, audit?: AuditEvent): Promise<{ account: Account; created: boolean }> {
    const row = accountToRow(account);
    try {
      await this.#audited(async (trx, record) => {
        await this.#q.insertAccount.execute(trx, row);
        await record(audit);
      });
      // The new account's next request (by kid) finds it here instead of reading it back: the same object
      // a read of the row gives, so the cache never holds the caller's own (mutable) one.
      this.#remember(accountRowToAccount(row));
      return { account, created: true };
    } catch (e) {
      if (!isUniqueViolation(e)) throw e;
      const existing = await this.getAccountByThumbprint(account.thumbprint);
      if (!existing) throw e;
      return { account: existing, created: false };
    }
  }

  async updateAccount(
    id: string,
    changes: { contact?: string[]; status?: Account['status'] },
    audit?: AuditEvent,
  ): Promise<Account | undefined> {
    const set: Partial<AccountsTable> = {};
    if (changes.contact) set.contact = JSON.stringify(changes.contact);
    if (changes.status) set.status = changes.status;
    if (Object.keys(set).length > 0) {
      await this.#audited(async (trx, record) => {
        const r = await trx
          .updateTable('accounts')
          .set(set)
          .where('id', '=', id)
          .where('status', '=', 'valid')
          .executeTakeFirst();
        if (Number(r.numUpdatedRows) === 1) await record(audit);
      });
    }
    this.#accounts.delete(id);
    return this.getAccount(id);
  }

  async changeAccountKey(
    id: string,
    oldThumbprint: string,
    next: { thumbprint: string; jwk: Record<string, unknown> },
    audit?: AuditEvent,
  ): Promise<'changed' | 'conflict' | 'stale'> {
    this.#accounts.delete(id);
    try {
      return await this.#audited(async (trx, record) => {
        const r = await trx
          .updateTable('accounts')
          .set({ thumbprint: next.thumbprint, jwk: JSON.stringify(next.jwk) })
          .where('id', '=', id)
          .where('thumbprint', '=', oldThumbprint)
          .where('status', '=', 'valid')
          .executeTakeFirst();
        if (Number(r.numUpdatedRows) !== 1) return 'stale';
        // dns-persist-01 records computed with the old key keep validating (draft §4.2).
        await trx
          .deleteFrom('account_key_history')
          .where('account_id', '=', id)
          .where('thumbprint', '=', oldThumbprint)
          .execute();
        await trx
          .insertInto('account_key_history')
          .values({ account_id: id, thumbprint: oldThumbprint, retired_at: this.#now() })
          .execute();
        await record(audit);
        return 'changed' as const;
      });
    } catch (e) {
      if (isUniqueViolation(e)) return 'conflict';
      throw e;
    }
  }

  async previousAccountThumbprints(accountId: string): Promise<string[]> {
    const rows = await this.#db
      .selectFrom('account_key_history')
      .innerJoin('accounts', 'accounts.id', 'account_key_history.account_id')
      .select('account_key_history.thumbprint')
      .where('account_key_history.account_id', '=', accountId)
      .where('accounts.status', '=', 'valid')
      .orderBy('account_key_history.retired_at', 'desc')
      .execute();
    return rows.map((r) => r.thumbprint);
  }

  async findValidAuthorizations(
    accountId: string,
    identifiers: Identifier[],
    now: number,
  ): Promise<Authorization[]> {
    if (identifiers.length === 0) return [];
    if (identifiers.length === 1) {
      const found = await this.#q.validAuthzFor.execute(this.#db, {
        account: accountId,
        value: identifiers[0]!.value,
        now,
      });
      return this.#withChallenges(found.rows as AuthorizationsTable[]);
    }
    const rows = await this.#db
      .selectFrom('authorizations')
      .select(AUTHZ_COLUMNS)
      .where('account_id', '=', accountId)
      .where(
        'identifier_value',
        'in',
        identifiers.map((i) => i.value),
      )
      .where('status', '=', 'valid')
      .where('expires_at', '>', now)
      .execute();
    return this.#withChallenges(rows as AuthorizationsTable[]);
  }

  async createOrder(order: Order, newAuthorizations: Authorization[], audit?: AuditEvent): Promise<void> {
    await this.#audited(async (trx, record) => {
      for (const a of newAuthorizations) {
        await this.#q.insertAuthz.execute(trx, authorizationToRow(a));
        for (const c of a.challenges) await this.#q.insertChallenge.execute(trx, challengeToRow(c));
      }
      await this.#q.insertOrder.execute(trx, orderToRow(order));
      await record(audit);
    });
  }

  async createAuthorizations(authorizations: Authorization[], audit?: AuditEvent[]): Promise<void> {
    await this.#audited(async (trx, record) => {
      for (const a of authorizations) {
        await this.#q.insertAuthz.execute(trx, authorizationToRow(a));
        for (const c of a.challenges) await this.#q.insertChallenge.execute(trx, challengeToRow(c));
      }
      for (const e of audit ?? []) await record(e);
    });
  }

  async getOrder(id: string): Promise<Order | undefined> {
    const row = await this.#q.orderById.first(this.#db, { id });
    return row && orderRowToOrder(row);
  }

  async getAuthorizations(ids: string[]): Promise<Authorization[]> {
    if (ids.length === 0) return [];
    if (ids.length === 1) {
      const one = await this.getAuthorization(ids[0]!);
      return one ? [one] : [];
    }
    const rows = await this.#db
      .selectFrom('authorizations')
      .select(AUTHZ_COLUMNS)
      .where('id', 'in', ids)
      .execute();
    const byId = new Map((await this.#withChallenges(rows as AuthorizationsTable[])).map((a) => [a.id, a]));
    return ids.flatMap((id) => byId.get(id) ?? []);
  }

  async listOrderIds(
    accountId: string,
    cursor: string | undefined,
    limit: number,
  ): Promise<{ ids: string[]; next: string | undefined }> {
    let q = this.#db
      .selectFrom('orders')
      .select(['id', 'created_at'])
      .where('account_id', '=', accountId)
      .orderBy('created_at')
      .orderBy('id')
      .limit(limit + 1);
    const c = parseCursor(cursor);
    if (c) {
      q = q.where((eb) =>
        eb.or([
          eb('created_at', '>', c.createdAt),
          eb.and([eb('created_at', '=', c.createdAt), eb('id', '>', c.id)]),
        ]),
      );
    }
    const rows = await q.execute();
    const page = rows.slice(0, limit);
    const last = page.at(-1);
    const next = rows.length > limit && last ? `${Number(last.created_at)}.${last.id}` : undefined;
    return { ids: page.map((r) => r.id), next };
  }

  async getAuthorization(id: string): Promise<Authorization | undefined> {
    return joinedAuthorization((await this.#q.authzJoinedById.execute(this.#db, { id })).rows);
  }

  async deactivateAuthorization(id: string, audit?: AuditEvent): Promise<boolean> {
    return this.#audited(async (trx, record) => {
      const r = await trx
        .updateTable('authorizations')
        .set({ status: 'deactivated' })
        .where('id', '=', id)
        .where('status', 'in', ['pending', 'valid'])
        .executeTakeFirst();
      if (Number(r.numUpdatedRows) !== 1) return false;
      await record(audit);
      return true;
    });
  }

  async getChallenge(
    id: string,
  ): Promise<{ challenge: Challenge; authorization: Authorization } | undefined> {
    const authorization = joinedAuthorization(
      (await this.#q.authzJoinedByChallenge.execute(this.#db, { id })).rows,
    );
    const challenge = authorization?.challenges.find((c) => c.id === id);
    return challenge && authorization && { challenge, authorization };
  }

  async startChallenge(challengeId: string, now: number): Promise<boolean> {
    const r = await this.#q.startChallenge.execute(this.#db, { id: challengeId, now });
    return Number(r.numAffectedRows) === 1;
  }

  async recordValidation(
    challengeId: string,
    authorizationId: string,
    outcome:
      | { valid: true; at: number; expiresAt: number }
      | { valid: false; at: number; error: ProblemJson },
    audit?: AuditEvent,
  ): Promise<boolean> {
    return this.#audited(async (trx, record) => {
      const r = outcome.valid
        ? await this.#q.challengeValid.execute(trx, { id: challengeId, at: outcome.at })
        : await this.#q.challengeInvalid.execute(trx, {
            id: challengeId,
            error: JSON.stringify(outcome.error),
          });
      if (Number(r.numAffectedRows) !== 1) return false;
      if (outcome.valid)
        await this.#q.authzValid.execute(trx, { id: authorizationId, expires: outcome.expiresAt });
      else await this.#q.authzInvalid.execute(trx, { id: authorizationId });
      await record(audit);
      return true;
    });
  }

  async claimAbandonedChallenges(
    before: number,
    now: number,
  ): Promise<{ challenge: Challenge; authorization: Authorization }[]> {
    const rows = await this.#db
      .selectFrom('challenges')
      .select(['id', 'processing_since'])
      .where('status', '=', 'processing')
      .where((eb) => eb.or([eb('processing_since', 'is', null), eb('processing_since', '<', before)]))
      .limit(500)
      .execute();
    const out = [];
    for (const r of rows) {
      const since =
        r.processing_since === null || r.processing_since === undefined ? null : Number(r.processing_since);
      const claimed = await this.#db
        .updateTable('challenges')
        .set({ processing_since: now })
        .where('id', '=', r.id)
        .where('status', '=', 'processing')
        .where((eb) =>
          since === null ? eb('processing_since', 'is', null) : eb('processing_since', '=', since),
        )
        .executeTakeFirst();
      if (Number(claimed.numUpdatedRows) !== 1) continue;
      const found = await this.getChallenge(r.id);
      if (found) out.push(found);
    }
    return out;
  }

  async tryAcquireLease(name: string, holder: string, until: number, now: number): Promise<boolean> {
    const inserted = await ignoringDuplicates(
      this.#db.insertInto('leases').values({ name, holder, expires_at: until }),
      this.#dialect,
    ).executeTakeFirst();
    if (Number(inserted.numInsertedOrUpdatedRows ?? 0) === 1) return true;
    const r = await this.#db
      .updateTable('leases')
      .set({ holder, expires_at: until })
      .where('name', '=', name)
      .where((eb) => eb.or([eb('holder', '=', holder), eb('expires_at', '<', now)]))
      .executeTakeFirst();
    return Number(r.numUpdatedRows) === 1;
  }

  async beginFinalize(orderId: string, now: number): Promise<boolean> {
    const r = await this.#q.beginFinalize.execute(this.#db, { id: orderId, now });
    return Number(r.numAffectedRows) === 1;
  }

  async completeFinalize(orderId: string, certificate: Certificate, audit?: AuditEvent): Promise<void> {
    await this.#audited(async (trx, record) => {
      await this.#q.insertCertificate.execute(trx, certificateToRow(certificate));
      const r = await this.#q.orderValid.execute(trx, { id: orderId, certificate: certificate.id });
      if (Number(r.numAffectedRows) !== 1) throw new Error(`order ${orderId} was not processing`);
      await record(audit);
    });
  }

  async failOrder(orderId: string, error: ProblemJson, audit?: AuditEvent): Promise<void> {
    await this.#audited(async (trx, record) => {
      const r = await trx
        .updateTable('orders')
        .set({ status: 'invalid', error: JSON.stringify(error) })
        .where('id', '=', orderId)
        .where('status', 'in', ['pending', 'processing'])
        .executeTakeFirst();
      if (Number(r.numUpdatedRows) === 1) await record(audit);
    });
  }

  async failStaleProcessingOrders(
    before: number,
    error: ProblemJson,
    audit?: (orderId: string) => AuditEvent,
  ): Promise<number> {
    if (audit) {
      // One conditional update and its order.invalid event per order (rare: only after a crash).
      const stale = await this.#db
        .selectFrom('orders')
        .select('id')
        .where('status', '=', 'processing')
        .where('finalize_started_at', '<', before)
        .limit(500)
        .execute();
      let failed = 0;
      for (const { id } of stale) {
        await this.#audited(async (trx, record) => {
          const r = await trx
            .updateTable('orders')
            .set({ status: 'invalid', error: JSON.stringify(error) })
            .where('id', '=', id)
            .where('status', '=', 'processing')
            .executeTakeFirst();
          if (Number(r.numUpdatedRows) !== 1) return;
          await record(audit(id));
          failed++;
        });
      }
      return failed;
    }
    const r = await this.#db
      .updateTable('orders')
      .set({ status: 'invalid', error: JSON.stringify(error) })
      .where('status', '=', 'processing')
      .where('finalize_started_at', '<', before)
      .executeTakeFirst();
    return Number(r.numUpdatedRows);
  }

  async getCertificate(id: string): Promise<Certificate | undefined> {
    const row = await this.#q.certById.first(this.#db, { id });
    return row && certificateRowToCertificate(row);
  }

  async getCertificateBySerial(serial: string): Promise<Certificate | undefined> {
    const row = await this.#q.certBySerial.first(this.#db, { serial });
    return row && certificateRowToCertificate(row);
  }

  async revokeCertificate(id: string, reason: number, at: number, audit?: AuditEvent): Promise<boolean> {
    return this.#audited(async (trx, record) => {
      const r = await trx
        .updateTable('certificates')
        .set({ status: 'revoked', revoked_at: at, revocation_reason: reason })
        .where('id', '=', id)
        .where('status', '=', 'valid')
        .executeTakeFirst();
      if (Number(r.numUpdatedRows) !== 1) return false;
      await record(audit);
      return true;
    });
  }

  listRevokedCertificates(notAfterFrom: number): Promise<RevokedCertificate[]> {
    return listRevokedCertificates(this.#db, notAfterFrom);
  }

  nextCrlNumber(scope: string, now: number): Promise<number> {
    return nextCrlNumber(this.#db, this.#dialect, scope, now);
  }

  currentCrlNumber(scope: string): Promise<number> {
    return currentCrlNumber(this.#db, scope);
  }

  async ping(): Promise<void> {
    await sql`select 1`.execute(this.#db);
  }

  async close(): Promise<void> {
    await this.#db.destroy();
  }

  /** One transaction whose audit events (`record`) are published once it committed (sa/audit-storage.ts). */
  #audited<T>(
    fn: (trx: Transaction<Database>, record: (event: AuditEvent | undefined) => Promise<void>) => Promise<T>,
  ): Promise<T> {
    return auditedTransaction(this.#db, this.#publishAudit, fn);
  }

  async #withChallenges(rows: AuthorizationsTable[]): Promise<Authorization[]> {
    if (rows.length === 0) return [];
    const challenges = await this.#db
      .selectFrom('challenges')
      .select(CHALLENGE_COLUMNS)
      .where(
        'authorization_id',
        'in',
        rows.map((r) => r.id),
      )
      .orderBy('type')
      .execute();
    const byAuthz = new Map<string, Challenge[]>();
    for (const c of challenges) {
      const list = byAuthz.get(c.authorization_id) ?? [];
      list.push(challengeRowToChallenge(c as ChallengesTable));
      byAuthz.set(c.authorization_id, list);
    }
    return rows.map((r) => authorizationRowToAuthorization(r, byAuthz.get(r.id) ?? []));
  }
}

function parseCursor(cursor: string | undefined): { createdAt: number; id: string } | undefined {
  if (!cursor) return undefined;
  const dot = cursor.indexOf('.');
  const createdAt = Number(cursor.slice(0, dot));
  if (dot < 1 || !Number.isSafeInteger(createdAt)) return undefined;
  return { createdAt, id: cursor.slice(dot + 1) };
}

/** A row of AUTHZ_JOINED_COLUMNS: the authorization, and one challenge's columns as c_* (null when none). */
type JoinedAuthzRow = AuthorizationsTable & {
  [K in Exclude<(typeof CHALLENGE_COLUMNS)[number], 'authorization_id'> as `c_${K}`]:
    | ChallengesTable[K]
    | null;
};

/** The authorization of its JoinedAuthzRows (one per challenge, or one with null c_* when it has none). */
function joinedAuthorization(rows: JoinedAuthzRow[]): Authorization | undefined {
  const first = rows[0];
  if (!first) return undefined;
  const challenges: Challenge[] = [];
  for (const r of rows) {
    if (r.c_id === null) continue;
    challenges.push(
      challengeRowToChallenge({
        id: r.c_id,
        authorization_id: first.id,
        type: r.c_type!,
        token: r.c_token!,
        status: r.c_status!,
        validated_at: r.c_validated_at,
        error: r.c_error,
      }),
    );
  }
  return authorizationRowToAuthorization(first, challenges);
}
