import type { Identifier } from '@akamu/protocol';
import { isAtOrBelow } from './name-policy.ts';
import type { Authorization } from './types.ts';

/** RFC 9444 (ACME for subdomains): which authorizations of ancestor domains cover which names. */

/** `name` is strictly below `ancestor` (RFC 9444 §3: an ancestor domain is a proper suffix at a label boundary). */
export function isStrictlyBelow(name: string, ancestor: string): boolean {
  return name.length > ancestor.length && name.endsWith(`.${ancestor}`);
}

/** Every proper ancestor of a DNS name (`a.b.example.com` → `b.example.com`, `example.com`, `com`). */
export function ancestorsOf(name: string): string[] {
  const out: string[] = [];
  for (let i = name.indexOf('.'); i >= 0; i = name.indexOf('.', i + 1)) out.push(name.slice(i + 1));
  return out;
}

/**
 * RFC 9444 §4.2: the `ancestorDomain` of a new-order identifier must be a DNS name that is an ancestor of
 * the identifier (for a wildcard `*.B`, of B or B itself, since the wildcard names B's subdomains).
 * Returns why it is not, or undefined.
 */
export function ancestorDomainProblem(id: Identifier, ancestor: string): string | undefined {
  if (id.type !== 'dns') return 'ancestorDomain applies only to "dns" identifiers';
  const wildcard = id.value.startsWith('*.');
  const base = wildcard ? id.value.slice(2) : id.value;
  if (wildcard ? isAtOrBelow(base, ancestor) : isStrictlyBelow(base, ancestor)) return undefined;
  return `ancestorDomain ${ancestor} is not an ancestor of ${id.value}`;
}

/**
 * Whether a valid authorization satisfies an order identifier (RFC 8555 §7.4 reuse, RFC 9444 §4.1):
 * - the same identifier, with the same wildcard flag; or
 * - a DNS authorization with `subdomainAuthAllowed` for an ancestor of the name (for a wildcard `*.B`:
 *   for B or an ancestor of B). A wildcard is covered only when the challenge that validated the ancestor
 *   is one this CA accepts for wildcards (RFC 8555 §7.1.3: dns-01 and the like), since an http-01
 *   answer on the ancestor proves nothing about every name below it.
 * `challengeValidated` says whether a challenge validated the authorization (rather than trust mode).
 */
export function authorizationCovers(
  authz: Pick<Authorization, 'identifier' | 'wildcard' | 'subdomainAuthAllowed' | 'challenges'>,
  id: { identifier: Identifier; authzValue: string; wildcard: boolean },
  wildcardChallengeTypes: ReadonlySet<string>,
): boolean {
  if (authz.identifier.type !== id.identifier.type) return false;
  if (authz.identifier.value === id.authzValue && authz.wildcard === id.wildcard) return true;
  if (!authz.subdomainAuthAllowed || authz.identifier.type !== 'dns' || authz.wildcard) return false;
  if (!id.wildcard) return isStrictlyBelow(id.authzValue, authz.identifier.value);
  if (!isAtOrBelow(id.authzValue, authz.identifier.value)) return false;
  return authz.challenges.some((c) => c.status === 'valid' && wildcardChallengeTypes.has(c.type));
}
