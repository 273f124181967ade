import type { DirectoryMeta } from '@akamu/protocol';
import type { FastifyReply } from 'fastify';
import type { Clock } from '../clock.ts';
import type { Account } from '../core/types.ts';
import { unauthorized } from '../errors.ts';
import type { NonceService } from '../nonce/nonce-service.ts';
import type { ProfileCatalog } from '../ra/profiles.ts';
import type { RegistrationAuthority } from '../ra/registration-authority.ts';
import type { RenewalAuthority } from '../ra/renewal-authority.ts';
import type { StorageAuthority } from '../sa/storage-authority.ts';
import type { AcmeUrls } from './urls.ts';
import type { RequestVerifier } from './verify-request.ts';

/** What the WFE's route handlers share. Storage is read-only here: every change goes through the RA. */
export interface WfeContext {
  ra: RegistrationAuthority;
  /** Certificate profiles, for the per-profile directories. */
  profiles: ProfileCatalog;
  /** ARI, STAR and delegations (docs/renewal.md); their routes and order members exist only with it. */
  renewals?: RenewalAuthority;
  sa: Pick<
    StorageAuthority,
    'getAccount' | 'getOrder' | 'getAuthorization' | 'getChallenge' | 'getCertificate' | 'listOrderIds'
  >;
  urls: AcmeUrls;
  nonces: NonceService;
  verifier: RequestVerifier;
  clock: Clock;
  meta: DirectoryMeta;
  /** The PEM chain served after every leaf: the issuing CA and any intermediates above it. */
  chainPem: string;
  retryAfterSeconds: number;
  /** How long an authorization poll waits for a validation running in this process. */
  pollHoldMs: number;
  ordersPageSize: number;
}

/** RFC 8555 §7.1: a resource belongs to one account; other accounts get unauthorized. */
export function assertOwner(account: Account, ownerId: string, what: string): void {
  if (account.id !== ownerId) throw unauthorized(`the ${what} belongs to another account`);
}

export function sendJson(
  reply: FastifyReply,
  status: number,
  body: unknown,
  location?: string,
): FastifyReply {
  if (location) reply.header('Location', location);
  return reply.code(status).type('application/json').send(body);
}
