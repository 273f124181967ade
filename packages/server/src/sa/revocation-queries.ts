/** The queries behind CRLs (RFC 5280 §5): revoked certificates and CRL numbers. Portable SQL only. */
import type { Kysely } from 'kysely';
import { ignoringDuplicates, type SqlDialectName } from './dialect.ts';
import type { RevokedCertificate } from './storage-authority.ts';
import type { Database } from './tables.ts';

/** Revoked certificates not expired before `notAfterFrom` (the index certificates_status_not_after serves it). */
export async function listRevokedCertificates(
  db: Kysely<Database>,
  notAfterFrom: number,
): Promise<RevokedCertificate[]> {
  const rows = await db
    .selectFrom('certificates')
    .select(['serial', 'revoked_at', 'revocation_reason'])
    .where('status', '=', 'revoked')
    .where('not_after', '>=', notAfterFrom)
    .execute();
  const out = new Array<RevokedCertificate>(rows.length);
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i]!;
    // PostgreSQL and MariaDB drivers return bigint columns as strings.
    out[i] = {
      serial: r.serial,
      revokedAt: Number(r.revoked_at ?? 0),
      reason: Number(r.revocation_reason ?? 0),
    };
  }
  return out;
}

/**
 * Increments the scope's CRL number in one transaction and returns it; the first CRL of a scope is 1.
 * The scope's row is created first (ignoring a row another process created), so the transaction only
 * updates an existing row: the UPDATE's row lock serializes processes sharing the database, and no
 * database takes gap locks that could deadlock two first-time writers (InnoDB would).
 */
export async function nextCrlNumber(
  db: Kysely<Database>,
  dialect: SqlDialectName,
  scope: string,
  now: number,
): Promise<number> {
  await ignoringDuplicates(
    db.insertInto('crl_numbers').values({ scope, crl_number: 0, updated_at: now }),
    dialect,
  ).execute();
  return db.transaction().execute(async (trx) => {
    await trx
      .updateTable('crl_numbers')
      .set((eb) => ({ crl_number: eb('crl_number', '+', 1), updated_at: now }))
      .where('scope', '=', scope)
      .execute();
    const row = await trx
      .selectFrom('crl_numbers')
      .select('crl_number')
      .where('scope', '=', scope)
      .executeTakeFirstOrThrow();
    return Number(row.crl_number);
  });
}

/** The scope's current CRL number (a primary-key read), 0 when it has none yet. */
export async function currentCrlNumber(db: Kysely<Database>, scope: string): Promise<number> {
  const row = await db
    .selectFrom('crl_numbers')
    .select('crl_number')
    .where('scope', '=', scope)
    .executeTakeFirst();
  return row ? Number(row.crl_number) : 0;
}
