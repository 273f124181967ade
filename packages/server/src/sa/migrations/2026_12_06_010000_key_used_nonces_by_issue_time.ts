import { type Kysely, SqliteAdapter, sql } from 'kysely';
import { resumeReplacement } from './resume-on-mysql.ts';

/**
 * Used nonces keyed by (issued_at, nonce) instead of nonce alone, and on SQLite `WITHOUT ROWID`: one B-tree
 * that inserts append to, where the old table was three (the rowid table, its primary-key index on the
 * random nonce, and the expiry index). Every redeemed nonce is one insert and one commit, so this is the
 * table written most often; see docs/benchmarks.md for what it saves.
 *
 * The issue time, not the expiry, is the key because it is part of the nonce itself (its first 6 bytes,
 * nonce/nonce-service.ts), so a replayed nonce always meets its earlier row; an expiry would be computed
 * from the configured lifetime, and a change of `acme.nonce_lifetime` between two uses would give the same
 * nonce a second key.
 *
 * Every used nonce is carried over, with its issue time read from the nonce, so nothing redeemed before the
 * upgrade can be redeemed again after it. Rows that are no nonce this CA issues (wrong length, not
 * base64url) could never be redeemed and are not carried. Frozen in time: never import application code.
 */
// biome-ignore lint/suspicious/noExplicitAny: migrations work on the schema as it was, not as typed today
export async function up(db: Kysely<any>): Promise<void> {
  if ((await resumeReplacement(db, 'used_nonces', 'used_nonces_by_issue')) === 'renamed') return;
  await db.schema
    .createTable('used_nonces_by_issue')
    .addColumn('issued_at', 'bigint', (c) => c.notNull())
    .addColumn('nonce', 'varchar(64)', (c) => c.notNull())
    .addPrimaryKeyConstraint('used_nonces_issued_at_nonce', ['issued_at', 'nonce'])
    .$call((b) => (db.getExecutor().adapter instanceof SqliteAdapter ? b.modifyEnd(sql`without rowid`) : b))
    .execute();

  // Keyset pages over the old primary key, inserted in chunks every dialect takes as one statement.
  const PAGE = 5000;
  const CHUNK = 500;
  let after = '';
  for (;;) {
    const rows: { nonce: string }[] = await db
      .selectFrom('used_nonces')
      .select('nonce')
      .where('nonce', '>', after)
      .orderBy('nonce')
      .limit(PAGE)
      .execute();
    if (rows.length === 0) break;
    after = rows[rows.length - 1]!.nonce;
    const values = rows.flatMap((r) => {
      const issuedAt = issueTimeOf(r.nonce);
      return issuedAt === undefined ? [] : [{ issued_at: issuedAt, nonce: r.nonce }];
    });
    for (let i = 0; i < values.length; i += CHUNK) {
      await db
        .insertInto('used_nonces_by_issue')
        .values(values.slice(i, i + CHUNK))
        .execute();
    }
    if (rows.length < PAGE) break;
  }

  await db.schema.dropTable('used_nonces').execute();
  await db.schema.alterTable('used_nonces_by_issue').renameTo('used_nonces').execute();
}

/** The nonce format of 2026-11-23: base64url of 32 bytes, the first 6 the issue time in ms, big-endian. */
function issueTimeOf(nonce: string): number | undefined {
  if (nonce.length !== 43 || !/^[A-Za-z0-9_-]+$/.test(nonce)) return undefined;
  const body = Buffer.from(nonce, 'base64url');
  return body.length === 32 ? body.readUIntBE(0, 6) : undefined;
}

// biome-ignore lint/suspicious/noExplicitAny: see up()
export async function down(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('used_nonces_by_expiry')
    .addColumn('nonce', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    .execute();
  // The old table keyed rows by expiry; one hour after issue was the default lifetime.
  await sql`insert into used_nonces_by_expiry (nonce, expires_at) select nonce, issued_at + 3600000 from used_nonces`.execute(
    db,
  );
  await db.schema.dropTable('used_nonces').execute();
  await db.schema.alterTable('used_nonces_by_expiry').renameTo('used_nonces').execute();
  await db.schema.createIndex('used_nonces_expires_at').on('used_nonces').column('expires_at').execute();
}
