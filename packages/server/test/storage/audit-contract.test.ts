import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  BACKENDS,
  backendSkipReason,
  type ProvisionedDatabase,
  provisionDatabase,
} from '../../../../test/support/databases.ts';
import { type AuditEvent, type AuditRecord, auditEvent } from '../../src/core/audit.ts';
import type { Account, Authorization, Certificate, Order } from '../../src/core/types.ts';
import {
  auditedTransaction,
  insertAuditEvent,
  queryAuditEvents,
  SqlAuditLog,
} from '../../src/sa/audit-storage.ts';
import { migrateToLatest, type OpenedDatabase, openDatabase } from '../../src/sa/database.ts';
import { type EabKey, SqlEabStorage } from '../../src/sa/eab-storage.ts';
import { SqlRenewalStorage } from '../../src/sa/renewal-storage.ts';
import { SqlStorageAuthority } from '../../src/sa/sql-storage-authority.ts';
import { testAccount, testAuthorization, uniqueId } from './support.ts';

/**
 * The audit storage contract (sa/audit-storage.ts), unchanged on SQLite, PostgreSQL and MariaDB: an event
 * is written in the transaction of its change — a committed change leaves exactly one row and one
 * published event, a rolled-back one (or one that did not apply) none — and the query pages newest first.
 */
const id = uniqueId;
const now = Date.now();
const CTX = { actor: 'acme:contract', source: '127.0.0.1', requestId: 'req-1' };

const account = (over: Partial<Account> = {}): Account => testAccount({ createdAt: now, ...over });

const authorization = (accountId: string): Authorization =>
  testAuthorization(accountId, undefined, { createdAt: now, expiresAt: now + 86_400_000 });

const order = (accountId: string, authzs: Authorization[]): Order => ({
  id: id('ord'),
  accountId,
  status: 'pending',
  identifiers: authzs.map((a) => a.identifier),
  authorizationIds: authzs.map((a) => a.id),
  notBefore: null,
  notAfter: null,
  expiresAt: now + 86_400_000,
  error: null,
  certificateId: null,
  profile: null,
  createdAt: now,
});

const certificate = (accountId: string, orderId: string): Certificate => ({
  id: id('crt'),
  serial: id('5e'),
  accountId,
  orderId,
  pem: '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n',
  notBefore: now,
  notAfter: now + 86_400_000,
  status: 'valid',
  revokedAt: null,
  revocationReason: null,
  createdAt: now,
});

let eventNumber = 0;
const event = (type: AuditEvent['type'], objectType: string, objectId: string, at = now) =>
  auditEvent(CTX, at, type, { type: objectType, id: objectId }, { details: { n: eventNumber++ } });

for (const backend of BACKENDS) {
  describe(`audit storage contract on ${backend}`, async () => {
    const skip = await backendSkipReason(backend);
    let provisioned: ProvisionedDatabase;
    let opened: OpenedDatabase;
    let sa: SqlStorageAuthority;
    let eab: SqlEabStorage;
    let renewals: SqlRenewalStorage;
    let log: SqlAuditLog;
    const published: AuditRecord[] = [];
    const publishAudit = (events: readonly AuditRecord[]) => published.push(...events);

    /** Rows about the object, and the events published for it. */
    async function audited(objectId: string): Promise<{ rows: AuditRecord[]; published: AuditRecord[] }> {
      const rows = (await log.queryAuditEvents({ objectId, limit: 1000 })).events;
      return { rows, published: published.filter((e) => e.objectId === objectId) };
    }
    async function assertOne(objectId: string, type: string): Promise<AuditRecord> {
      const { rows, published: pub } = await audited(objectId);
      assert.equal(rows.length, 1, `${type}: ${JSON.stringify(rows)}`);
      assert.equal(rows[0]!.type, type);
      assert.deepEqual(pub, rows, 'published once, exactly as stored');
      return rows[0]!;
    }
    async function assertNone(objectId: string): Promise<void> {
      const { rows, published: pub } = await audited(objectId);
      assert.deepEqual(rows, []);
      assert.deepEqual(pub, []);
    }

    before(async () => {
      if (skip) return;
      provisioned = await provisionDatabase(backend);
      const url =
        provisioned.url ??
        `sqlite:${path.join(mkdtempSync(path.join(tmpdir(), 'akamu-audit-')), 'akamu.db')}`;
      opened = openDatabase(url);
      await migrateToLatest(opened.db, opened.dialect);
      sa = new SqlStorageAuthority(opened.db, { dialect: opened.dialect, publishAudit });
      eab = new SqlEabStorage(opened.db, {
        dialect: opened.dialect,
        getAccountByThumbprint: (t) => sa.getAccountByThumbprint(t),
        publishAudit,
      });
      renewals = new SqlRenewalStorage(opened.db, { publishAudit });
      log = new SqlAuditLog(opened.db, publishAudit);
    });
    after(async () => {
      if (skip) return;
      await sa.close();
      await provisioned.drop();
    });

    it('a committed change writes exactly one row, published after the commit', { skip }, async () => {
      const a = account();
      const r = await sa.createAccount(a, event('account.created', 'account', a.id));
      assert.equal(r.created, true);
      const row = await assertOne(a.id, 'account.created');
      assert.equal(row.actor, CTX.actor);
      assert.equal(row.source, CTX.source);
      assert.equal(row.requestId, CTX.requestId);
      assert.equal(row.outcome, 'success');
      assert.equal(row.at, now);
      assert.equal(typeof row.details?.n, 'number');
    });

    it('a rolled-back transaction leaves no row and publishes nothing', { skip }, async () => {
      const objectId = id('rollback');
      await assert.rejects(
        auditedTransaction(opened.db, publishAudit, async (_trx, record) => {
          await record(event('account.updated', 'account', objectId));
          throw new Error('the change failed after its event was inserted');
        }),
        /after its event/,
      );
      await assertNone(objectId);
      // The same with insertAuditEvent inside a plain transaction.
      await assert.rejects(
        opened.db.transaction().execute(async (trx) => {
          await insertAuditEvent(trx, event('account.updated', 'account', objectId));
          throw new Error('rolled back');
        }),
      );
      await assertNone(objectId);
    });

    it('an event that cannot be written rolls its change back', { skip }, async () => {
      const a = account();
      const broken = { ...event('account.created', 'account', a.id), actor: null } as unknown as AuditEvent;
      await assert.rejects(sa.createAccount(a, broken));
      assert.equal(await sa.getAccount(a.id), undefined, 'no account without its event');
      await assertNone(a.id);
    });

    it('a change that does not apply writes no event', { skip }, async () => {
      const a = account();
      await sa.createAccount(a);
      // The same key again: the existing account, no event.
      const again = account({ thumbprint: a.thumbprint });
      assert.equal(
        (await sa.createAccount(again, event('account.created', 'account', again.id))).created,
        false,
      );
      await assertNone(again.id);
      // Key change from a stale key.
      assert.equal(
        await sa.changeAccountKey(
          a.id,
          'not-the-key',
          { thumbprint: id('tp'), jwk: {} },
          event('account.key_changed', 'account', a.id),
        ),
        'stale',
      );
      await assertNone(a.id);
      // Updates of a deactivated account.
      await sa.updateAccount(a.id, { status: 'deactivated' }, event('account.deactivated', 'account', a.id));
      await sa.updateAccount(a.id, { status: 'deactivated' }, event('account.deactivated', 'account', a.id));
      await assertOne(a.id, 'account.deactivated');
    });

    it('orders, validations, deactivation, issuance, failure and revocation: one event each', {
      skip,
    }, async () => {
      const a = account();
      await sa.createAccount(a);
      const az = authorization(a.id);
      const o = order(a.id, [az]);
      await sa.createOrder(o, [az], event('order.created', 'order', o.id));
      await assertOne(o.id, 'order.created');

      assert.equal(await sa.startChallenge(az.challenges[0]!.id, now), true);
      const validated = event('authorization.validated', 'authorization', az.id);
      const outcome = { valid: true as const, at: now, expiresAt: now + 1000 };
      assert.equal(await sa.recordValidation(az.challenges[0]!.id, az.id, outcome, validated), true);
      // Recorded twice (two nodes): the second does not apply and writes nothing.
      assert.equal(await sa.recordValidation(az.challenges[0]!.id, az.id, outcome, validated), false);
      await assertOne(az.id, 'authorization.validated');

      assert.equal(await sa.beginFinalize(o.id, now), true);
      const cert = certificate(a.id, o.id);
      await sa.completeFinalize(o.id, cert, event('certificate.issued', 'certificate', cert.id));
      await assertOne(cert.id, 'certificate.issued');
      // Finalizing an order that is no longer processing throws: certificate and event roll back.
      const other = certificate(a.id, o.id);
      await assert.rejects(
        sa.completeFinalize(o.id, other, event('certificate.issued', 'certificate', other.id)),
      );
      assert.equal(await sa.getCertificate(other.id), undefined);
      await assertNone(other.id);

      // Two racing revocations: one applies, one event.
      const revoked = await Promise.all(
        [1, 2, 3].map(() =>
          sa.revokeCertificate(cert.id, 1, now, event('certificate.revoked', 'certificate', cert.id)),
        ),
      );
      assert.equal(revoked.filter(Boolean).length, 1);
      assert.equal((await audited(cert.id)).rows.filter((e) => e.type === 'certificate.revoked').length, 1);

      const az2 = authorization(a.id);
      const o2 = order(a.id, [az2]);
      await sa.createOrder(o2, [az2]);
      const deact = () =>
        sa.deactivateAuthorization(az2.id, event('authorization.deactivated', 'authorization', az2.id));
      assert.deepEqual(await Promise.all([deact(), deact()]).then((r) => r.filter(Boolean).length), 1);
      await assertOne(az2.id, 'authorization.deactivated');
      const problem = { type: 'urn:ietf:params:acme:error:serverInternal', detail: 'x', status: 500 };
      const failed = () =>
        sa.failOrder(o2.id, problem, {
          ...event('order.invalid', 'order', o2.id),
          outcome: 'failure',
          detail: 'x',
        });
      await failed();
      await failed();
      const row = await assertOne(o2.id, 'order.invalid');
      assert.equal(row.outcome, 'failure');
      assert.equal(row.detail, 'x');

      // The sweep: one order.invalid per order a crash left processing, none when run again.
      const stale = order(a.id, []);
      await sa.createOrder(stale, []);
      assert.equal(await sa.beginFinalize(stale.id, now - 120_000), true);
      const sweep = () =>
        sa.failStaleProcessingOrders(now - 60_000, problem, (orderId) => ({
          ...event('order.invalid', 'order', orderId),
          outcome: 'failure',
          detail: 'interrupted',
        }));
      assert.ok((await sweep()) >= 1);
      assert.equal(await sweep(), 0);
      assert.equal((await sa.getOrder(stale.id))?.status, 'invalid');
      assert.equal((await assertOne(stale.id, 'order.invalid')).detail, 'interrupted');

      const az3 = authorization(a.id);
      await sa.createAuthorizations([az3], [event('authorization.created', 'authorization', az3.id)]);
      await assertOne(az3.id, 'authorization.created');
    });

    it('EAB keys: created, consumed with the account (once under a race), deleted', { skip }, async () => {
      const key: EabKey = {
        kid: id('kid'),
        hmacKey: Buffer.alloc(32, 1).toString('base64url'),
        source: 'api',
        principal: null,
        note: null,
        profiles: null,
        expiresAt: null,
        createdAt: now,
        usedBy: null,
        usedAt: null,
      };
      assert.equal(await eab.insertEabKey(key, event('eab_key.created', 'eab_key', key.kid)), true);
      assert.equal(await eab.insertEabKey(key, event('eab_key.created', 'eab_key', key.kid)), false);
      await assertOne(key.kid, 'eab_key.created');

      const racers = [account(), account(), account()];
      const results = await Promise.all(
        racers.map((a) =>
          eab.createAccountWithEabKey({ ...a, eabKid: key.kid }, now, [
            event('account.created', 'account', a.id),
            event('eab_key.consumed', 'eab_key', key.kid),
          ]),
        ),
      );
      assert.equal(results.filter((r) => r.outcome === 'created').length, 1);
      const { rows } = await audited(key.kid);
      assert.equal(rows.filter((e) => e.type === 'eab_key.consumed').length, 1);
      const winner = racers.filter((_, i) => results[i]!.outcome === 'created');
      for (const a of racers) {
        if (winner.includes(a)) await assertOne(a.id, 'account.created');
        else await assertNone(a.id);
      }

      const spare = { ...key, kid: id('kid') };
      await eab.insertEabKey(spare);
      assert.equal(
        await eab.deleteEabKey(spare.kid, event('eab_key.deleted', 'eab_key', spare.kid)),
        'deleted',
      );
      assert.equal(
        await eab.deleteEabKey(spare.kid, event('eab_key.deleted', 'eab_key', spare.kid)),
        'missing',
      );
      await assertOne(spare.kid, 'eab_key.deleted');
      // A used key is kept: no deletion event.
      assert.equal(await eab.deleteEabKey(key.kid, event('eab_key.deleted', 'eab_key', key.kid)), 'used');
      assert.equal((await audited(key.kid)).rows.filter((e) => e.type === 'eab_key.deleted').length, 0);

      // Seeding: an event for each key inserted, none for keys already there.
      const seeded = { ...key, kid: id('kid'), source: 'config' as const };
      const seed = () => eab.seedEabKeys([seeded, key], (k) => event('eab_key.created', 'eab_key', k.kid));
      await seed();
      await seed();
      await assertOne(seeded.kid, 'eab_key.created');
    });

    it('STAR: the renewal and the cancellation are each written once', { skip }, async () => {
      const a = account();
      await sa.createAccount(a);
      const o = order(a.id, []);
      await sa.createOrder(o, []);
      await sa.beginFinalize(o.id, now);
      const first = certificate(a.id, o.id);
      const star = {
        orderId: o.id,
        accountId: a.id,
        status: 'active' as const,
        startDate: now,
        endDate: now + 10 * 86_400_000,
        lifetime: 86_400_000,
        lifetimeAdjust: 0,
        allowCertificateGet: false,
        nextSlot: 1,
        nextIssueAt: now,
        spki: '',
        canceledAt: null,
        createdAt: now,
      };
      await renewals.completeFinalize(
        o.id,
        first,
        { replacesCertificateId: null, star },
        event('certificate.issued', 'certificate', first.id),
      );
      await assertOne(first.id, 'certificate.issued');
      const next = certificate(a.id, o.id);
      const loser = certificate(a.id, o.id);
      const claims = await Promise.all(
        [next, loser].map((c) =>
          renewals.issueStarSlot(
            o.id,
            1,
            { nextSlot: 2, nextIssueAt: now + 1 },
            c,
            event('certificate.renewed', 'certificate', c.id),
          ),
        ),
      );
      assert.equal(claims.filter(Boolean).length, 1);
      const [won, lost] = claims[0] ? [next, loser] : [loser, next];
      await assertOne(won.id, 'certificate.renewed');
      await assertNone(lost.id);
      const cancel = () => renewals.cancelStarOrder(o.id, now, event('order.canceled', 'order', o.id));
      assert.equal(await cancel(), true);
      assert.equal(await cancel(), false);
      assert.equal((await audited(o.id)).rows.filter((e) => e.type === 'order.canceled').length, 1);
    });

    it('queries filter and page newest first with a stable cursor', { skip }, async () => {
      const objectId = id('paged');
      // Several events in one millisecond, and some in others: the cursor orders ties by id.
      for (const at of [now + 5, now + 5, now + 5, now + 6, now + 7, now + 7, now + 9])
        await log.record(
          event(at === now + 9 ? 'operator.created' : 'operator.updated', 'operator', objectId, at),
        );
      const all = (await queryAuditEvents(opened.db, { objectType: 'operator', objectId })).events;
      assert.equal(all.length, 7);
      assert.equal(all[0]!.at, now + 9);
      const pages: string[] = [];
      let cursor: string | undefined;
      do {
        const page = await log.queryAuditEvents({ objectId, limit: 2, ...(cursor ? { cursor } : {}) });
        pages.push(...page.events.map((e) => e.id));
        cursor = page.next;
      } while (cursor);
      assert.deepEqual(
        pages,
        all.map((e) => e.id),
      );
      assert.equal((await log.queryAuditEvents({ objectId, type: 'operator.*' })).events.length, 7);
      assert.equal((await log.queryAuditEvents({ objectId, type: 'operator.created' })).events.length, 1);
      assert.equal(
        (await log.queryAuditEvents({ objectId, since: now + 6, until: now + 9 })).events.length,
        3,
      );
      assert.equal((await log.queryAuditEvents({ objectId, actor: 'someone-else' })).events.length, 0);
      await assert.rejects(log.queryAuditEvents({ type: "x'%.*" }), /prefix/);
    });
  });
}
