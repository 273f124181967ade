import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Kysely } from 'kysely';
import {
  BACKENDS,
  backendSkipReason,
  type ProvisionedDatabase,
  provisionDatabase,
} from '../../../../test/support/databases.ts';
import { migrateToLatest, openDatabase } from '../../src/sa/database.ts';
import { SqlStorageAuthority } from '../../src/sa/sql-storage-authority.ts';
import type { Database } from '../../src/sa/tables.ts';

/** The storage behind CRLs, on every database backend: revoked certificates and monotonic CRL numbers. */
const now = Date.now();
const DAY = 86_400_000;

for (const backend of BACKENDS) {
  describe(`revocation storage on ${backend}`, async () => {
    const skip = await backendSkipReason(backend);
    let provisioned: ProvisionedDatabase;
    let sa: SqlStorageAuthority;
    let db: Kysely<Database>;

    before(async () => {
      if (skip) return;
      provisioned = await provisionDatabase(backend);
      const url =
        provisioned.url ?? `sqlite:${path.join(mkdtempSync(path.join(tmpdir(), 'akamu-sa-')), 'akamu.db')}`;
      const opened = openDatabase(url);
      await migrateToLatest(opened.db, opened.dialect);
      db = opened.db;
      sa = new SqlStorageAuthority(opened.db, { dialect: opened.dialect });
    });
    after(async () => {
      if (skip) return;
      await sa.close();
      await provisioned.drop();
    });

    it('lists revoked certificates not expired before the cut-off, with time and reason', {
      skip,
    }, async () => {
      const row = (id: string, serial: string, notAfter: number) => ({
        id,
        serial,
        account_id: 'a',
        order_id: `o${id}`,
        pem: '',
        not_before: now - DAY,
        not_after: notAfter,
        status: 'valid',
        revoked_at: null,
        revocation_reason: null,
        created_at: now,
      });
      await db
        .insertInto('certificates')
        .values([
          row('rq1', 'aa01', now + DAY),
          row('rq2', 'aa02', now - 2 * DAY),
          row('rq3', 'aa03', now + DAY),
        ])
        .execute();
      assert.equal(await sa.revokeCertificate('rq1', 4, now - 1000), true);
      assert.equal(await sa.revokeCertificate('rq2', 1, now - 3 * DAY), true);
      const list = await sa.listRevokedCertificates(now - DAY);
      assert.deepEqual(
        list.filter((r) => r.serial.startsWith('aa')),
        [{ serial: 'aa01', revokedAt: now - 1000, reason: 4 }],
      );
      const older = await sa.listRevokedCertificates(now - 3 * DAY);
      assert.deepEqual(
        older
          .map((r) => r.serial)
          .filter((s) => s.startsWith('aa'))
          .sort(),
        ['aa01', 'aa02'],
      );
    });

    it('hands out CRL numbers 1, 2, 3… per scope, never the same one twice under concurrency, and reads the current one', {
      skip,
    }, async () => {
      assert.equal(await sa.nextCrlNumber('full', now), 1);
      assert.equal(await sa.nextCrlNumber('full', now), 2);
      assert.equal(await sa.nextCrlNumber('0', now), 1);
      const many = await Promise.all(Array.from({ length: 8 }, () => sa.nextCrlNumber('race', now)));
      assert.deepEqual(
        [...many].sort((a, b) => a - b),
        [1, 2, 3, 4, 5, 6, 7, 8],
      );
      assert.equal(await sa.nextCrlNumber('full', now), 3);
      assert.equal(await sa.currentCrlNumber('full'), 3, 'reading does not increment');
      assert.equal(await sa.currentCrlNumber('full'), 3);
      assert.equal(await sa.currentCrlNumber('never-used'), 0);
    });
  });
}
