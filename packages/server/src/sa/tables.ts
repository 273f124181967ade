/** Kysely table types: snake_case columns exactly as the migrations create them. */

export interface SettingsTable {
  name: string;
  value: string;
}
export interface UsedNoncesTable {
  nonce: string;
  expires_at: number;
}
export interface AccountsTable {
  id: string;
  thumbprint: string;
  jwk: string;
  status: string;
  contact: string;
  tos_agreed: number;
  created_at: number;
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

export interface Database {
  settings: SettingsTable;
  used_nonces: UsedNoncesTable;
  accounts: AccountsTable;
  orders: OrdersTable;
  authorizations: AuthorizationsTable;
  challenges: ChallengesTable;
  certificates: CertificatesTable;
}
