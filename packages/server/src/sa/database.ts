import { type Kysely, sql } from 'kysely';
import { type Migration, type MigrationProvider, Migrator } from 'kysely/migration';
import { type ConnectOptions, connect, type PoolStats } from './connect.ts';
import type { SqlDialectName } from './dialect.ts';
import * as createAcmeTables from './migrations/2026_11_23_000000_create_acme_tables.ts';
import * as createAccountKeyHistory from './migrations/2026_11_24_010000_create_account_key_history.ts';
import * as createAuthorityTokenUses from './migrations/2026_11_24_020000_create_authority_token_uses.ts';
import * as addAuthorizationsSubdomainAuthAllowed from './migrations/2026_11_24_030000_add_authorizations_subdomain_auth_allowed.ts';
import * as createCrlNumbers from './migrations/2026_11_25_010000_create_crl_numbers.ts';
import * as createRenewalTables from './migrations/2026_11_25_020000_create_renewal_tables.ts';
import * as createLeases from './migrations/2026_11_26_010000_create_leases.ts';
import * as createEabKeys from './migrations/2026_11_27_010000_create_eab_keys.ts';
import * as createOperators from './migrations/2026_11_28_010000_create_operators.ts';
import * as createAuditEvents from './migrations/2026_11_28_020000_create_audit_events.ts';
import * as createRateLimitBuckets from './migrations/2026_11_28_030000_create_rate_limit_buckets.ts';
import * as keyUsedNoncesByIssueTime from './migrations/2026_12_06_010000_key_used_nonces_by_issue_time.ts';
import * as keyAuditEventsByTime from './migrations/2026_12_06_020000_key_audit_events_by_time.ts';
import type { Database } from './tables.ts';

/** Every migration, in order. Names are their file names; new ones are appended, old ones never change. */
const MIGRATIONS: Record<string, Migration> = {
  '2026_11_23_000000_create_acme_tables': createAcmeTables,
  '2026_11_24_010000_create_account_key_history': createAccountKeyHistory,
  '2026_11_24_020000_create_authority_token_uses': createAuthorityTokenUses,
  '2026_11_24_030000_add_authorizations_subdomain_auth_allowed': addAuthorizationsSubdomainAuthAllowed,
  '2026_11_25_010000_create_crl_numbers': createCrlNumbers,
  '2026_11_25_020000_create_renewal_tables': createRenewalTables,
  '2026_11_26_010000_create_leases': createLeases,
  '2026_11_27_010000_create_eab_keys': createEabKeys,
  '2026_11_28_010000_create_operators': createOperators,
  '2026_11_28_020000_create_audit_events': createAuditEvents,
  '2026_11_28_030000_create_rate_limit_buckets': createRateLimitBuckets,
  '2026_12_06_010000_key_used_nonces_by_issue_time': keyUsedNoncesByIssueTime,
  '2026_12_06_020000_key_audit_events_by_time': keyAuditEventsByTime,
};

export interface OpenedDatabase {
  db: Kysely<Database>;
  dialect: SqlDialectName;
  /** Pool connection counts, where the driver tells them (PostgreSQL, MariaDB). */
  poolStats?: () => PoolStats;
  close(): Promise<void>;
}

export class DatabaseError extends Error {
  override name = 'DatabaseError';
}

/** Opens `database.url` (sqlite:, postgres://, mysql:// or mariadb://); see sa/connect.ts. */
export function openDatabase(
  url: string,
  opts: ConnectOptions = { poolSize: 10, requireTls: false, connectTimeoutMs: 10_000 },
): OpenedDatabase {
  const { db, dialect, poolStats } = connect(url, opts);
  return { db, dialect, ...(poolStats ? { poolStats } : {}), close: () => db.destroy() };
}

/**
 * Runs pending migrations; refuses a schema newer than this build knows. `upTo` stops after the named
 * migration (tests that upgrade a database holding data written under an older schema).
 */
export async function migrateToLatest(
  db: Kysely<Database>,
  dialect: SqlDialectName = 'sqlite',
  upTo?: string,
): Promise<void> {
  const provider: MigrationProvider = { getMigrations: async () => MIGRATIONS };
  // PostgreSQL: keep Kysely's bookkeeping tables in the schema akamu works in (search_path), so several
  // akamu schemas in one database never see each other's migration state.
  const migrationTableSchema = dialect === 'postgres' ? await currentSchema(db) : undefined;
  const migrator = new Migrator({ db, provider, ...(migrationTableSchema ? { migrationTableSchema } : {}) });
  const { error, results } = await (upTo === undefined
    ? migrator.migrateToLatest()
    : migrator.migrateTo(upTo));
  if (error) {
    const failed = results?.find((r) => r.status === 'Error');
    const msg = error instanceof Error ? error.message : String(error);
    if (/corrupted migrations|previously executed migration .* is missing/i.test(msg)) {
      throw new DatabaseError(
        `the database schema is newer than this version of akamu knows (${msg}); upgrade akamu`,
      );
    }
    throw new DatabaseError(`migration ${failed?.migrationName ?? ''} failed: ${msg}`);
  }
}

async function currentSchema(db: Kysely<Database>): Promise<string> {
  const r = await sql<{ schema: string }>`select current_schema() as schema`.execute(db);
  return r.rows[0]!.schema;
}
