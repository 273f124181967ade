/** The queries behind CRLs (RFC 5280 §5): revoked certificates and CRL numbers. Portable SQL only. */
import type { Kysely } from 'kysely';
import { isUniqueViolation } from './dialect.ts';
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
    out[i] = { serial: r.serial, revokedAt: Number(r.revoked_at ?? 0), reason: Number(r.revocation_reason ?? 0) };
  }
  return out;
}

/**
 * Increments the scope's CRL number in one transaction and returns it; the first CRL of a scope is 1.
 * Two processes sharing the database never get the same number: the UPDATE locks the row, and the
 * first INSERT of a scope is retried as an UPDATE when another process inserted it first.
 */
export async function nextCrlNumber(db: Kysely<Database>, scope: string, now: number): Promise<number> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await db.transaction().execute(async (trx) => {
        const updated = await trx
          .updateTable('crl_numbers')
          .set((eb) => ({ crl_number: eb('crl_number', '+', 1), updated_at: now }))
          .where('scope', '=', scope)
          .executeTakeFirst();
        if (Number(updated.numUpdatedRows) === 0) {
          await trx.insertInto('crl_numbers').values({ scope, crl_number: 1, updated_at: now }).execute();
          return 1;
        }
        const row = await trx
          .selectFrom('crl_numbers')
          .select('crl_number')
          .where('scope', '=', scope)
          .executeTakeFirstOrThrow();
        return Number(row.crl_number);
      });
    } catch (err) {
      if (attempt === 0 && isUniqueViolation(err)) continue;
      throw err;
    }
  }
}
