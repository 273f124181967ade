import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
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
import { HmacNonceService } from '../../src/nonce/nonce-service.ts';
import { type AuditQuery, queryAuditEvents } from '../../src/sa/audit-storage.ts';
import { migrateToLatest, type OpenedDatabase, openDatabase } from '../../src/sa/database.ts';
import { SqlStorageAuthority } from '../../src/sa/sql-storage-authority.ts';

/** The last migration before used nonces and audit events were re-keyed (2026_12_06_*). */
const BEFORE_REKEYING = '2026_11_28_030000_create_rate_limit_buckets';

type Db = OpenedDatabase['db'];

/** The issue time a nonce carries in its first 6 bytes (nonce/nonce-service.ts). */
const issueTime = (nonce: string): number => Buffer.from(nonce, 'base64url').readUIntBE(0, 6);

/** On SQLite, the re-keyed tables keep their rows in their primary key's B-tree. */
async function assertWithoutRowidOnSqlite(opened: OpenedDatabase, table: string): Promise<void> {
  if (opened.dialect !== 'sqlite') return;
  const ddl = await sql<{ sql: string }>`select sql from sqlite_master where name = ${table}`.execute(
    opened.db,
  );
  assert.match(ddl.rows[0]!.sql, /without rowid/i);
}

/**
 * `test` once per backend, each on a fresh database it gets open (skipped, with the reason, when a backend
 * is absent).
 */
function onEveryBackend(
  title: string,
  name: string,
  test: (opened: OpenedDatabase, url: string) => Promise<void>,
  backends: readonly (typeof BACKENDS)[number][] = BACKENDS,
): void {
  for (const backend of backends) {
    describe(`${title} on ${backend}`, async () => {
      const skip = await backendSkipReason(backend);
      let provisioned: ProvisionedDatabase;
      let url: string;
      before(async () => {
        if (skip) return;
        provisioned = await provisionDatabase(backend);
        url =
          provisioned.url ??
          `sqlite:${path.join(mkdtempSync(path.join(tmpdir(), 'akamu-mig-')), 'akamu.db')}`;
      });
      after(async () => {
        if (!skip) await provisioned.drop();
      });
      it(name, { skip }, async () => {
        const opened = openDatabase(url);
        try {
          await test(opened, url);
        } finally {
          await opened.close();
        }
      });
    });
  }
}

/** One set of migrations on every backend; a schema newer than this build is refused at start. */
onEveryBackend(
  'migrations',
  'migrates an empty database, is idempotent, and refuses a schema from a newer akamu',
  async (opened, url) => {
    await migrateToLatest(opened.db, opened.dialect);
    await migrateToLatest(opened.db, opened.dialect);
    const applied = await sql<{ n: number }>`select count(*) as n from kysely_migration`.execute(opened.db);
    assert.ok(Number(applied.rows[0]!.n) >= 1);
    // A migration this build does not know, as a newer akamu would have recorded it.
    await sql`insert into kysely_migration (name, timestamp) values (${'2099_01_01_000000_from_the_future'}, ${new Date().toISOString()})`.execute(
      opened.db,
    );
    await assert.rejects(
      createServer({
        data_dir: mkdtempSync(path.join(tmpdir(), 'akamu-mig-data-')),
        database: { url },
        server: { port: 0, log_level: 'silent' },
      }),
      /newer than this version of akamu/,
    );
  },
);

/** An upgrade keeps what the database already holds: every nonce used before it stays used after it. */
onEveryBackend(
  'migration 2026_12_06_010000 (used nonces keyed by issue time)',
  'carries every used nonce over, so none can be redeemed again after the upgrade',
  async (opened) => {
    await migrateToLatest(opened.db, opened.dialect, BEFORE_REKEYING);
    let sa: SqlStorageAuthority | undefined;
    const lifetime = 3_600_000;
    const nonces = new HmacNonceService(
      randomBytes(32),
      { consumeNonce: (n, issuedAt) => sa!.consumeNonce(n, issuedAt) },
      { now: () => Date.now() },
      lifetime,
    );
    const used = Array.from({ length: 7 }, () => nonces.issue());
    const fresh = nonces.issue();
    // More than one page of the migration's copy (5,000 rows), in the format nonces have.
    const many = Array.from({ length: 5600 }, () => {
      const body = randomBytes(32);
      body.writeUIntBE(Date.now() - Math.floor(Math.random() * lifetime), 0, 6);
      return body.toString('base64url');
    });
    for (let i = 0; i < many.length; i += 700) {
      await opened.db
        .insertInto('used_nonces' as never)
        .values(
          many.slice(i, i + 700).map((nonce) => ({ nonce, expires_at: Date.now() + lifetime })) as never,
        )
        .execute();
    }
    // Redeemed under the old schema, as the previous release stored them: keyed by the nonce, with
    // the expiry it computed from the lifetime.
    for (const n of [...used, 'not-a-nonce-this-ca-issued']) {
      await sql`insert into used_nonces (nonce, expires_at) values (${n}, ${Date.now() + lifetime})`.execute(
        opened.db,
      );
    }

    await migrateToLatest(opened.db, opened.dialect);
    sa = new SqlStorageAuthority(opened.db, { dialect: opened.dialect });

    for (const n of used) assert.equal(await nonces.redeem(n), false, `${n} was used before the upgrade`);
    assert.equal(await nonces.redeem(fresh), true);
    assert.equal(await nonces.redeem(fresh), false);
    const rows = await sql<{
      issued_at: number | string;
      nonce: string;
    }>`select issued_at, nonce from used_nonces`.execute(opened.db);
    // The row that was no nonce of this CA is gone; every other carries the issue time inside it.
    assert.equal(rows.rows.length, many.length + used.length + 1);
    for (const r of rows.rows) {
      assert.equal(Number(r.issued_at), issueTime(r.nonce));
    }
    assert.equal(await sa.deleteExpiredNonces(Date.now() + 1), many.length + used.length + 1);
    await assertWithoutRowidOnSqlite(opened, 'used_nonces');
  },
);

/** Every audit event survives the re-keying, and every query lists the same events in the same order. */
onEveryBackend(
  'migration 2026_12_06_020000 (audit events keyed by time)',
  'keeps every event, and every query answers the same pages after the upgrade',
  async (opened) => {
    await migrateToLatest(opened.db, opened.dialect, '2026_12_06_010000_key_used_nonces_by_issue_time');
    const types = ['account.created', 'order.created', 'challenge.validated', 'operator.created'];
    // 250 events over 40 distinct times, so pages break inside runs of equal times (the id decides).
    const rows = Array.from({ length: 250 }, (_, i) => ({
      id: randomBytes(12).toString('hex'),
      at: 1_700_000_000_000 + (i % 40) * 1000,
      type: types[i % types.length]!,
      actor: `account:${i % 7}`,
      object_type: 'order',
      object_id: `ord-${i % 13}`,
      outcome: i % 5 === 0 ? 'failure' : 'success',
      detail: i % 5 === 0 ? 'it failed' : null,
      source: '127.0.0.1',
      request_id: `req-${i}`,
      details: JSON.stringify({ i }),
    }));
    for (let i = 0; i < rows.length; i += 50) {
      await opened.db
        .insertInto('audit_events')
        .values(rows.slice(i, i + 50))
        .execute();
    }
    const queries: AuditQuery[] = [
      { limit: 30 },
      { type: 'order.created', limit: 7 },
      { type: 'operator.*' },
      { actor: 'account:3', limit: 9 },
      { objectType: 'order', objectId: 'ord-5', limit: 4 },
      { since: 1_700_000_010_000, until: 1_700_000_020_000, limit: 11 },
    ];
    const everyPage = async () => {
      const out = [];
      for (const q of queries) {
        let cursor: string | undefined;
        do {
          const page = await queryAuditEvents(opened.db, { ...q, ...(cursor ? { cursor } : {}) });
          out.push(page.events);
          cursor = page.next;
        } while (cursor);
      }
      return out;
    };
    const before = await everyPage();
    assert.equal(before[0]!.length, 30);

    await migrateToLatest(opened.db, opened.dialect);

    assert.deepEqual(await everyPage(), before);
    const all = (await queryAuditEvents(opened.db, { limit: 1000 })).events;
    assert.equal(all.length, rows.length);
    // Both re-keying migrations undo (down) without losing an event, and apply again.
    await migrateToLatest(opened.db, opened.dialect, BEFORE_REKEYING);
    assert.deepEqual(await everyPage(), before);
    await migrateToLatest(opened.db, opened.dialect);
    assert.deepEqual(await everyPage(), before);
    await assertWithoutRowidOnSqlite(opened, 'audit_events');
  },
);

/** Old-schema rows for the re-keying migrations: used nonces (the nonce format) and audit events. */
async function oldSchemaRows(db: Db): Promise<{ nonces: string[] }> {
  const nonces = await oldUsedNonces(db);
  await auditEvents(db);
  return { nonces };
}

async function oldUsedNonces(db: Db): Promise<string[]> {
  const nonces = Array.from({ length: 20 }, () => {
    const body = randomBytes(32);
    body.writeUIntBE(Date.now() - 1000, 0, 6);
    return body.toString('base64url');
  });
  for (const n of nonces) {
    await sql`insert into used_nonces (nonce, expires_at) values (${n}, ${Date.now() + 3_600_000})`.execute(
      db,
    );
  }
  return nonces;
}

async function auditEvents(db: Db): Promise<void> {
  for (let i = 0; i < 30; i++) {
    await db
      .insertInto('audit_events')
      .values({
        id: randomBytes(12).toString('hex'),
        at: 1_700_000_000_000 + i,
        type: 'order.created',
        actor: 'account:1',
        object_type: 'order',
        object_id: `ord-${i}`,
        outcome: 'success',
        detail: null,
        source: null,
        request_id: null,
        details: null,
      })
      .execute();
  }
}

async function usedNonceKeys(db: Db): Promise<string[]> {
  const r = await sql<{
    issued_at: number | string;
    nonce: string;
  }>`select issued_at, nonce from used_nonces`.execute(db);
  return r.rows.map((row) => `${Number(row.issued_at)}:${row.nonce}`).sort();
}

/** What the audit migration leaves on MariaDB when cut off during its copy: the replacement, `copied` rows. */
async function auditReplacementCutOff(db: Db, copied?: number): Promise<void> {
  await sql`create table audit_events_by_time (id varchar(32) not null, at bigint not null,
    type varchar(64) not null, actor varchar(255) not null, object_type varchar(32) not null,
    object_id varchar(255) not null, outcome varchar(16) not null, detail text, source varchar(64),
    request_id varchar(64), details text, constraint audit_events_at_id primary key (at, id))`.execute(db);
  await sql`insert into audit_events_by_time select id, at, type, actor, object_type, object_id, outcome,
    detail, source, request_id, details from audit_events order by at limit ${copied ?? 1_000_000}`.execute(
    db,
  );
}

/**
 * A migration run cut off half-way: SQLite and PostgreSQL run every pending migration in one transaction,
 * so a failure leaves the schema as it was; MariaDB commits each schema change, so the re-keying
 * migrations pick up where a run stopped (migrations/resume-on-mysql.ts).
 */
onEveryBackend(
  'a failed migration run (SQLite, PostgreSQL: nothing applied)',
  'a migration that fails rolls back the migrations before it in the same run',
  async (opened) => {
    await migrateToLatest(opened.db, opened.dialect, BEFORE_REKEYING);
    const { nonces } = await oldSchemaRows(opened.db);
    // The audit migration's replacement table already exists: its first statement fails.
    await sql`create table audit_events_by_time (blocker integer)`.execute(opened.db);
    await assert.rejects(migrateToLatest(opened.db, opened.dialect), /2026_12_06_020000.*failed/);
    // The nonce migration that ran before it in the same run is undone: the old table, every row.
    const old = await sql<{ nonce: string }>`select nonce, expires_at from used_nonces`.execute(opened.db);
    assert.deepEqual(old.rows.map((r) => r.nonce).sort(), [...nonces].sort());
    const applied = await sql<{ name: string }>`select name from kysely_migration`.execute(opened.db);
    assert.ok(applied.rows.every((r) => !r.name.startsWith('2026_12_06')));

    await sql`drop table audit_events_by_time`.execute(opened.db);
    await migrateToLatest(opened.db, opened.dialect);
    assert.equal((await usedNonceKeys(opened.db)).length, nonces.length);
    assert.equal((await queryAuditEvents(opened.db, { limit: 100 })).events.length, 30);
  },
  ['sqlite', 'postgres'],
);

onEveryBackend(
  'a migration run cut off on MariaDB',
  'the re-keying migrations resume: a partial copy is redone, a finished copy is put in place',
  async (opened) => {
    await migrateToLatest(opened.db, opened.dialect, BEFORE_REKEYING);
    const { nonces } = await oldSchemaRows(opened.db);
    const expected = nonces.map((n) => `${issueTime(n)}:${n}`).sort();
    const events = await queryAuditEvents(opened.db, { limit: 100 });

    // Used nonces: cut off after the copy and the drop, before the rename.
    await sql`create table used_nonces_by_issue (issued_at bigint not null, nonce varchar(64) not null,
      constraint used_nonces_issued_at_nonce primary key (issued_at, nonce))`.execute(opened.db);
    for (const n of nonces) {
      await sql`insert into used_nonces_by_issue (issued_at, nonce) values (${issueTime(n)}, ${n})`.execute(
        opened.db,
      );
    }
    await sql`drop table used_nonces`.execute(opened.db);
    await migrateToLatest(opened.db, opened.dialect, '2026_12_06_010000_key_used_nonces_by_issue_time');
    assert.deepEqual(await usedNonceKeys(opened.db), expected);

    // Audit events: cut off in the middle of the copy (the replacement holds 3 of the 30 events).
    await auditReplacementCutOff(opened.db, 3);
    await migrateToLatest(opened.db, opened.dialect);
    assert.deepEqual(await queryAuditEvents(opened.db, { limit: 100 }), events);
    assert.deepEqual(await usedNonceKeys(opened.db), expected);
  },
  ['mariadb'],
);

onEveryBackend(
  'an audit migration cut off after its drop on MariaDB',
  'the finished copy is renamed into place and gets its indexes',
  async (opened) => {
    await migrateToLatest(opened.db, opened.dialect, '2026_12_06_010000_key_used_nonces_by_issue_time');
    await auditEvents(opened.db);
    const events = await queryAuditEvents(opened.db, { limit: 100 });
    await auditReplacementCutOff(opened.db);
    await sql`drop table audit_events`.execute(opened.db);
    await migrateToLatest(opened.db, opened.dialect);
    assert.deepEqual(await queryAuditEvents(opened.db, { limit: 100 }), events);
    const indexes = await sql<{
      name: string;
    }>`select distinct index_name as name from information_schema.statistics
      where table_schema = database() and table_name = 'audit_events'`.execute(opened.db);
    assert.deepEqual(indexes.rows.map((r) => r.name).sort(), [
      'PRIMARY',
      'audit_events_actor',
      'audit_events_object',
      'audit_events_type',
    ]);
  },
  ['mariadb'],
);
