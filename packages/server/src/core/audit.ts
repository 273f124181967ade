/**
 * Audit events (docs/operations.md, "Audit"): who changed what, when, from where, and whether it
 * worked. Each is written in the transaction of the change it records (sa/audit-storage.ts), so a
 * rolled-back change leaves no event and a committed one exactly one.
 */

/** Every event type akamu writes; docs/operations.md lists each (a test keeps them in step). */
export const AUDIT_EVENT_TYPES = [
  'account.created',
  'account.updated',
  'account.deactivated',
  'account.key_changed',
  'order.created',
  'order.invalid',
  'order.canceled',
  'authorization.created',
  'authorization.validated',
  'authorization.invalid',
  'authorization.deactivated',
  'certificate.issued',
  'certificate.renewed',
  'certificate.revoked',
  'eab_key.created',
  'eab_key.consumed',
  'eab_key.deleted',
  'config.loaded',
] as const;

/** A type from AUDIT_EVENT_TYPES, or `operator.<action>` (operators and roles, the admin API). */
export type AuditEventType = (typeof AUDIT_EVENT_TYPES)[number] | `operator.${string}`;

export type AuditObjectType =
  | 'account'
  | 'order'
  | 'authorization'
  | 'certificate'
  | 'eab_key'
  | 'operator'
  | 'config'
  | (string & {});

/**
 * Who asked and from where, carried from the WFE (or the admin API, or a background job) through the RA
 * into storage. `actor`: `acme:<account id>`, `acme-key:<JWK thumbprint>` (a request signed by a key
 * that is no account's: revocation with the certificate's key), `operator:<id>`, `node:<id>`, `system`.
 */
export interface AuditContext {
  actor: string;
  /** The client's IP address (Fastify's request.ip: the proxy's client when behind a trusted proxy). */
  source: string | null;
  requestId?: string;
}

/** Background work of the CA itself (sweeps, STAR renewals, configuration seeding). */
export const SYSTEM_AUDIT: AuditContext = { actor: 'system', source: null };

export function accountActor(accountId: string): string {
  return `acme:${accountId}`;
}

/** One event, as the RA (or another writer) hands it to storage. Details never hold secrets. */
export interface AuditEvent {
  at: number;
  type: AuditEventType;
  actor: string;
  objectType: AuditObjectType;
  objectId: string;
  outcome: 'success' | 'failure';
  /** Why a change was refused or failed (a failed validation's problem detail). */
  detail: string | null;
  source: string | null;
  requestId: string | null;
  details: Record<string, unknown> | null;
}

/** A stored event. */
export interface AuditRecord extends AuditEvent {
  id: string;
}

/** An event from a context: the object it is about, and optionally outcome, detail and details. */
export function auditEvent(
  ctx: AuditContext,
  at: number,
  type: AuditEventType,
  object: { type: AuditObjectType; id: string },
  extra: {
    outcome?: 'success' | 'failure';
    detail?: string | null;
    details?: Record<string, unknown> | null;
  } = {},
): AuditEvent {
  return {
    at,
    type,
    actor: ctx.actor,
    objectType: object.type,
    objectId: object.id,
    outcome: extra.outcome ?? 'success',
    detail: extra.detail ?? null,
    source: ctx.source,
    requestId: ctx.requestId ?? null,
    details: extra.details ?? null,
  };
}
