import type { FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { CaMaterial } from '../ca/ca-store.ts';
import type { Clock } from '../clock.ts';
import type { Config } from '../config.ts';
import type { AuditContext } from '../core/audit.ts';
import type { Account, Certificate, Order } from '../core/types.ts';
import type { EabAuthority } from '../ra/eab-authority.ts';
import type { ProfileCatalog } from '../ra/profiles.ts';
import type { RegistrationAuthority } from '../ra/registration-authority.ts';
import type { RenewalAuthority } from '../ra/renewal-authority.ts';
import type { RevocationServices } from '../revocation/revocation-services.ts';
import type { AdminStorage, CertificateWithNames, Operator } from '../sa/admin-storage.ts';
import type { StorageAuthority } from '../sa/storage-authority.ts';
import type { AcmeUrls } from '../wfe/urls.ts';
import type { OperatorRegistry } from './auth.ts';
import { AdminError, badRequest } from './problems.ts';

/** What the admin routes work with (wired by app.ts). */
export interface AdminContext {
  config: Config;
  store: AdminStorage;
  sa: StorageAuthority;
  ra: RegistrationAuthority;
  renewals: RenewalAuthority | undefined;
  eab: EabAuthority | undefined;
  profiles: ProfileCatalog;
  ca: CaMaterial;
  rootCertPem: string;
  revocation: RevocationServices;
  operators: OperatorRegistry;
  clock: Clock;
  urls: AcmeUrls;
}

/** A query parameter as the OpenAPI document describes it. */
export interface QueryParam {
  type: 'string' | 'integer' | 'boolean';
  description: string;
  enum?: readonly string[];
  format?: string;
}

export interface AdminCall {
  /** The authenticated operator (undefined only on public routes). */
  operator: Operator;
  /** The operator as the audit log's actor (`operator:<id>`), with the source address and request id. */
  audit: AuditContext;
  params: Record<string, string>;
  query: Record<string, string | undefined>;
  body: unknown;
  request: FastifyRequest;
  reply: FastifyReply;
}

/** One admin route: its HTTP shape (also the source of the OpenAPI document) and its handler. */
export interface AdminRoute {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  /** Fastify syntax, with the /admin prefix: "/admin/accounts/:id". */
  url: string;
  tag: string;
  summary: string;
  query?: Record<string, QueryParam>;
  /** JSON Schema of the request body. */
  body?: Record<string, unknown>;
  /** The success status (default 200) and media type (default application/json). */
  status?: number;
  produces?: string;
  /** Returned values are sent as JSON; a handler that sent the reply itself returns the reply. */
  handler: (call: AdminCall, ctx: AdminContext) => Promise<unknown>;
}

/** Validates with zod; the first issue becomes a badRequest problem naming the member. */
export function parseWith<T>(schema: z.ZodType<T>, value: unknown, where: string): T {
  const r = schema.safeParse(value ?? {});
  if (r.success) return r.data;
  const issue = r.error.issues[0]!;
  const path = issue.path.length > 0 ? `${where} ${issue.path.join('.')}` : where;
  throw badRequest(`${path}: ${issue.message}`);
}

/** An RFC 3339 instant in a query or body → epoch ms. */
export const instant = z.string().transform((v, ctx) => {
  const ms = Date.parse(v);
  if (!/^\d{4}-\d{2}-\d{2}T/.test(v) || !Number.isFinite(ms)) {
    ctx.addIssue({ code: 'custom', message: `"${v}" is not an RFC 3339 date and time` });
    return z.NEVER;
  }
  return ms;
});

export const PAGE_QUERY: Record<string, QueryParam> = {
  limit: { type: 'integer', description: 'page size (default 50, at most [admin] max_page_size)' },
  cursor: { type: 'string', description: 'the `next` cursor of the previous page' },
};

export function pageParams(
  query: Record<string, string | undefined>,
  max: number,
): { limit: number; cursor: string | undefined } {
  const limit = query.limit === undefined ? Math.min(50, max) : Number(query.limit);
  if (!Number.isInteger(limit) || limit < 1 || limit > max) {
    throw badRequest(`limit must be an integer from 1 to ${max}`);
  }
  return { limit, cursor: query.cursor || undefined };
}

export const iso = (ms: number | null | undefined): string | null =>
  ms === null || ms === undefined ? null : new Date(ms).toISOString();

export function accountView(a: Account, ctx: AdminContext): Record<string, unknown> {
  return {
    id: a.id,
    url: ctx.urls.account(a.id),
    status: a.status,
    contact: a.contact,
    termsOfServiceAgreed: a.termsOfServiceAgreed,
    thumbprint: a.thumbprint,
    eabKid: a.eabKid ?? null,
    createdAt: iso(a.createdAt),
  };
}

export function orderView(o: Order, status: string = o.status): Record<string, unknown> {
  return {
    id: o.id,
    accountId: o.accountId,
    status,
    identifiers: o.identifiers,
    profile: o.profile,
    notBefore: iso(o.notBefore),
    notAfter: iso(o.notAfter),
    expires: iso(o.expiresAt),
    error: o.error,
    certificateId: o.certificateId,
    createdAt: iso(o.createdAt),
  };
}

/** valid, revoked, or expired (a valid certificate past its notAfter). */
export function certificateStatus(c: Certificate, now: number): 'valid' | 'revoked' | 'expired' {
  if (c.status === 'revoked') return 'revoked';
  return c.notAfter < now ? 'expired' : 'valid';
}

export function certificateView(c: CertificateWithNames, now: number): Record<string, unknown> {
  return {
    serial: c.serial,
    id: c.id,
    accountId: c.accountId,
    orderId: c.orderId,
    identifiers: c.identifiers,
    status: certificateStatus(c, now),
    notBefore: iso(c.notBefore),
    notAfter: iso(c.notAfter),
    revokedAt: iso(c.revokedAt),
    revocationReason: c.revocationReason,
    createdAt: iso(c.createdAt),
  };
}

/** A serial as given in a URL: hex, optionally with colons; lower-case, at least two digits. */
export function serialParam(raw: string | undefined): string {
  const hex = (raw ?? '').replace(/:/g, '').toLowerCase();
  if (!/^[0-9a-f]{1,64}$/.test(hex)) throw badRequest('the serial must be hexadecimal');
  return hex.padStart(2, '0');
}

export function outOfScope(what: string): AdminError {
  return new AdminError('outOfScope', `the ${what} is outside this operator's scope`);
}

/** A registration officer's scope as a list filter; undefined for every other role. */
export function scopeFilter(op: Operator): { accounts: string[]; identifierSuffixes: string[] } | undefined {
  if (op.role !== 'registration_officer') return undefined;
  return {
    accounts: op.scope?.accounts ?? [],
    identifierSuffixes: op.scope?.identifierSuffixes ?? [],
  };
}
