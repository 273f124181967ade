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
import type { Authorization } from '../../src/core/types.ts';
import { migrateToLatest, openDatabase } from '../../src/sa/database.ts';
import { SqlRateLimitStore } from '../../src/sa/rate-limit-storage.ts';
import { SqlStorageAuthority } from '../../src/sa/sql-storage-authority.ts';
import { uniqueId } from './support.ts';

/**
 * The rate-limit bucket contract (sa/rate-limit-storage.ts), run unchanged on SQLite, PostgreSQL and
 * MariaDB: fixed windows, all-or-nothing takes, concurrent takes that never count past a limit (two
 * connections pools, as two nodes would), and the pending-authorization count.
 */
const id = uniqueId;
const T0 = 1_800_000_000_000;

for (const backend of BACKENDS) {
  describe(`rate-limit storage contract on ${backend}`, async () => {
    const skip = await backendSkipReason(backend);
    let provisioned: ProvisionedDatabase;
    let sa: SqlStorageAuthority;
    let store: SqlRateLimitStore;
    let otherNode: { store: SqlRateLimitStore; close(): Promise<void> };

    before(async () => {
      if (skip) return;
      provisioned = await provisionDatabase(backend);
      const url =
        provisioned.url ?? `sqlite:${path.join(mkdtempSync(path.join(tmpdir(), 'akamu-rl-')), 'akamu.db')}`;
      const opened = openDatabase(url);
      await migrateToLatest(opened.db, opened.dialect);
      sa = new SqlStorageAuthority(opened.db, { dialect: opened.dialect });
      store = new SqlRateLimitStore(opened.db, opened.dialect);
      // Another node: its own connection pool. SQLite is one process with one connection per file (two
      // synchronous connections in one thread would wait on each other), so there it is the same store.
      if (backend === 'sqlite') otherNode = { store, close: async () => {} };
      else {
        const second = openDatabase(url);
        otherNode = { store: new SqlRateLimitStore(second.db, second.dialect), close: second.close };
      }
    });
    after(async () => {
      if (skip) return;
      await otherNode.close();
      await sa.close();
      await provisioned.drop();
    });

    it('counts hits in a fixed window and refuses past the limit until the window ends', {
      skip,
    }, async () => {
      const b = { bucket: id('w:'), limit: 2, windowMs: 60_000 };
      assert.deepEqual(await store.take([b], T0), { ok: true });
      assert.deepEqual(await store.take([b], T0 + 10_000), { ok: true });
      assert.deepEqual(await store.take([b], T0 + 20_000), { ok: false, index: 0, freeAt: T0 + 60_000 });
      assert.deepEqual(await store.isFull(b, T0 + 59_999), { full: true, freeAt: T0 + 60_000 });
      assert.deepEqual(await store.isFull(b, T0 + 60_000), { full: false });
      // A new window starts with the next hit after the end of the last.
      assert.deepEqual(await store.take([b], T0 + 60_000), { ok: true });
      assert.deepEqual(await store.take([b], T0 + 61_000), { ok: true });
      assert.deepEqual(await store.take([b], T0 + 62_000), { ok: false, index: 0, freeAt: T0 + 120_000 });
    });

    it('takes from several buckets all or none', { skip }, async () => {
      const free = { bucket: id('a:'), limit: 5, windowMs: 60_000 };
      const full = { bucket: id('b:'), limit: 1, windowMs: 30_000 };
      assert.deepEqual(await store.take([full], T0), { ok: true });
      assert.deepEqual(await store.take([free, full], T0 + 1000), {
        ok: false,
        index: 1,
        freeAt: T0 + 30_000,
      });
      // The refused take counted nothing in the free bucket: five more fit.
      for (let i = 0; i < 5; i++) assert.deepEqual(await store.take([free], T0 + 2000), { ok: true });
      assert.equal((await store.take([free], T0 + 2000)).ok, false);
    });

    it('record counts without refusing, up to the limit', { skip }, async () => {
      const b = { bucket: id('r:'), limit: 3, windowMs: 60_000 };
      for (let i = 0; i < 5; i++) await store.record(b, T0 + i);
      assert.deepEqual(await store.isFull(b, T0 + 10), { full: true, freeAt: T0 + 60_000 });
      assert.equal((await store.take([b], T0 + 10)).ok, false);
    });

    it('concurrent takes on two nodes never count past the limit', { skip }, async () => {
      const b = { bucket: id('c:'), limit: 7, windowMs: 60_000 };
      const results = await Promise.all(
        Array.from({ length: 20 }, (_, i) => (i % 2 === 0 ? store : otherNode.store).take([b], T0)),
      );
      assert.equal(results.filter((r) => r.ok).length, 7);
    });

    it('counts pending, unexpired authorizations of an account; deletes ended windows', {
      skip,
    }, async () => {
      const account = id('acct');
      await sa.createAccount({
        id: account,
        thumbprint: id('tp'),
        jwk: { kty: 'EC', crv: 'P-256', x: 'x', y: 'y' },
        status: 'valid',
        contact: [],
        termsOfServiceAgreed: true,
        createdAt: T0,
      });
      const authz = (status: Authorization['status'], expiresAt: number): Authorization => {
        const authzId = id('az');
        return {
          id: authzId,
          accountId: account,
          identifier: { type: 'dns', value: `${authzId}.example` },
          wildcard: false,
          status,
          expiresAt,
          createdAt: T0,
          challenges: [],
        };
      };
      await sa.createAuthorizations([
        authz('pending', T0 + 5000),
        authz('pending', T0 + 9000),
        authz('pending', T0 - 1),
        authz('valid', T0 + 5000),
      ]);
      assert.deepEqual(await store.pendingAuthorizations(account, T0), { count: 2, firstExpiry: T0 + 5000 });
      assert.equal((await store.pendingAuthorizations(id('nobody'), T0)).count, 0);

      const old = { bucket: id('d:'), limit: 1, windowMs: 1000 };
      await store.take([old], T0);
      assert.ok((await store.deleteExpired(T0 + 1000)) >= 1);
      assert.deepEqual(await store.isFull(old, T0), { full: false }, 'the bucket is gone');
    });
  });
}
