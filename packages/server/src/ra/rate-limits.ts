import { createHash } from 'node:crypto';
import type { Identifier } from '@akamu/protocol';
import type { Clock } from '../clock.ts';
import { AddressList, nameSetKey, registeredDomain, retryAfterSeconds } from '../core/rate-limit-rules.ts';
import type { Account } from '../core/types.ts';
import { AcmeError } from '../errors.ts';
import type { RateLimitsConfig } from '../operations-config.ts';
import type { BucketRequest, RateLimitStore } from '../sa/rate-limit-storage.ts';

/** Who sent the request the RA is serving: the client address as Fastify sees it (request.ip). */
export interface RequestOrigin {
  ip: string;
}

/** The limits, by the name metrics and logs use. */
export type RateLimitName =
  | 'new_accounts_per_ip'
  | 'new_orders_per_account'
  | 'certificates_per_domain'
  | 'duplicate_certificates'
  | 'failed_validations'
  | 'pending_authorizations';

/**
 * rateLimited (RFC 8555 §6.6): 429 with Retry-After; the WFE adds Link rel="help" to the policy document
 * when `[rate_limits] policy_url` is set.
 */
export class RateLimitedError extends AcmeError {
  readonly limit: RateLimitName;
  readonly policyUrl: string;

  constructor(limit: RateLimitName, detail: string, retryAfter: number, policyUrl: string) {
    super('rateLimited', detail, { retryAfter });
    this.limit = limit;
    this.policyUrl = policyUrl;
  }
}

/**
 * The rate limits of RFC 8555 §6.6, checked by the RA at new-account, new-order and finalize and fed by
 * failed validations. Counts live in the database (sa/rate-limit-storage.ts), so they hold across nodes.
 * Requests from `exempt_ips` and accounts in `exempt_accounts` are never limited; a limit of 0 is off.
 */
export class RateLimiter {
  readonly #c: RateLimitsConfig;
  readonly #store: RateLimitStore;
  readonly #clock: Clock;
  readonly #exemptIps: AddressList;
  readonly #exemptAccounts: Set<string>;
  readonly #onRefused: (limit: RateLimitName) => void;

  constructor(
    config: RateLimitsConfig,
    store: RateLimitStore,
    clock: Clock,
    onRefused: (limit: RateLimitName) => void = () => {},
  ) {
    this.#c = config;
    this.#store = store;
    this.#clock = clock;
    this.#exemptIps = new AddressList(config.exempt_ips);
    // An account URL names its account by the last path segment.
    this.#exemptAccounts = new Set(
      config.exempt_accounts.map((a) => a.replace(/\/+$/, '').split('/').at(-1)!),
    );
    this.#onRefused = onRefused;
  }

  /** New accounts per client address. */
  async checkNewAccount(origin: RequestOrigin | undefined): Promise<void> {
    if (!origin || this.#exemptIps.has(origin.ip)) return;
    const limit = this.#c.new_accounts_per_ip;
    if (limit === 0) return;
    await this.#take([
      {
        name: 'new_accounts_per_ip',
        req: { bucket: bucket('acct-ip', origin.ip), limit, windowMs: this.#c.new_accounts_per_ip_window },
        detail: `too many new accounts from ${origin.ip}: at most ${limit} per ${span(this.#c.new_accounts_per_ip_window)}`,
      },
    ]);
  }

  /**
   * New orders per account, failed validations per account and name (an identifier that failed too often
   * cannot be ordered again until its window ends), and pending authorizations per account (`newPending`:
   * how many pending authorizations this order adds).
   */
  async checkNewOrder(
    account: Account,
    identifiers: readonly Identifier[],
    newPending: number,
    origin: RequestOrigin | undefined,
  ): Promise<void> {
    if (this.#exempt(account, origin)) return;
    const now = this.#clock.now();
    const failedLimit = this.#c.failed_validations;
    if (failedLimit > 0) {
      for (const id of identifiers) {
        const state = await this.#store.isFull(this.#failedBucket(account.id, id), now);
        if (state.full) {
          this.#refuse(
            'failed_validations',
            `too many failed validations of ${id.value} for this account: at most ${failedLimit} per ${span(this.#c.failed_validations_window)}`,
            state.freeAt,
            now,
          );
        }
      }
    }
    const pendingLimit = this.#c.pending_authorizations;
    if (pendingLimit > 0 && newPending > 0) {
      const pending = await this.#store.pendingAuthorizations(account.id, now);
      if (pending.count + newPending > pendingLimit) {
        this.#refuse(
          'pending_authorizations',
          `too many pending authorizations for this account: at most ${pendingLimit}; answer or deactivate some`,
          pending.firstExpiry,
          now,
        );
      }
    }
    const limit = this.#c.new_orders_per_account;
    if (limit === 0) return;
    await this.#take([
      {
        name: 'new_orders_per_account',
        req: { bucket: bucket('orders', account.id), limit, windowMs: this.#c.new_orders_per_account_window },
        detail: `too many new orders for this account: at most ${limit} per ${span(this.#c.new_orders_per_account_window)}`,
      },
    ]);
  }

  /**
   * At finalization: certificates per registered domain and duplicate certificates (the same exact set
   * of names). Counted when issuance begins; all or none of the buckets take the hit.
   */
  async checkIssuance(
    account: Account,
    identifiers: readonly Identifier[],
    origin: RequestOrigin | undefined,
  ): Promise<void> {
    if (this.#exempt(account, origin)) return;
    const takes: Take[] = [];
    const perDomain = this.#c.certificates_per_domain;
    if (perDomain > 0) {
      const domains = new Set(identifiers.map((i) => registeredDomain(i, this.#c.public_suffixes)));
      for (const domain of domains) {
        takes.push({
          name: 'certificates_per_domain',
          req: {
            bucket: bucket('certs-domain', domain),
            limit: perDomain,
            windowMs: this.#c.certificates_per_domain_window,
          },
          detail: `too many certificates for ${domain}: at most ${perDomain} per ${span(this.#c.certificates_per_domain_window)}`,
        });
      }
    }
    const duplicates = this.#c.duplicate_certificates;
    if (duplicates > 0) {
      takes.push({
        name: 'duplicate_certificates',
        req: {
          bucket: bucket('certs-dup', nameSetKey(identifiers)),
          limit: duplicates,
          windowMs: this.#c.duplicate_certificates_window,
        },
        detail: `too many certificates for exactly this set of names: at most ${duplicates} per ${span(this.#c.duplicate_certificates_window)}`,
      });
    }
    await this.#take(takes);
  }

  /** A validation failed: counts against the account and name (exempt accounts are not counted). */
  async recordFailedValidation(accountId: string, identifier: Identifier): Promise<void> {
    if (this.#c.failed_validations === 0 || this.#exemptAccounts.has(accountId)) return;
    await this.#store.record(this.#failedBucket(accountId, identifier), this.#clock.now());
  }

  /** Buckets whose windows ended (the housekeeping sweep). */
  deleteExpired(now: number): Promise<number> {
    return this.#store.deleteExpired(now);
  }

  #failedBucket(accountId: string, id: Identifier): BucketRequest {
    return {
      bucket: bucket('failed', `${accountId}\n${id.type}:${id.value.toLowerCase()}`),
      limit: this.#c.failed_validations,
      windowMs: this.#c.failed_validations_window,
    };
  }

  #exempt(account: Account, origin: RequestOrigin | undefined): boolean {
    return this.#exemptAccounts.has(account.id) || (origin !== undefined && this.#exemptIps.has(origin.ip));
  }

  async #take(takes: Take[]): Promise<void> {
    if (takes.length === 0) return;
    const now = this.#clock.now();
    const r = await this.#store.take(
      takes.map((t) => t.req),
      now,
    );
    if (r.ok) return;
    const refused = takes[r.index]!;
    this.#refuse(refused.name, refused.detail, r.freeAt, now);
  }

  #refuse(name: RateLimitName, detail: string, freeAt: number, now: number): never {
    this.#onRefused(name);
    throw new RateLimitedError(name, detail, retryAfterSeconds(freeAt, now), this.#c.policy_url);
  }
}

interface Take {
  name: RateLimitName;
  req: BucketRequest;
  detail: string;
}

/** A bucket name of bounded length: the kind and a hash of what is counted. */
function bucket(kind: string, subject: string): string {
  return `${kind}:${createHash('sha256').update(subject).digest('base64url')}`;
}

function span(ms: number): string {
  if (ms % 86_400_000 === 0) return `${ms / 86_400_000}d`;
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0) return `${ms / 60_000}m`;
  return `${Math.round(ms / 1000)}s`;
}
