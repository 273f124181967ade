import { DNS_PERSIST_LABEL, dnsPersistAccountUri, type Identifier } from '@akamu/protocol';
import { checkPersistRecords } from '../core/dns-persist.ts';
import { DnsLookupError, type DnsResolver } from './dns-resolver.ts';
import {
  type ChallengeValidator,
  problem,
  type ValidationOutcome,
  type ValidationRequest,
} from './validator.ts';

/** §9.3.1: failed attempts are rate-limited per account and domain: at most this many per window. */
export const PERSIST_MAX_FAILURES = 10;
export const PERSIST_FAILURE_WINDOW_MS = 3_600_000;
/** Bound on the (account, domain) pairs remembered; the oldest are forgotten first. */
const MAX_TRACKED = 10_000;

export interface DnsPersist01Options {
  resolver: DnsResolver;
  /** This CA's issuer domain names (draft-ietf-acme-dns-persist §3.1); at least one. */
  issuerDomainNames: string[];
  /** The directory's accountHashPrefix (§4.1); a function because the base URL is known at listen. */
  accountHashPrefix: () => string;
  /** Thumbprints of the account's earlier keys, newest first (§4.2 key retention). */
  previousThumbprints?: (accountId: string) => Promise<string[]>;
  now: () => number;
}

/**
 * dns-persist-01 (draft-ietf-acme-dns-persist-02): a long-lived TXT record at
 * `_validation-persist.<name>` whose issue-value names one of this CA's issuer domain names and the
 * account's hashed URI, with `policy=wildcard` for a wildcard authorization and an optional
 * `persistUntil`, which caps the authorization's expiry (§4.1 item 5).
 */
export class DnsPersist01Validator implements ChallengeValidator {
  readonly type = 'dns-persist-01';
  readonly #o: DnsPersist01Options;
  /** Times of recent failed attempts, by account and domain. */
  readonly #failures = new Map<string, number[]>();

  constructor(opts: DnsPersist01Options) {
    this.#o = opts;
  }

  supports(identifier: Identifier): boolean {
    // ".onion" names are not in the DNS (RFC 9799 §3.1.1).
    return (
      identifier.type === 'dns' &&
      !identifier.value.endsWith('.onion') &&
      this.#o.issuerDomainNames.length > 0
    );
  }

  /** §3.1: the challenge object carries `issuerDomainNames`. */
  challengeFields(): Record<string, unknown> {
    return { issuerDomainNames: this.#o.issuerDomainNames };
  }

  async validate(req: ValidationRequest): Promise<ValidationOutcome> {
    const domain = req.identifier.value;
    const name = `${DNS_PERSIST_LABEL}.${domain}`;
    const key = `${req.accountId} ${domain}`;
    const now = this.#o.now();
    const recent = (this.#failures.get(key) ?? []).filter((t) => t > now - PERSIST_FAILURE_WINDOW_MS);
    if (recent.length >= PERSIST_MAX_FAILURES) {
      return problem(
        'rateLimited',
        `${PERSIST_MAX_FAILURES} failed dns-persist-01 validations of ${domain} by this account within an hour; try again later`,
        req.identifier,
      );
    }
    const outcome = await this.#check(req, domain, name);
    if (outcome !== undefined && 'type' in outcome) {
      this.#failures.delete(key);
      this.#failures.set(key, [...recent, now]);
      if (this.#failures.size > MAX_TRACKED) this.#failures.delete(this.#failures.keys().next().value!);
    }
    return outcome;
  }

  async #check(req: ValidationRequest, domain: string, name: string): Promise<ValidationOutcome> {
    let records: string[];
    try {
      records = await this.#o.resolver.txt(name, req.signal);
    } catch (e) {
      if (e instanceof DnsLookupError)
        return problem('dns', `querying TXT ${name}: ${e.message}`, req.identifier);
      throw e;
    }
    const prefix = this.#o.accountHashPrefix();
    // §4.2: the current key first, then earlier ones newest first; each with the domain and with "*".
    const current = req.keyAuthorization.slice(req.keyAuthorization.indexOf('.') + 1);
    const previous = (await this.#o.previousThumbprints?.(req.accountId)) ?? [];
    const accepted = new Set<string>();
    for (const thumbprint of [current, ...previous]) {
      accepted.add(dnsPersistAccountUri(prefix, domain, thumbprint, req.accountUrl));
      accepted.add(dnsPersistAccountUri(prefix, '*', thumbprint, req.accountUrl));
    }
    const r = checkPersistRecords({
      records,
      issuerDomainNames: this.#o.issuerDomainNames,
      accountHashPrefix: prefix,
      acceptedAccountUris: accepted,
      wildcard: req.wildcard,
      now: this.#o.now(),
    });
    if (!r.ok) return problem(r.type, `${name}: ${r.detail}`, req.identifier);
    return r.validUntil === undefined ? undefined : { validUntil: r.validUntil };
  }
}
