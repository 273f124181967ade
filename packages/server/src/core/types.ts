import type {
  AccountStatus,
  AuthorizationStatus,
  ChallengeStatus,
  Identifier,
  OrderStatus,
  ProblemJson,
} from '@akamu/protocol';

/** Domain objects. Times are epoch milliseconds. Rows (sa/tables.ts) and wire JSON (wfe/render.ts) are separate. */

export interface Account {
  id: string;
  thumbprint: string;
  jwk: Record<string, unknown>;
  status: AccountStatus;
  contact: string[];
  termsOfServiceAgreed: boolean;
  createdAt: number;
  /**
   * RFC 8555 §7.3.4: the kid of the external account binding key that bound the account; absent when
   * none did. Never rendered to clients; profiles restricted to EAB keys check it.
   */
  eabKid?: string;
}

/** The statuses an order row stores; `ready` and the derived `invalid` come from its authorizations (§7.1.6). */
export type StoredOrderStatus = Extract<OrderStatus, 'pending' | 'processing' | 'valid' | 'invalid'>;

export interface Order {
  id: string;
  accountId: string;
  status: StoredOrderStatus;
  identifiers: Identifier[];
  authorizationIds: string[];
  notBefore: number | null;
  notAfter: number | null;
  expiresAt: number;
  error: ProblemJson | null;
  certificateId: string | null;
  profile: string | null;
  createdAt: number;
}

export interface Challenge {
  id: string;
  authorizationId: string;
  type: string;
  token: string;
  status: ChallengeStatus;
  validatedAt: number | null;
  error: ProblemJson | null;
}

export interface Authorization {
  id: string;
  accountId: string;
  identifier: Identifier;
  wildcard: boolean;
  /** RFC 9444 §4.1: this authorization of an ancestor domain also authorizes names below it. */
  subdomainAuthAllowed?: boolean;
  status: Exclude<AuthorizationStatus, 'expired'>;
  expiresAt: number;
  createdAt: number;
  challenges: Challenge[];
}

export type CertificateStatus = 'valid' | 'revoked';

export interface Certificate {
  id: string;
  serial: string;
  accountId: string;
  orderId: string;
  /** Leaf only; the issuer chain is served from the CA. */
  pem: string;
  notBefore: number;
  notAfter: number;
  status: CertificateStatus;
  revokedAt: number | null;
  revocationReason: number | null;
  createdAt: number;
}
