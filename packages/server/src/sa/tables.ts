/** Kysely table types: snake_case columns exactly as the migrations create them. */

export interface SettingsTable {
  name: string;
  value: string;
}
/** Keyed by (issued_at, nonce); on SQLite WITHOUT ROWID (migration 2026_12_06_010000). */
export interface UsedNoncesTable {
  issued_at: number;
  nonce: string;
}
export interface AccountsTable {
  id: string;
  thumbprint: string;
  jwk: string;
  status: string;
  contact: string;
  tos_agreed: number;
  created_at: number;
  /** The external account binding key that bound the account (2026_11_27_010000_create_eab_keys). */
  eab_kid: string | null;
}
export interface OrdersTable {
  id: string;
  account_id: string;
  status: string;
  identifiers: string;
  authorization_ids: string;
  not_before: number | null;
  not_after: number | null;
  expires_at: number;
  error: string | null;
  certificate_id: string | null;
  profile: string | null;
  finalize_started_at: number | null;
  created_at: number;
}
export interface AuthorizationsTable {
  id: string;
  account_id: string;
  identifier_type: string;
  identifier_value: string;
  wildcard: number;
  /** RFC 9444; added by 2026_11_24_030000_add_authorizations_subdomain_auth_allowed. */
  subdomain_auth_allowed: number;
  status: string;
  expires_at: number;
  created_at: number;
}
export interface ChallengesTable {
  id: string;
  authorization_id: string;
  type: string;
  token: string;
  status: string;
  validated_at: number | null;
  error: string | null;
  /** When the validation began (null before 2026_11_26 or when pending). */
  processing_since?: number | null;
}
export interface CertificatesTable {
  id: string;
  serial: string;
  account_id: string;
  order_id: string;
  pem: string;
  not_before: number;
  not_after: number;
  status: string;
  revoked_at: number | null;
  revocation_reason: number | null;
  created_at: number;
}

/** One CRL number counter per CRL scope ("full" or a shard number), RFC 5280 §5.2.3. */
export interface CrlNumbersTable {
  scope: string;
  crl_number: number;
  updated_at: number;
}

/** Earlier keys of an account (dns-persist-01 key retention, draft-ietf-acme-dns-persist-02 §4.2). */
export interface AccountKeyHistoryTable {
  account_id: string;
  thumbprint: string;
  retired_at: number;
}

export interface LeasesTable {
  name: string;
  holder: string;
  expires_at: number;
}

/** Rate-limit buckets (RFC 8555 §6.6); sa/rate-limit-storage.ts. */
export interface RateLimitBucketsTable {
  bucket: string;
  hits: number;
  expires_at: number;
}

/** External account binding keys (RFC 8555 §7.3.4); sa/eab-storage.ts. */
export interface EabKeysTable {
  kid: string;
  hmac_key: string;
  source: string;
  principal: string | null;
  note: string | null;
  profiles: string | null;
  expires_at: number | null;
  created_at: number;
  used_by: string | null;
  used_at: number | null;
}

/** Operators of the admin API (2026_11_28_010000_create_operators); sa/admin-storage.ts. */
export interface OperatorsTable {
  id: string;
  name: string;
  role: string;
  token_hash: string;
  cert_fingerprint: string | null;
  scope: string | null;
  disabled: number;
  failed_logins: number;
  locked_until: number | null;
  created_at: number;
  token_rotated_at: number;
  last_login_at: number | null;
}

/** The audit log (2026_11_28_020000_create_audit_events); sa/audit-storage.ts. */
/** Keyed by (at, id); on SQLite WITHOUT ROWID (migration 2026_12_06_020000). */
export interface AuditEventsTable {
  id: string;
  at: number;
  type: string;
  actor: string;
  object_type: string;
  object_id: string;
  outcome: string;
  detail: string | null;
  source: string | null;
  request_id: string | null;
  details: string | null;
}

export interface Database {
  audit_events: AuditEventsTable;
  operators: OperatorsTable;
  eab_keys: EabKeysTable;
  leases: LeasesTable;
  rate_limit_buckets: RateLimitBucketsTable;
  account_key_history: AccountKeyHistoryTable;
  settings: SettingsTable;
  used_nonces: UsedNoncesTable;
  accounts: AccountsTable;
  orders: OrdersTable;
  authorizations: AuthorizationsTable;
  challenges: ChallengesTable;
  certificates: CertificatesTable;
  crl_numbers: CrlNumbersTable;
}
