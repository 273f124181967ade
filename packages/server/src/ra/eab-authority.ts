import { randomBytes } from 'node:crypto';
import { b64u, fromB64u } from '@akamu/protocol';
import type { Clock } from '../clock.ts';
import { type Config, ConfigError } from '../config.ts';
import { type AuditContext, type AuditEvent, auditEvent, SYSTEM_AUDIT } from '../core/audit.ts';
import {
  assertEabKeyUsable,
  checkEabBindsAccountKey,
  deriveEabCredentials,
  EAB_KID,
  MAX_EAB_KEY_BYTES,
  MIN_EAB_KEY_BYTES,
  parseEabHmacKey,
  parseExternalAccountBinding,
  verifyEabMac,
} from '../core/eab.ts';
import type { Account } from '../core/types.ts';
import type { EabConfig } from '../eab-config.ts';
import { AcmeError, malformed, unauthorized } from '../errors.ts';
import type { EabKey, EabStorage } from '../sa/eab-storage.ts';

export interface EabAuthorityDeps {
  store: EabStorage;
  clock: Clock;
  /** The new-account URL a binding's `url` must equal (known once the server listens). */
  newAccountUrl: () => string;
  /** `[eab] master_secret`, decoded; absent: no derived keys. */
  masterSecret?: Buffer;
  /** Whether a profile id is configured (profile grants must name real profiles). */
  profileExists: (id: string) => boolean;
}

/** What createEabKey takes; everything is optional. */
export interface NewEabKey {
  /** Default: "eab-" and 16 random base64url characters. */
  kid?: string;
  /** base64url MAC key of 32–128 bytes; default: 32 random bytes. */
  hmacKey?: string;
  /** Epoch ms after which the key can no longer bind an account. */
  expiresAt?: number;
  note?: string;
  /** Profiles the bound account may use; absent: no restriction. */
  profiles?: string[];
}

/**
 * External account binding (RFC 8555 §7.3.4): where keys come from (configuration, createEabKey, HKDF
 * for a principal), the verification of a new-account request's binding, and the creation of the
 * account that consumes its key. The RA calls it from newAccount; the admin API from its EAB routes.
 */
export class EabAuthority {
  readonly #d: EabAuthorityDeps;

  constructor(deps: EabAuthorityDeps) {
    this.#d = deps;
  }

  get derivesKeys(): boolean {
    return this.#d.masterSecret !== undefined;
  }

  /** Seeds `[eab.keys]` once per start; a used key stays used (sa/eab-storage.ts seedEabKeys). */
  async seedConfiguredKeys(keys: EabConfig['keys']): Promise<void> {
    checkEabKeyProfiles(keys, this.#d.profileExists);
    const now = this.#d.clock.now();
    const rows: EabKey[] = [];
    for (const [kid, k] of Object.entries(keys)) {
      rows.push({
        kid,
        hmacKey: k.hmac_key,
        source: 'config',
        principal: null,
        note: k.note || null,
        profiles: k.profiles ?? null,
        expiresAt: k.expires ?? null,
        createdAt: now,
        usedBy: null,
        usedAt: null,
      });
    }
    await this.#d.store.seedEabKeys(rows, (key) => eabKeyCreatedEvent(SYSTEM_AUDIT, now, key));
  }

  /**
   * Creates a key (the admin API's "create EAB key"). Returns the stored key, whose `hmacKey` the caller
   * hands to the client once. `malformed` for bad input; `malformed` with status 409 for a kid in use.
   */
  async createEabKey(opts: NewEabKey = {}, audit: AuditContext = SYSTEM_AUDIT): Promise<EabKey> {
    const now = this.#d.clock.now();
    const kid = opts.kid ?? `eab-${randomBytes(12).toString('base64url')}`;
    if (!EAB_KID.test(kid)) {
      throw malformed('a kid is 1–128 letters, digits or ._~:@+=-, starting with a letter or digit');
    }
    let hmacKey: string;
    if (opts.hmacKey === undefined) {
      hmacKey = b64u(randomBytes(32));
    } else {
      if (parseEabHmacKey(opts.hmacKey) === undefined) {
        throw malformed(
          `the MAC key must be base64url of ${MIN_EAB_KEY_BYTES} to ${MAX_EAB_KEY_BYTES} bytes`,
        );
      }
      hmacKey = opts.hmacKey;
    }
    if (opts.expiresAt !== undefined && (!Number.isSafeInteger(opts.expiresAt) || opts.expiresAt <= now)) {
      throw malformed('the expiry must be a time in the future');
    }
    if (opts.note !== undefined && opts.note.length > 1000)
      throw malformed('the note is over 1000 characters');
    if (opts.profiles !== undefined) {
      if (opts.profiles.length === 0) throw malformed('a profile grant lists at least one profile');
      const unknown = opts.profiles.filter((p) => !this.#d.profileExists(p));
      if (unknown.length > 0) throw malformed(`no such profile: ${unknown.join(', ')}`);
    }
    const key: EabKey = {
      kid,
      hmacKey,
      source: 'api',
      principal: null,
      note: opts.note || null,
      profiles: opts.profiles ? [...new Set(opts.profiles)] : null,
      expiresAt: opts.expiresAt ?? null,
      createdAt: now,
      usedBy: null,
      usedAt: null,
    };
    if (!(await this.#d.store.insertEabKey(key, eabKeyCreatedEvent(audit, now, key)))) {
      throw new AcmeError('malformed', `an external account key "${kid}" already exists`, { status: 409 });
    }
    return key;
  }

  listEabKeys(filter?: { used?: boolean }): Promise<EabKey[]> {
    return this.#d.store.listEabKeys(filter);
  }

  getEabKey(kid: string): Promise<EabKey | undefined> {
    return this.#d.store.getEabKey(kid);
  }

  /** Deletes an unused key; a used key is kept as the record of the binding. */
  deleteEabKey(kid: string, audit: AuditContext = SYSTEM_AUDIT): Promise<'deleted' | 'used' | 'missing'> {
    return this.#d.store.deleteEabKey(
      kid,
      auditEvent(audit, this.#d.clock.now(), 'eab_key.deleted', { type: 'eab_key', id: kid }),
    );
  }

  /**
   * RFC 8555 §7.3.4: verifies a new-account request's `externalAccountBinding` for the account key with
   * this thumbprint and returns the kid. `malformed` for a binding that is not well formed, names another
   * URL or another key; `unauthorized` for an unknown kid, a MAC that does not verify, a used or expired
   * key. The key is consumed later, with the account (createBoundAccount).
   */
  async verifyBinding(binding: unknown, accountThumbprint: string): Promise<string> {
    const eab = parseExternalAccountBinding(binding);
    checkEabBindsAccountKey(eab, this.#d.newAccountUrl(), accountThumbprint);
    const key = await this.#d.store.getEabKey(eab.kid);
    if (!key) throw unauthorized('the external account binding names an unknown key');
    const hmacKey = fromB64u(key.hmacKey);
    if (!hmacKey || !verifyEabMac(eab, hmacKey)) {
      throw unauthorized('the external account binding MAC does not verify');
    }
    assertEabKeyUsable(key, this.#d.clock.now());
    return key.kid;
  }

  /**
   * Inserts the account and consumes its key in one transaction. The loser of a race for one key gets
   * `unauthorized` and leaves no account behind; a race for one account key returns that account.
   */
  async createBoundAccount(
    account: Account & { eabKid: string },
    /** account.created and eab_key.consumed, written with the account. */
    audit?: AuditEvent[],
  ): Promise<{ account: Account; created: boolean }> {
    const r = await this.#d.store.createAccountWithEabKey(account, this.#d.clock.now(), audit);
    if (r.outcome === 'key-unavailable') {
      throw unauthorized(`the external account key "${account.eabKid}" has already been used or has expired`);
    }
    return { account: r.account, created: r.outcome === 'created' };
  }

  /**
   * The key of a principal the reverse proxy authenticated: derived with HKDF-SHA-256 from the master
   * secret (stable, so asking again gives the same pair) and stored on first use so it is consumed like
   * any other. `malformed` 409 once it has bound an account.
   */
  async derivedKeyFor(
    principal: string,
    audit: AuditContext = SYSTEM_AUDIT,
  ): Promise<{ kid: string; hmacKey: string }> {
    if (!this.#d.masterSecret)
      throw new AcmeError('malformed', 'this CA derives no EAB keys', { status: 404 });
    const derived = deriveEabCredentials(this.#d.masterSecret, principal);
    const row: EabKey = {
      kid: derived.kid,
      hmacKey: b64u(derived.hmacKey),
      source: 'derived',
      principal,
      note: null,
      profiles: null,
      expiresAt: null,
      createdAt: this.#d.clock.now(),
      usedBy: null,
      usedAt: null,
    };
    await this.#d.store.insertEabKey(
      row,
      eabKeyCreatedEvent({ ...audit, actor: `principal:${principal}` }, row.createdAt, row),
    );
    const key = await this.#d.store.getEabKey(derived.kid);
    if (key?.source !== 'derived' || key.principal !== principal) {
      throw new AcmeError('malformed', 'the derived key identifier is taken by another key', { status: 409 });
    }
    if (key.usedBy !== null) {
      throw new AcmeError(
        'malformed',
        `the external account key of ${principal} has already bound an account`,
        {
          status: 409,
        },
      );
    }
    return { kid: key.kid, hmacKey: key.hmacKey };
  }

  /** The kid of the EAB key that bound the account, if one did. */
  accountEabKid(account: Account): string | undefined {
    return account.eabKid;
  }

  /**
   * The profiles the account's binding key grants: undefined when the account was bound by no key or by
   * a key without a grant (no restriction from EAB).
   */
  async grantedProfiles(account: Account): Promise<string[] | undefined> {
    if (!account.eabKid) return undefined;
    return (await this.#d.store.getEabKey(account.eabKid))?.profiles ?? undefined;
  }
}

/**
 * The EAB authority of a server, with `[eab.keys]` seeded; undefined when there is no EAB storage (an
 * embedder's own storage), which is a configuration error if EAB is required or keys are configured.
 */
export async function buildEabAuthority(
  config: Pick<Config, 'acme' | 'eab'>,
  store: EabStorage | undefined,
  clock: Clock,
  profiles: { get(id: string): unknown },
  newAccountUrl: () => string,
): Promise<EabAuthority | undefined> {
  if (!store) {
    if (
      config.acme.external_account_required ||
      Object.keys(config.eab.keys).length > 0 ||
      config.eab.master_secret
    ) {
      throw new ConfigError(
        'invalid configuration:\n  acme.external_account_required, [eab]: EAB keys need EAB storage (ServerDeps.eabStorage) when the storage is replaced',
      );
    }
    return undefined;
  }
  const eab = new EabAuthority({
    store,
    clock,
    newAccountUrl,
    masterSecret: config.eab.master_secret ? fromB64u(config.eab.master_secret) : undefined,
    profileExists: (id) => profiles.get(id) !== undefined,
  });
  await eab.seedConfiguredKeys(config.eab.keys);
  return eab;
}

/** Every profile a configured key grants must be a `[profiles.<id>]` table (checked before anything opens). */
export function checkEabKeyProfiles(keys: EabConfig['keys'], profileExists: (id: string) => boolean): void {
  for (const [kid, k] of Object.entries(keys)) {
    for (const profile of k.profiles ?? []) {
      if (!profileExists(profile)) {
        throw new ConfigError(
          `invalid configuration:\n  eab.keys.${kid}.profiles: "${profile}" names no [profiles.${profile}] table`,
        );
      }
    }
  }
}

/** eab_key.created: never the MAC key, only what the key is for. */
function eabKeyCreatedEvent(audit: AuditContext, at: number, key: EabKey): AuditEvent {
  return auditEvent(
    audit,
    at,
    'eab_key.created',
    { type: 'eab_key', id: key.kid },
    {
      details: {
        source: key.source,
        ...(key.principal !== null ? { principal: key.principal } : {}),
        ...(key.note !== null ? { note: key.note } : {}),
        ...(key.profiles !== null ? { profiles: key.profiles } : {}),
        ...(key.expiresAt !== null ? { expires: key.expiresAt } : {}),
      },
    },
  );
}
