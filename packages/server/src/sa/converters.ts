import type { Identifier } from '@akamu/protocol';
import type { Account, Authorization, Certificate, Challenge, Order } from '../core/types.ts';
import type {
  AccountsTable,
  AuthorizationsTable,
  CertificatesTable,
  ChallengesTable,
  OrdersTable,
} from './tables.ts';

/** Row ↔ domain converters. bigint columns may come back as strings or bigints on some drivers: Number() them. */

const num = (v: unknown): number => Number(v);
const numOrNull = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));
const json = <T>(v: string | null): T | null => (v === null ? null : (JSON.parse(v) as T));

export function accountRowToAccount(r: AccountsTable): Account {
  return {
    id: r.id,
    thumbprint: r.thumbprint,
    jwk: JSON.parse(r.jwk),
    status: r.status as Account['status'],
    contact: JSON.parse(r.contact),
    termsOfServiceAgreed: num(r.tos_agreed) === 1,
    createdAt: num(r.created_at),
    ...(r.eab_kid ? { eabKid: r.eab_kid } : {}),
  };
}
export function accountToRow(a: Account): AccountsTable {
  return {
    id: a.id,
    thumbprint: a.thumbprint,
    jwk: JSON.stringify(a.jwk),
    status: a.status,
    contact: JSON.stringify(a.contact),
    tos_agreed: a.termsOfServiceAgreed ? 1 : 0,
    created_at: a.createdAt,
    eab_kid: a.eabKid ?? null,
  };
}

export function orderRowToOrder(r: Omit<OrdersTable, 'finalize_started_at'>): Order {
  return {
    id: r.id,
    accountId: r.account_id,
    status: r.status as Order['status'],
    identifiers: JSON.parse(r.identifiers) as Identifier[],
    authorizationIds: JSON.parse(r.authorization_ids) as string[],
    notBefore: numOrNull(r.not_before),
    notAfter: numOrNull(r.not_after),
    expiresAt: num(r.expires_at),
    error: json(r.error),
    certificateId: r.certificate_id,
    profile: r.profile,
    createdAt: num(r.created_at),
  };
}
export function orderToRow(o: Order): OrdersTable {
  return {
    id: o.id,
    account_id: o.accountId,
    status: o.status,
    identifiers: JSON.stringify(o.identifiers),
    authorization_ids: JSON.stringify(o.authorizationIds),
    not_before: o.notBefore,
    not_after: o.notAfter,
    expires_at: o.expiresAt,
    error: o.error === null ? null : JSON.stringify(o.error),
    certificate_id: o.certificateId,
    profile: o.profile,
    finalize_started_at: null,
    created_at: o.createdAt,
  };
}

export function challengeRowToChallenge(r: ChallengesTable): Challenge {
  return {
    id: r.id,
    authorizationId: r.authorization_id,
    type: r.type,
    token: r.token,
    status: r.status as Challenge['status'],
    validatedAt: numOrNull(r.validated_at),
    error: json(r.error),
  };
}
export function challengeToRow(c: Challenge): ChallengesTable {
  return {
    id: c.id,
    authorization_id: c.authorizationId,
    type: c.type,
    token: c.token,
    status: c.status,
    validated_at: c.validatedAt,
    error: c.error === null ? null : JSON.stringify(c.error),
  };
}

export function authorizationRowToAuthorization(
  r: AuthorizationsTable,
  challenges: Challenge[],
): Authorization {
  return {
    id: r.id,
    accountId: r.account_id,
    identifier: { type: r.identifier_type, value: r.identifier_value },
    wildcard: num(r.wildcard) === 1,
    ...(num(r.subdomain_auth_allowed) === 1 ? { subdomainAuthAllowed: true } : {}),
    status: r.status as Authorization['status'],
    expiresAt: num(r.expires_at),
    createdAt: num(r.created_at),
    challenges,
  };
}
export function authorizationToRow(a: Authorization): AuthorizationsTable {
  return {
    id: a.id,
    account_id: a.accountId,
    identifier_type: a.identifier.type,
    identifier_value: a.identifier.value,
    wildcard: a.wildcard ? 1 : 0,
    subdomain_auth_allowed: a.subdomainAuthAllowed ? 1 : 0,
    status: a.status,
    expires_at: a.expiresAt,
    created_at: a.createdAt,
  };
}

export function certificateRowToCertificate(r: CertificatesTable): Certificate {
  return {
    id: r.id,
    serial: r.serial,
    accountId: r.account_id,
    orderId: r.order_id,
    pem: r.pem,
    notBefore: num(r.not_before),
    notAfter: num(r.not_after),
    status: r.status as Certificate['status'],
    revokedAt: numOrNull(r.revoked_at),
    revocationReason: numOrNull(r.revocation_reason),
    createdAt: num(r.created_at),
  };
}
export function certificateToRow(c: Certificate): CertificatesTable {
  return {
    id: c.id,
    serial: c.serial,
    account_id: c.accountId,
    order_id: c.orderId,
    pem: c.pem,
    not_before: c.notBefore,
    not_after: c.notAfter,
    status: c.status,
    revoked_at: c.revokedAt,
    revocation_reason: c.revocationReason,
    created_at: c.createdAt,
  };
}
