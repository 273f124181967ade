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
import type { Account } from '../../src/core/types.ts';
import { migrateToLatest, openDatabase } from '../../src/sa/database.ts';
import { type EabKey, SqlEabStorage } from '../../src/sa/eab-storage.ts';
import { SqlStorageAuthority } from '../../src/sa/sql-storage-authority.ts';
import { testAccount, uniqueId } from './support.ts';

/**
 * The EAB storage contract (sa/eab-storage.ts), run unchanged on SQLite, PostgreSQL and MariaDB: keys,
 * seeding that never resurrects a used key, and the account creation that consumes a key exactly once
 * under concurrency.
 */
const id = uniqueId;
const now = Date.now();

const account = (over: Partial<Account> = {}): Account => testAccount({ createdAt: now, ...over });

const key = (over: Partial<EabKey> = {}): EabKey => ({
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
  ...over,
});

for (const backend of BACKENDS) {
  describe(`EAB storage contract on ${backend}`, async () => {
    const skip = await backendSkipReason(backend);
    let provisioned: ProvisionedDatabase;
    let sa: SqlStorageAuthority;
    let eab: SqlEabStorage;

    before(async () => {
      if (skip) return;
      provisioned = await provisionDatabase(backend);
      const url =
        provisioned.url ?? `sqlite:${path.join(mkdtempSync(path.join(tmpdir(), 'akamu-eab-')), 'akamu.db')}`;
      const opened = openDatabase(url);
      await migrateToLatest(opened.db, opened.dialect);
      sa = new SqlStorageAuthority(opened.db, { dialect: opened.dialect });
      eab = new SqlEabStorage(opened.db, {
        dialect: opened.dialect,
        getAccountByThumbprint: (t) => sa.getAccountByThumbprint(t),
      });
    });
    after(async () => {
      if (skip) return;
      await sa.close();
      await provisioned.drop();
    });

    it('keys: insert once, read back, list used/unused, delete only unused ones', { skip }, async () => {
      const k = key({ note: 'team a', profiles: ['p1', 'p2'], expiresAt: now + 1000 });
      assert.equal(await eab.insertEabKey(k), true);
      assert.equal(await eab.insertEabKey({ ...k, hmacKey: 'other' }), false);
      assert.deepEqual(await eab.getEabKey(k.kid), k);
      assert.equal(await eab.getEabKey('missing'), undefined);

      const bound = key();
      await eab.insertEabKey(bound);
      const a = account({ eabKid: bound.kid });
      assert.equal((await eab.createAccountWithEabKey({ ...a, eabKid: bound.kid }, now)).outcome, 'created');
      const used = (await eab.listEabKeys({ used: true })).map((x) => x.kid);
      const unused = (await eab.listEabKeys({ used: false })).map((x) => x.kid);
      assert.ok(used.includes(bound.kid) && !used.includes(k.kid));
      assert.ok(unused.includes(k.kid) && !unused.includes(bound.kid));
      assert.equal((await eab.listEabKeys()).length, used.length + unused.length);

      assert.equal(await eab.deleteEabKey(bound.kid), 'used');
      assert.equal(await eab.deleteEabKey(k.kid), 'deleted');
      assert.equal(await eab.deleteEabKey(k.kid), 'missing');
    });

    it('binding: the account row and the used key are written together; the account remembers its kid', {
      skip,
    }, async () => {
      const k = key();
      await eab.insertEabKey(k);
      const a = { ...account(), eabKid: k.kid };
      const r = await eab.createAccountWithEabKey(a, now);
      assert.equal(r.outcome, 'created');
      assert.equal((await sa.getAccount(a.id))?.eabKid, k.kid);
      const stored = await eab.getEabKey(k.kid);
      assert.equal(stored?.usedBy, a.id);
      assert.equal(stored?.usedAt, now);
      // A second account with the used key: nothing is written.
      const b = { ...account(), eabKid: k.kid };
      assert.equal((await eab.createAccountWithEabKey(b, now)).outcome, 'key-unavailable');
      assert.equal(await sa.getAccount(b.id), undefined);
      // Unknown and expired keys bind nothing either.
      const c = { ...account(), eabKid: 'no-such-kid' };
      assert.equal((await eab.createAccountWithEabKey(c, now)).outcome, 'key-unavailable');
      const expired = key({ expiresAt: now });
      await eab.insertEabKey(expired);
      const d = { ...account(), eabKid: expired.kid };
      assert.equal((await eab.createAccountWithEabKey(d, now)).outcome, 'key-unavailable');
      assert.equal(await sa.getAccount(d.id), undefined);
      assert.equal((await eab.getEabKey(expired.kid))?.usedBy, null);
      // Accounts created without a binding have no eabKid.
      const plain = account();
      await sa.createAccount(plain);
      assert.equal((await sa.getAccount(plain.id))?.eabKid, undefined);
    });

    it('race: 10 concurrent accounts with one key create exactly one account', { skip }, async () => {
      const k = key();
      await eab.insertEabKey(k);
      const accounts = Array.from({ length: 10 }, () => ({ ...account(), eabKid: k.kid }));
      const results = await Promise.all(accounts.map((a) => eab.createAccountWithEabKey(a, now)));
      assert.equal(results.filter((r) => r.outcome === 'created').length, 1);
      assert.equal(results.filter((r) => r.outcome === 'key-unavailable').length, 9);
      const rows = await Promise.all(accounts.map((a) => sa.getAccount(a.id)));
      const existing = rows.filter((a) => a !== undefined);
      assert.equal(existing.length, 1);
      assert.equal((await eab.getEabKey(k.kid))?.usedBy, existing[0]!.id);
    });

    it('race: one account key with two EAB keys registers once and consumes one key', { skip }, async () => {
      const k1 = key();
      const k2 = key();
      await eab.insertEabKey(k1);
      await eab.insertEabKey(k2);
      const base = account();
      const results = await Promise.all([
        eab.createAccountWithEabKey({ ...base, id: id('acct'), eabKid: k1.kid }, now),
        eab.createAccountWithEabKey({ ...base, id: id('acct'), eabKid: k2.kid }, now),
      ]);
      assert.deepEqual(results.map((r) => r.outcome).sort(), ['created', 'exists']);
      const winner = results.find((r) => r.outcome === 'created')!;
      const loser = results.find((r) => r.outcome === 'exists')!;
      assert.ok(winner.outcome === 'created' && loser.outcome === 'exists');
      assert.equal(loser.account.id, winner.account.id);
      const used = [await eab.getEabKey(k1.kid), await eab.getEabKey(k2.kid)].filter((k) => k?.usedBy);
      assert.equal(used.length, 1, 'the losing key stays unused (its consumption was rolled back)');
    });

    it('seeding: inserts absent keys, refreshes unused config keys, never revives a used one', {
      skip,
    }, async () => {
      const a = key({ source: 'config', note: 'first' });
      const b = key({ source: 'config' });
      await eab.seedEabKeys([a, b]);
      await eab.seedEabKeys([a, b]); // idempotent
      assert.equal((await eab.getEabKey(a.kid))?.note, 'first');
      const acct = { ...account(), eabKid: b.kid };
      assert.equal((await eab.createAccountWithEabKey(acct, now)).outcome, 'created');
      const newMac = Buffer.alloc(32, 9).toString('base64url');
      await eab.seedEabKeys([
        { ...a, note: 'second', hmacKey: newMac },
        { ...b, hmacKey: newMac, note: 'changed' },
      ]);
      const a2 = await eab.getEabKey(a.kid);
      assert.equal(a2?.note, 'second');
      assert.equal(a2?.hmacKey, newMac);
      const b2 = await eab.getEabKey(b.kid);
      assert.equal(b2?.usedBy, acct.id, 'the used key stays used');
      assert.equal(b2?.note, null);
      // A key created through the API is never overwritten by a configured key of the same kid.
      const api = key({ source: 'api', note: 'api' });
      await eab.insertEabKey(api);
      await eab.seedEabKeys([{ ...api, source: 'config', note: 'config' }]);
      assert.equal((await eab.getEabKey(api.kid))?.note, 'api');
    });
  });
}
