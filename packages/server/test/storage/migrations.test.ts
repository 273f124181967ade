import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import {
  BACKENDS,
  backendSkipReason,
  type ProvisionedDatabase,
  provisionDatabase,
} from '../../../../test/support/databases.ts';
import { createServer } from '../../src/index.ts';
import { migrateToLatest, openDatabase } from '../../src/sa/database.ts';

/** One set of migrations on every backend; a schema newer than this build is refused at start. */
for (const backend of BACKENDS) {
  describe(`migrations on ${backend}`, async () => {
    const skip = await backendSkipReason(backend);
    let provisioned: ProvisionedDatabase;
    let url: string;
    before(async () => {
      if (skip) return;
      provisioned = await provisionDatabase(backend);
      url =
        provisioned.url ?? `sqlite:${path.join(mkdtempSync(path.join(tmpdir(), 'akamu-mig-')), 'akamu.db')}`;
    });
    after(async () => {
      if (!skip) await provisioned.drop();
    });

    it('migrates an empty database, is idempotent, and refuses a schema from a newer akamu', {
      skip,
    }, async () => {
      const opened = openDatabase(url);
      try {
        await migrateToLatest(opened.db, opened.dialect);
        await migrateToLatest(opened.db, opened.dialect);
        const applied = await sql<{ n: number }>`select count(*) as n from kysely_migration`.execute(
          opened.db,
        );
        assert.ok(Number(applied.rows[0]!.n) >= 1);
        // A migration this build does not know, as a newer akamu would have recorded it.
        await sql`insert into kysely_migration (name, timestamp) values (${'2099_01_01_000000_from_the_future'}, ${new Date().toISOString()})`.execute(
          opened.db,
        );
      } finally {
        await opened.close();
      }
      await assert.rejects(
        createServer({
          data_dir: mkdtempSync(path.join(tmpdir(), 'akamu-mig-data-')),
          database: { url },
          server: { port: 0, log_level: 'silent' },
        }),
        /newer than this version of akamu/,
      );
    });
  });
}
