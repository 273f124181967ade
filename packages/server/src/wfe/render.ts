import type { AccountJson, AuthorizationJson, ChallengeJson, OrderJson, OrderStatus } from '@akamu/protocol';
import { authorizationStatus } from '../core/order-status.ts';
import type { Account, Authorization, Challenge, Order } from '../core/types.ts';
import type { AcmeUrls } from './urls.ts';

/** Domain → RFC 8555 §7.1 wire JSON. Times are RFC 3339. */

const iso = (ms: number) => new Date(ms).toISOString();

export function accountToJson(a: Account, urls: AcmeUrls): AccountJson {
  return {
    status: a.status,
    contact: a.contact,
    termsOfServiceAgreed: a.termsOfServiceAgreed,
    orders: urls.accountOrders(a.id),
    delegations: urls.accountDelegations(a.id),
  };
}

export function orderToJson(o: Order, status: OrderStatus, urls: AcmeUrls): OrderJson {
  const json: OrderJson = {
    status,
    expires: iso(o.expiresAt),
    identifiers: o.identifiers,
    authorizations: o.authorizationIds.map((id) => urls.authz(id)),
    finalize: urls.finalize(o.id),
  };
  if (o.notBefore !== null) json.notBefore = iso(o.notBefore);
  if (o.notAfter !== null) json.notAfter = iso(o.notAfter);
  if (o.error) json.error = o.error;
  if (o.certificateId) json.certificate = urls.certificate(o.certificateId);
  // draft-ietf-acme-profiles §4: the order names the profile it was created under.
  if (o.profile !== null) json.profile = o.profile;
  return json;
}

/** Extra fields a challenge type defines (RFC 9799 `nonce`, RFC 9447 `tkauth-type`), from the RA. */
export type ChallengeFields = (c: Challenge) => Record<string, unknown>;

export function challengeToJson(c: Challenge, urls: AcmeUrls, fields?: ChallengeFields): ChallengeJson {
  const json: ChallengeJson = {
    type: c.type,
    url: urls.challenge(c.id),
    status: c.status,
    token: c.token,
    ...fields?.(c),
  };
  if (c.validatedAt !== null) json.validated = iso(c.validatedAt);
  if (c.error) json.error = c.error;
  return json;
}

/** RFC 8555 §7.1.4: a valid authorization lists only the challenge that validated it. */
export function authorizationToJson(
  a: Authorization,
  now: number,
  urls: AcmeUrls,
  fields?: ChallengeFields,
): AuthorizationJson {
  const status = authorizationStatus(a, now);
  const challenges = status === 'valid' ? a.challenges.filter((c) => c.status === 'valid') : a.challenges;
  const json: AuthorizationJson = {
    identifier: a.identifier,
    status,
    expires: iso(a.expiresAt),
    challenges: challenges.map((c) => challengeToJson(c, urls, fields)),
  };
  if (a.wildcard) json.wildcard = true;
  if (a.subdomainAuthAllowed) json.subdomainAuthAllowed = true;
  return json;
}
