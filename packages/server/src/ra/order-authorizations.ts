import type { Identifier } from '@akamu/protocol';
import type { NormalizedIdentifier } from '../core/identifiers.ts';
import { newId, newToken } from '../core/ids.ts';
import { ancestorsOf, authorizationCovers } from '../core/subdomains.ts';
import type { Account, Authorization } from '../core/types.ts';
import { AcmeError } from '../errors.ts';
import type { StorageAuthority } from '../sa/storage-authority.ts';
import type { IssuanceProfile } from './profiles.ts';

export interface AuthorizationPlanDeps {
  sa: Pick<StorageAuthority, 'findValidAuthorizations'>;
  challengeTypesFor(identifier: Identifier, wildcard: boolean): string[];
  pendingAuthorizationLifetime: number;
  validAuthorizationLifetime: number;
  subdomainAuthAllowed: boolean;
}

export interface AuthorizationPlan {
  /** The order's authorizations, each once (several identifiers may share an ancestor's). */
  authorizationIds: string[];
  /** Authorizations to insert with the order. */
  created: Authorization[];
}

/**
 * The authorizations of a new order (RFC 8555 §7.4), for each identifier in turn:
 * 1. a valid authorization of the account for the same identifier is reused;
 * 2. else one for an ancestor domain with subdomainAuthAllowed (RFC 9444 §4.1);
 * 3. else, under a `trust_authenticated` profile, a new authorization valid at once, with no challenge;
 * 4. else, when the client named an `ancestorDomain` (RFC 9444 §4.2), a pending authorization for the
 *    ancestor with subdomainAuthAllowed, shared by the order's identifiers below it;
 * 5. else a pending authorization for the identifier with the challenges the CA (and the profile) offer.
 * A reused authorization must have been validated by a challenge the profile accepts: one a
 * trust_authenticated order created never satisfies an order that needs a challenge. Each refused
 * identifier becomes an error in `errors`.
 */
export async function planOrderAuthorizations(
  d: AuthorizationPlanDeps,
  account: Account,
  ids: NormalizedIdentifier[],
  profile: IssuanceProfile | undefined,
  now: number,
  errors: AcmeError[],
): Promise<AuthorizationPlan> {
  const trust = profile?.authorizationMode === 'trust_authenticated';
  const offered = (identifier: Identifier, wildcard: boolean) => {
    const types = d.challengeTypesFor(identifier, wildcard);
    return profile && profile.challengeTypes.length > 0
      ? types.filter((t) => profile.challengeTypes.includes(t))
      : types;
  };
  const usable = (a: Authorization) =>
    trust ||
    a.challenges.some(
      (c) =>
        c.status === 'valid' &&
        (!profile || profile.challengeTypes.length === 0 || profile.challengeTypes.includes(c.type)),
    );

  const lookup = new Map<string, Identifier>();
  for (const id of ids) {
    lookup.set(`${id.identifier.type}:${id.authzValue}`, { type: id.identifier.type, value: id.authzValue });
    if (d.subdomainAuthAllowed && id.identifier.type === 'dns') {
      for (const value of ancestorsOf(id.authzValue)) lookup.set(`dns:${value}`, { type: 'dns', value });
    }
  }
  const reusable = (await d.sa.findValidAuthorizations(account.id, [...lookup.values()], now)).filter(usable);

  const authorizationIds: string[] = [];
  const created: Authorization[] = [];
  const ancestors = new Map<string, Authorization>();
  const newAuthz = (
    identifier: Identifier,
    wildcard: boolean,
    types: string[],
    extra: Partial<Authorization> = {},
  ): Authorization => {
    const id = newId();
    // Only trust_authenticated creates authorizations without a challenge, and they are valid at once.
    const valid = trust;
    return {
      id,
      accountId: account.id,
      identifier,
      wildcard,
      status: valid ? 'valid' : 'pending',
      expiresAt: now + (valid ? d.validAuthorizationLifetime : d.pendingAuthorizationLifetime),
      createdAt: now,
      challenges: types.map((type) => ({
        id: newId(),
        authorizationId: id,
        type,
        token: newToken(),
        status: 'pending',
        validatedAt: null,
        error: null,
      })),
      ...extra,
    };
  };

  for (const id of ids) {
    const exact = reusable.find(
      (a) =>
        a.identifier.type === id.identifier.type &&
        a.identifier.value === id.authzValue &&
        a.wildcard === id.wildcard,
    );
    const covering =
      exact ??
      (d.subdomainAuthAllowed
        ? reusable.find((a) => authorizationCovers(a, id, new Set(d.challengeTypesFor(a.identifier, true))))
        : undefined);
    if (covering) {
      authorizationIds.push(covering.id);
      continue;
    }
    const authzIdentifier = { type: id.identifier.type, value: id.authzValue };
    if (trust) {
      const authz = newAuthz(authzIdentifier, id.wildcard, []);
      created.push(authz);
      authorizationIds.push(authz.id);
      continue;
    }
    if (id.ancestorDomain !== undefined) {
      if (!d.subdomainAuthAllowed) {
        errors.push(
          new AcmeError('rejectedIdentifier', 'this CA does not authorize ancestor domains (RFC 9444)', {
            identifier: id.identifier,
          }),
        );
        continue;
      }
      const ancestor = { type: 'dns', value: id.ancestorDomain };
      const wildcardTypes = offered(ancestor, true);
      let authz = ancestors.get(id.ancestorDomain);
      if (!authz) {
        authz = newAuthz(ancestor, false, id.wildcard ? wildcardTypes : offered(ancestor, false), {
          subdomainAuthAllowed: true,
        });
        ancestors.set(id.ancestorDomain, authz);
        created.push(authz);
      } else if (id.wildcard) {
        // A wildcard below the ancestor is proven only by a challenge valid for wildcards.
        authz.challenges = authz.challenges.filter((c) => wildcardTypes.includes(c.type));
      }
      if (authz.challenges.length === 0) {
        errors.push(
          new AcmeError(
            'rejectedIdentifier',
            `no challenge type this CA offers can validate ${id.ancestorDomain} for ${id.identifier.value}`,
            { identifier: id.identifier },
          ),
        );
        continue;
      }
      if (!authorizationIds.includes(authz.id)) authorizationIds.push(authz.id);
      continue;
    }
    const types = offered(authzIdentifier, id.wildcard);
    if (types.length === 0) {
      errors.push(
        new AcmeError(
          'rejectedIdentifier',
          `no challenge type this CA offers${profile ? ` under profile "${profile.id}"` : ''} can validate ${id.identifier.value}`,
          { identifier: id.identifier },
        ),
      );
      continue;
    }
    const authz = newAuthz(authzIdentifier, id.wildcard, types);
    created.push(authz);
    authorizationIds.push(authz.id);
  }
  return { authorizationIds: [...new Set(authorizationIds)], created };
}
