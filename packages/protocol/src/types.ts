/** RFC 8555 wire shapes (§7.1). Field names are exactly the RFC's. */

export type IdentifierType = 'dns' | 'ip' | (string & {});
export interface Identifier {
  type: IdentifierType;
  value: string;
}

export type AccountStatus = 'valid' | 'deactivated' | 'revoked';
export type OrderStatus = 'pending' | 'ready' | 'processing' | 'valid' | 'invalid';
export type AuthorizationStatus = 'pending' | 'valid' | 'invalid' | 'deactivated' | 'expired' | 'revoked';
export type ChallengeStatus = 'pending' | 'processing' | 'valid' | 'invalid';
export type ChallengeType = 'http-01' | 'dns-01' | 'tls-alpn-01' | (string & {});

export interface DirectoryMeta {
  termsOfService?: string;
  website?: string;
  caaIdentities?: string[];
  externalAccountRequired?: boolean;
  profiles?: Record<string, string>;
  [extension: string]: unknown;
}

export interface DirectoryJson {
  newNonce: string;
  newAccount: string;
  newOrder: string;
  newAuthz?: string;
  revokeCert: string;
  keyChange: string;
  renewalInfo?: string;
  meta?: DirectoryMeta;
}

export interface AccountJson {
  status: AccountStatus;
  contact?: string[];
  termsOfServiceAgreed?: boolean;
  externalAccountBinding?: unknown;
  orders: string;
  /** RFC 9115 §2.3.1: the account's delegations list. */
  delegations?: string;
}

export interface OrderJson {
  status: OrderStatus;
  expires?: string;
  identifiers: Identifier[];
  notBefore?: string;
  notAfter?: string;
  error?: ProblemJson;
  authorizations: string[];
  finalize: string;
  certificate?: string;
  profile?: string;
  replaces?: string;
}

export interface ChallengeJson {
  type: ChallengeType;
  url: string;
  status: ChallengeStatus;
  token: string;
  validated?: string;
  error?: ProblemJson;
}

export interface AuthorizationJson {
  identifier: Identifier;
  status: AuthorizationStatus;
  expires?: string;
  challenges: ChallengeJson[];
  wildcard?: boolean;
  /** RFC 9444 §4.1: this authorization of an ancestor domain also authorizes names below it. */
  subdomainAuthAllowed?: boolean;
}

/** RFC 7807 problem document with RFC 8555 §6.7.1 subproblems. */
export interface ProblemJson {
  type: string;
  title?: string;
  detail?: string;
  status?: number;
  subproblems?: Array<ProblemJson & { identifier?: Identifier }>;
  identifier?: Identifier;
  algorithms?: string[];
  [extension: string]: unknown;
}

/** RFC 8555 §7.6 revocation reason codes (RFC 5280 §5.3.1), minus 7 which is unused. */
export const REVOCATION_REASONS = {
  unspecified: 0,
  keyCompromise: 1,
  cACompromise: 2,
  affiliationChanged: 3,
  superseded: 4,
  cessationOfOperation: 5,
  certificateHold: 6,
  removeFromCRL: 8,
  privilegeWithdrawn: 9,
  aACompromise: 10,
} as const;
