import type { Kysely } from 'kysely';
import type { AuditEvent } from '../core/audit.ts';
import type { Account } from '../core/types.ts';
import { type AuditPublisher, auditedTransaction } from './audit-storage.ts';
import { accountToRow } from './converters.ts';
import { ignoringDuplicates, isUniqueViolation, type SqlDialectName } from './dialect.ts';
import type { Database, EabKeysTable } from './tables.ts';

/** Where an EAB key came from: `[eab.keys]`, createEabKey (the admin API), or HKDF for a principal. */
export type EabKeySource = 'config' | 'api' | 'derived';

/** An external account binding key (RFC 8555 §7.3.4) as stored. */
export interface EabKey {
  kid: string;
  /** The MAC key, base64url. Secret: never logged, never rendered except to whoever the key is for. */
  hmacKey: string;
  source: EabKeySource;
  /** The principal a derived key was made for. */
  principal: string | null;
  note: string | null;
  /** Profiles the key grants to the account it binds; null: no restriction. */
  profiles: string[] | null;
  expiresAt: number | null;
  createdAt: number;
  /** The account the key bound; null while unused. */
  usedBy: string | null;
  usedAt: number | null;
}

/** The outcome of creating an account bound to a key, decided in one transaction. */
export type BoundAccountResult =
  | { outcome: 'created'; account: Account }
  /** The account key is already registered (a concurrent request won): that account, key not consumed. */
  | { outcome: 'exists'; account: Account }
  /** The EAB key is unknown, already used or expired at `now`; nothing was written. */
  | { outcome: 'key-unavailable' };

/** EAB keys, and the account creation that consumes one. Every write is exactly-once on any number of nodes. */
export interface EabStorage {
  getEabKey(kid: string): Promise<EabKey | undefined>;
  /** Inserts a key (and its audit event); false when the kid exists. */
  insertEabKey(key: EabKey, audit?: AuditEvent): Promise<boolean>;
  /**
   * Configuration keys at start: inserts those that are absent, and refreshes MAC key, expiry, note and
   * profiles of unused `config` keys. A used key is never touched, so it stays used across restarts.
   */
  seedEabKeys(keys: EabKey[], audit?: (key: EabKey) => AuditEvent): Promise<void>;
  /** Keys, oldest first; `used` filters used (true) or unused (false) ones. */
  listEabKeys(filter?: { used?: boolean }): Promise<EabKey[]>;
  /** Deletes an unused key; 'used' when it bound an account (kept as the record of that binding). */
  deleteEabKey(kid: string, audit?: AuditEvent): Promise<'deleted' | 'used' | 'missing'>;
  /**
   * RFC 8555 §7.3.4: one transaction marks the key used by the account (conditional: only while unused
   * and unexpired at `now`) and inserts the account with `eabKid`. Of concurrent requests with one key,
   * exactly one gets 'created'; the others leave no row behind.
   */
  createAccountWithEabKey(
    account: Account & { eabKid: string },
    now: number,
    /** account.created and eab_key.consumed, written only when the account is created. */
    audit?: AuditEvent[],
  ): Promise<BoundAccountResult>;
}

const COLUMNS = [
  'kid',
  'hmac_key',
  'source',
  'principal',
  'note',
  'profiles',
  'expires_at',
  'created_at',
  'used_by',
  'used_at',
] as const;

/** EabStorage on the akamu database (SQLite, PostgreSQL, MariaDB) through Kysely. */
export class SqlEabStorage implements EabStorage {
  readonly #db: Kysely<Database>;
  readonly #dialect: SqlDialectName;
  readonly #getAccountByThumbprint: (thumbprint: string) => Promise<Account | undefined>;
  readonly #publishAudit: AuditPublisher | undefined;

  constructor(
    db: Kysely<Database>,
    opts: {
      dialect: SqlDialectName;
      /** Reads the account a concurrent registration of the same key created. */
      getAccountByThumbprint: (thumbprint: string) => Promise<Account | undefined>;
      /** Told about audit events once their transaction committed. */
      publishAudit?: AuditPublisher;
    },
  ) {
    this.#db = db;
    this.#publishAudit = opts.publishAudit;
    this.#dialect = opts.dialect;
    this.#getAccountByThumbprint = opts.getAccountByThumbprint;
  }

  async getEabKey(kid: string): Promise<EabKey | undefined> {
    const row = await this.#db
      .selectFrom('eab_keys')
      .select(COLUMNS)
      .where('kid', '=', kid)
      .executeTakeFirst();
    return row && eabKeyRowToEabKey(row);
  }

  async insertEabKey(key: EabKey, audit?: AuditEvent): Promise<boolean> {
    try {
      await auditedTransaction(this.#db, this.#publishAudit, async (trx, record) => {
        await trx.insertInto('eab_keys').values(eabKeyToRow(key)).execute();
        await record(audit);
      });
      return true;
    } catch (e) {
      if (isUniqueViolation(e)) return false;
      throw e;
    }
  }

  async seedEabKeys(keys: EabKey[], audit?: (key: EabKey) => AuditEvent): Promise<void> {
    if (keys.length === 0) return;
    await auditedTransaction(this.#db, this.#publishAudit, async (trx, record) => {
      for (const key of keys) {
        const row = eabKeyToRow(key);
        await trx
          .updateTable('eab_keys')
          .set({ hmac_key: row.hmac_key, note: row.note, profiles: row.profiles, expires_at: row.expires_at })
          .where('kid', '=', key.kid)
          .where('source', '=', 'config')
          .where('used_by', 'is', null)
          .execute();
        const inserted = await ignoringDuplicates(
          trx.insertInto('eab_keys').values(row),
          this.#dialect,
        ).executeTakeFirst();
        if (Number(inserted.numInsertedOrUpdatedRows ?? 0) === 1) await record(audit?.(key));
      }
    });
  }

  async listEabKeys(filter: { used?: boolean } = {}): Promise<EabKey[]> {
    let q = this.#db.selectFrom('eab_keys').select(COLUMNS);
    if (filter.used === true) q = q.where('used_by', 'is not', null);
    if (filter.used === false) q = q.where('used_by', 'is', null);
    const rows = await q.orderBy('created_at').orderBy('kid').execute();
    return rows.map(eabKeyRowToEabKey);
  }

  async deleteEabKey(kid: string, audit?: AuditEvent): Promise<'deleted' | 'used' | 'missing'> {
    const deleted = await auditedTransaction(this.#db, this.#publishAudit, async (trx, record) => {
      const r = await trx
        .deleteFrom('eab_keys')
        .where('kid', '=', kid)
        .where('used_by', 'is', null)
        .executeTakeFirst();
      if (Number(r.numDeletedRows) !== 1) return false;
      await record(audit);
      return true;
    });
    if (deleted) return 'deleted';
    return (await this.getEabKey(kid)) ? 'used' : 'missing';
  }

  async createAccountWithEabKey(
    account: Account & { eabKid: string },
    now: number,
    audit?: AuditEvent[],
  ): Promise<BoundAccountResult> {
    try {
      return await auditedTransaction(this.#db, this.#publishAudit, async (trx, record) => {
        const consumed = await trx
          .updateTable('eab_keys')
          .set({ used_by: account.id, used_at: now })
          .where('kid', '=', account.eabKid)
          .where('used_by', 'is', null)
          .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', now)]))
          .executeTakeFirst();
        if (Number(consumed.numUpdatedRows) !== 1) return { outcome: 'key-unavailable' } as const;
        // A unique violation here (the account key registered meanwhile) rolls the consumption back.
        await trx.insertInto('accounts').values(accountToRow(account)).execute();
        for (const e of audit ?? []) await record(e);
        return { outcome: 'created', account } as const;
      });
    } catch (e) {
      if (!isUniqueViolation(e)) throw e;
      const existing = await this.#getAccountByThumbprint(account.thumbprint);
      if (!existing) throw e;
      return { outcome: 'exists', account: existing };
    }
  }
}

export function eabKeyRowToEabKey(r: EabKeysTable): EabKey {
  return {
    kid: r.kid,
    hmacKey: r.hmac_key,
    source: r.source as EabKeySource,
    principal: r.principal,
    note: r.note,
    profiles: r.profiles === null ? null : (JSON.parse(r.profiles) as string[]),
    expiresAt: r.expires_at === null ? null : Number(r.expires_at),
    createdAt: Number(r.created_at),
    usedBy: r.used_by,
    usedAt: r.used_at === null ? null : Number(r.used_at),
  };
}

export function eabKeyToRow(k: EabKey): EabKeysTable {
  return {
    kid: k.kid,
    hmac_key: k.hmacKey,
    source: k.source,
    principal: k.principal,
    note: k.note,
    profiles: k.profiles === null ? null : JSON.stringify(k.profiles),
    expires_at: k.expiresAt,
    created_at: k.createdAt,
    used_by: k.usedBy,
    used_at: k.usedAt,
  };
}
