import { parameter, parseIssueValue } from './issue-value.ts';

/**
 * The rules of a dns-persist-01 validation (draft-ietf-acme-dns-persist-02), as pure functions over the
 * TXT records found at `_validation-persist.<name>`.
 */
export interface PersistCheck {
  /** Each TXT record, its character-strings joined. */
  records: string[];
  /** This CA's issuer domain names (§3.1), lower-case. */
  issuerDomainNames: string[];
  /** The directory's accountHashPrefix (§4.1). */
  accountHashPrefix: string;
  /** Every hashed URI that identifies the requesting account (§4.2): each retained key, domain and "*". */
  acceptedAccountUris: ReadonlySet<string>;
  /** Whether the authorization is for a wildcard (§5: needs policy=wildcard). */
  wildcard: boolean;
  now: number;
}

export type PersistResult =
  | { ok: true /** persistUntil in ms (§4.1 item 5), when the record has one. */; validUntil?: number }
  | { ok: false; type: 'malformed' | 'unauthorized'; detail: string };

type Failure = Extract<PersistResult, { ok: false }>;

const HASH = /^sha-256\/[A-Za-z0-9_-]{43}$/;
const KNOWN = ['accounturi', 'policy', 'persistuntil'];

/**
 * §4.3.2: records naming another issuer are ignored; the first record of ours that meets every rule
 * validates. When none does, the failure of the first record of ours explains why (§9.3.1: `malformed`
 * for syntax, `unauthorized` for a record that does not authorize this account, now, for this scope).
 */
export function checkPersistRecords(c: PersistCheck): PersistResult {
  let first: Failure | undefined;
  for (const text of c.records) {
    const r = checkOne(text, c);
    if (r === undefined) continue;
    if (r.ok) return r;
    first ??= r;
  }
  return (
    first ?? {
      ok: false,
      type: 'unauthorized',
      detail:
        c.records.length === 0
          ? 'no TXT record found'
          : `no TXT record names an issuer domain name of this CA (${c.issuerDomainNames.join(', ')})`,
    }
  );
}

/** One record: undefined when it is for another issuer. */
function checkOne(text: string, c: PersistCheck): PersistResult | undefined {
  const bad = (detail: string): Failure => ({ ok: false, type: 'malformed', detail });
  const no = (detail: string): Failure => ({ ok: false, type: 'unauthorized', detail });
  const v = parseIssueValue(text);
  if (!v) {
    // Only a record that names one of our issuers concerns us (§4.3.2 step 2).
    const head = text.split(';')[0]!.trim().toLowerCase();
    return c.issuerDomainNames.includes(head)
      ? bad(`the record "${text}" is not an issue-value (RFC 8659 §4.2)`)
      : undefined;
  }
  if (v.issuer === undefined || !c.issuerDomainNames.includes(v.issuer)) return undefined;
  const seen = new Set<string>();
  for (const p of v.parameters) {
    const tag = p.tag.toLowerCase();
    if (KNOWN.includes(tag) && seen.has(tag)) return bad(`the record repeats the parameter ${p.tag}`);
    seen.add(tag);
  }
  const accountUri = parameter(v, 'accounturi');
  if (accountUri === undefined) return bad('the record has no accounturi parameter');
  if (
    !accountUri.startsWith(c.accountHashPrefix) ||
    !HASH.test(accountUri.slice(c.accountHashPrefix.length))
  ) {
    return bad(`accounturi ${accountUri} is not a hashed URI under ${c.accountHashPrefix} with sha-256`);
  }
  const until = parameter(v, 'persistuntil');
  if (until !== undefined && !/^\d{1,15}$/.test(until)) {
    return bad(`persistUntil "${until}" is not a base-10 UNIX timestamp`);
  }
  // §4.1 item 3 and §4.2: Simple String Comparison, no case folding.
  if (!c.acceptedAccountUris.has(accountUri))
    return no(`accounturi ${accountUri} does not identify this account`);
  const validUntil = until === undefined ? undefined : Number(until) * 1000;
  if (validUntil !== undefined && validUntil <= c.now) {
    return no(`the record expired at ${new Date(validUntil).toISOString()} (persistUntil)`);
  }
  // §4.1 item 4, §5: values compared case-insensitively; anything but "wildcard" means no policy.
  if (c.wildcard && parameter(v, 'policy')?.toLowerCase() !== 'wildcard') {
    return no('a wildcard authorization needs policy=wildcard in the record');
  }
  return validUntil === undefined ? { ok: true } : { ok: true, validUntil };
}
