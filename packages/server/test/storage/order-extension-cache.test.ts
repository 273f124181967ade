import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { migrateToLatest, type OpenedDatabase, openDatabase } from '../../src/sa/database.ts';
import { type RenewalTables, SqlRenewalStorage } from '../../src/sa/renewal-storage.ts';
import { uniqueId } from './support.ts';

/**
 * Order extensions are written before their order exists and never change, so SqlRenewalStorage remembers
 * them, and their absence, per order (renewal-storage.ts). Real SQLite; the row is removed behind the
 * storage's back only to see which answers come from memory.
 */
describe('order extensions: read once per order, then remembered', () => {
  let opened: OpenedDatabase;
  let store: SqlRenewalStorage;
  const removeRow = (orderId: string) =>
    opened.db
      .withTables<RenewalTables>()
      .deleteFrom('order_extensions')
      .where('order_id', '=', orderId)
      .execute();

  before(async () => {
    opened = openDatabase(`sqlite:${path.join(mkdtempSync(path.join(tmpdir(), 'akamu-ext-')), 'a.db')}`);
    await migrateToLatest(opened.db, opened.dialect);
    store = new SqlRenewalStorage(opened.db);
  });
  after(() => opened.close());

  it('an extension this node wrote is remembered from the write, as the frozen object a read gives', async () => {
    const ext = {
      orderId: uniqueId('ord'),
      replacesCertificateId: null,
      replacesCertId: 'aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE',
      delegationId: null,
      autoRenewal: null,
      createdAt: 1_700_000_000_000,
    };
    await store.recordOrderExtension(ext);
    // Another node reads the row; this one never needs to.
    assert.deepEqual(await new SqlRenewalStorage(opened.db).getOrderExtension(ext.orderId), ext);
    await removeRow(ext.orderId);
    const first = await store.getOrderExtension(ext.orderId);
    assert.deepEqual(first, ext);
    assert.ok(Object.isFrozen(first));
    assert.equal(await store.getOrderExtension(ext.orderId), first);
    // A new storage instance (another node) reads the database.
    assert.equal(await new SqlRenewalStorage(opened.db).getOrderExtension(ext.orderId), undefined);
  });

  it('an extension another node wrote is read from the database once', async () => {
    const ext = {
      orderId: uniqueId('ord'),
      replacesCertificateId: null,
      replacesCertId: null,
      delegationId: null,
      autoRenewal: '{"end-date":"2027-01-01T00:00:00Z","lifetime":86400}',
      createdAt: 1_700_000_000_000,
    };
    await new SqlRenewalStorage(opened.db).recordOrderExtension(ext);
    const first = await store.getOrderExtension(ext.orderId);
    assert.deepEqual(first, ext);
    assert.ok(Object.isFrozen(first));
    await removeRow(ext.orderId);
    assert.equal(await store.getOrderExtension(ext.orderId), first);
  });

  it('an order this node created without an extension is never looked up', async () => {
    const orderId = uniqueId('ord');
    store.recordOrderWithoutExtension(orderId);
    // Cannot happen for a real order; shows that the answer did not come from the database.
    await new SqlRenewalStorage(opened.db).recordOrderExtension({
      orderId,
      replacesCertificateId: null,
      replacesCertId: null,
      delegationId: 'd2',
      autoRenewal: null,
      createdAt: 1,
    });
    assert.equal(await store.getOrderExtension(orderId), undefined);
  });

  it('an order without an extension is looked up once', async () => {
    const orderId = uniqueId('ord');
    assert.equal(await store.getOrderExtension(orderId), undefined);
    // Cannot happen for a real order (its extension is written first); shows the answer is remembered.
    const late = {
      orderId,
      replacesCertificateId: null,
      replacesCertId: null,
      delegationId: 'd1',
      autoRenewal: null,
      createdAt: 1,
    };
    await new SqlRenewalStorage(opened.db).recordOrderExtension(late);
    assert.equal(await store.getOrderExtension(orderId), undefined);
    assert.deepEqual(await new SqlRenewalStorage(opened.db).getOrderExtension(orderId), late);
  });
});
