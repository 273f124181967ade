import type { FastifyRequest } from 'fastify';
import { type AuditContext, accountActor } from '../core/audit.ts';
import type { Account } from '../core/types.ts';

/**
 * Who made an ACME request and from where, for the audit events of the changes it causes
 * (docs/operations.md, "Audit"). The source is Fastify's request.ip: the client's address, or the one a
 * trusted proxy reported (`server.trusted_proxies`).
 */
export function acmeAuditContext(
  request: FastifyRequest,
  signer: { account: Account } | { thumbprint: string },
): AuditContext {
  return {
    actor: 'account' in signer ? accountActor(signer.account.id) : `acme-key:${signer.thumbprint}`,
    source: request.ip ?? null,
    requestId: String(request.id),
  };
}
