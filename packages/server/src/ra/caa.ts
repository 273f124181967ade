import type { Identifier } from '@akamu/protocol';
import { parameter, parseIssueValue } from '../core/issue-value.ts';
import type { Authorization } from '../core/types.ts';
import { AcmeError, combineErrors } from '../errors.ts';

/**
 * CAA checking at issuance (RFC 8659, with the RFC 8657 accounturi and validationmethods parameters).
 * The rules are pure functions; CaaChecker runs the DNS lookups through an injected function.
 */

export interface CaaRecord {
  flags: number;
  tag: string;
  value: string;
}

/** Tags this CA understands (RFC 8659 §4, RFC 9495 issuemail/issuevmc, CA/B contact tags). */
const KNOWN_TAGS = new Set([
  'issue',
  'issuewild',
  'iodef',
  'issuemail',
  'issuevmc',
  'contactemail',
  'contactphone',
]);
/** RFC 8659 §4.1: bit 0 of the flags octet (value 128) is the Issuer Critical Flag. */
const CRITICAL = 0x80;

/** RFC 8659 §3: the name, then each parent in turn, up to (not including) the root. */
export function caaCandidates(name: string): string[] {
  const labels = name.replace(/^\*\./, '').split('.');
  return labels.map((_, i) => labels.slice(i).join('.'));
}

export interface CaaRequest {
  /** This CA's identities (acme.caa_identities), lower-case. */
  identities: string[];
  wildcard: boolean;
  /** The requesting account's URL (RFC 8657 §3 accounturi). */
  accountUri: string;
  /** The ACME method that validated the authorization (RFC 8657 §4 validationmethods). */
  method: string | undefined;
}

export type CaaDecision = { permitted: true } | { permitted: false; reason: string };

/**
 * Whether the Relevant RRset permits this CA to issue (RFC 8659 §4):
 * 1. an empty RRset permits any CA (§3);
 * 2. a critical property with an unknown tag forbids issuance (§4.1);
 * 3. for a wildcard, `issuewild` properties when there are any, else `issue` (§4.3); otherwise `issue`;
 *    none of them: any CA may issue (§4.2);
 * 4. some property must name one of our identities (§4.2; an unparsable value names no CA), and
 *    satisfy its `accounturi` (RFC 8657 §3) and `validationmethods` (RFC 8657 §4) parameters.
 */
export function evaluateCaa(rrset: CaaRecord[], req: CaaRequest): CaaDecision {
  if (rrset.length === 0) return { permitted: true };
  const unknownCritical = rrset.find((r) => r.flags & CRITICAL && !KNOWN_TAGS.has(r.tag.toLowerCase()));
  if (unknownCritical) {
    return {
      permitted: false,
      reason: `a critical CAA property has the unknown tag "${unknownCritical.tag}"`,
    };
  }
  const wild = rrset.filter((r) => r.tag.toLowerCase() === 'issuewild');
  const tag = req.wildcard && wild.length > 0 ? 'issuewild' : 'issue';
  const relevant = tag === 'issuewild' ? wild : rrset.filter((r) => r.tag.toLowerCase() === 'issue');
  if (relevant.length === 0) return { permitted: true };
  const why: string[] = [];
  for (const r of relevant) {
    const v = parseIssueValue(r.value);
    if (!v || v.issuer === undefined || !req.identities.includes(v.issuer)) continue;
    const accountUri = parameter(v, 'accounturi');
    if (accountUri !== undefined && accountUri !== req.accountUri) {
      why.push(`accounturi ${accountUri} is not the requesting account`);
      continue;
    }
    const methods = parameter(v, 'validationmethods');
    if (methods !== undefined && (req.method === undefined || !methods.split(',').includes(req.method))) {
      why.push(`validationmethods ${methods} does not include ${req.method ?? 'the method used'}`);
      continue;
    }
    return { permitted: true };
  }
  const shown = relevant.map((r) => `${r.tag} "${r.value}"`).join(', ');
  return {
    permitted: false,
    reason:
      why.length > 0
        ? `${shown}: ${why.join('; ')}`
        : `${shown} does not name this CA (${req.identities.join(', ')})`,
  };
}

/** A DNS lookup of the CAA RRset of one name; throws when the lookup fails (SERVFAIL, timeout). */
export type CaaLookup = (name: string) => Promise<CaaRecord[]>;

export interface CaaCheckItem {
  identifier: Identifier;
  /** The challenge type of the valid authorization (RFC 8657 §4). */
  method: string | undefined;
}

/**
 * Names that are never in the public DNS, so have no CAA RRset: "localhost" and names under it (RFC 6761
 * §6.3, resolved to loopback without a query) and ".onion" names (RFC 7686 §2: resolvers answer NXDOMAIN).
 */
export function outsideDns(name: string): boolean {
  const n = name.replace(/^\*\./, '');
  return n === 'localhost' || n.endsWith('.localhost') || n === 'onion' || n.endsWith('.onion');
}

export class CaaChecker {
  readonly #identities: string[];
  readonly #lookup: CaaLookup;

  constructor(identities: string[], lookup: CaaLookup) {
    this.#identities = identities.map((i) => i.toLowerCase());
    this.#lookup = lookup;
  }

  /** RFC 8659 §3: the first non-empty RRset climbing from the name towards the root. */
  async relevantRrset(name: string): Promise<{ at: string; rrset: CaaRecord[] }> {
    for (const candidate of caaCandidates(name)) {
      const rrset = await this.#lookup(candidate);
      if (rrset.length > 0) return { at: candidate, rrset };
    }
    return { at: '', rrset: [] };
  }

  /**
   * Checks every dns identifier; throws a `caa` problem (403) naming the identifier, or a compound one
   * with a subproblem per refused identifier. A failed lookup refuses issuance (fails closed).
   */
  async check(items: CaaCheckItem[], accountUri: string): Promise<void> {
    const errors: AcmeError[] = [];
    await Promise.all(
      items
        .filter((i) => i.identifier.type === 'dns' && !outsideDns(i.identifier.value))
        .map(async ({ identifier, method }) => {
          const wildcard = identifier.value.startsWith('*.');
          let found: { at: string; rrset: CaaRecord[] };
          try {
            found = await this.relevantRrset(identifier.value);
          } catch (e) {
            errors.push(
              new AcmeError('caa', `CAA lookup for ${identifier.value} failed: ${(e as Error).message}`, {
                identifier,
              }),
            );
            return;
          }
          const d = evaluateCaa(found.rrset, { identities: this.#identities, wildcard, accountUri, method });
          if (!d.permitted) {
            errors.push(
              new AcmeError(
                'caa',
                `CAA records at ${found.at} forbid issuance for ${identifier.value}: ${d.reason}`,
                {
                  identifier,
                },
              ),
            );
          }
        }),
    );
    if (errors.length > 0) throw combineErrors(errors, 'CAA records forbid issuance for some identifiers');
  }
}

/**
 * The challenge type that validated the authorization covering an order identifier (RFC 8657 §4): the
 * authorization for the same name and wildcard flag, else one for an ancestor domain (RFC 9444).
 */
export function validationMethodFor(
  identifier: Identifier,
  authorizations: Authorization[],
): string | undefined {
  const wildcard = identifier.value.startsWith('*.');
  const base = identifier.value.replace(/^\*\./, '');
  const methodOf = (a: Authorization) => a.challenges.find((c) => c.status === 'valid')?.type;
  const exact = authorizations.find(
    (a) => a.identifier.type === identifier.type && a.identifier.value === base && a.wildcard === wildcard,
  );
  if (exact) return methodOf(exact);
  const ancestor = authorizations.find(
    (a) => a.identifier.type === identifier.type && base.endsWith(`.${a.identifier.value}`),
  );
  return ancestor ? methodOf(ancestor) : undefined;
}
