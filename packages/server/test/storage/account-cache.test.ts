import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { migrateToLatest, type OpenedDatabase, openDatabase } from '../../src/sa/database.ts';
import { SqlStorageAuthority } from '../../src/sa/sql-storage-authority.ts';
import { testAccount } from './support.ts';

/**
 * Accounts are cached per node for `database.account_cache` (docs/clustering.md). Real SQLite; rows are
 * removed behind the storage's back only to see which answers come from memory.
 */
describe('account cache', () => {
  let opened: OpenedDatabase;
  let now = 1_700_000_000_000;
  const removeRow = (id: string) => opened.db.deleteFrom('accounts').where('id', '=', id).execute();

  before(async () => {
    opened = openDatabase(`sqlite:${path.join(mkdtempSync(path.join(tmpdir(), 'akamu-acct-')), 'a.db')}`);
    await migrateToLatest(opened.db, opened.dialect);
  });
  after(() => opened.close());

  it('an account created through this node is found without reading it back, until the cache bound', async () => {
    const sa = new SqlStorageAuthority(opened.db, { accountCacheMs: 5_000, now: () => now });
    const account = testAccount({ createdAt: now });
    assert.equal((await sa.createAccount(account)).created, true);
    await removeRow(account.id);
    const cached = await sa.getAccount(account.id);
    assert.deepEqual(cached, account);
    // Not the caller's object: what a read of the row gives, so a caller changing its own cannot reach it.
    assert.notEqual(cached, account);
    now += 5_001;
    assert.equal(await sa.getAccount(account.id), undefined);
  });

  it('without a cache every lookup reads the database', async () => {
    const sa = new SqlStorageAuthority(opened.db, { accountCacheMs: 0, now: () => now });
    const account = testAccount({ createdAt: now });
    await sa.createAccount(account);
    assert.deepEqual(await sa.getAccount(account.id), account);
    await removeRow(account.id);
    assert.equal(await sa.getAccount(account.id), undefined);
  });

  it('a key already registered returns the stored account and caches nothing new', async () => {
    const sa = new SqlStorageAuthority(opened.db, { accountCacheMs: 5_000, now: () => now });
    const first = testAccount({ createdAt: now });
    await sa.createAccount(first);
    const second = testAccount({ createdAt: now, thumbprint: first.thumbprint });
    const r = await sa.createAccount(second);
    assert.equal(r.created, false);
    assert.equal(r.account.id, first.id);
    assert.equal(await new SqlStorageAuthority(opened.db).getAccount(second.id), undefined);
    assert.equal(await sa.getAccount(second.id), undefined);
  });
});
