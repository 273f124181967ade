/** The explicit column lists the storage code selects (ARCHITECTURE: never `select *` on domain tables). */

export const ACCOUNT_COLUMNS = [
  'id',
  'thumbprint',
  'jwk',
  'status',
  'contact',
  'tos_agreed',
  'created_at',
  'eab_kid',
] as const;
export const ORDER_COLUMNS = [
  'id',
  'account_id',
  'status',
  'identifiers',
  'authorization_ids',
  'not_before',
  'not_after',
  'expires_at',
  'error',
  'certificate_id',
  'profile',
  'created_at',
] as const;
export const AUTHZ_COLUMNS = [
  'id',
  'account_id',
  'identifier_type',
  'identifier_value',
  'wildcard',
  'subdomain_auth_allowed',
  'status',
  'expires_at',
  'created_at',
] as const;
export const CHALLENGE_COLUMNS = [
  'id',
  'authorization_id',
  'type',
  'token',
  'status',
  'validated_at',
  'error',
] as const;
export const CERT_COLUMNS = [
  'id',
  'serial',
  'account_id',
  'order_id',
  'pem',
  'not_before',
  'not_after',
  'status',
  'revoked_at',
  'revocation_reason',
  'created_at',
] as const;

export const AUDIT_COLUMNS = [
  'id',
  'at',
  'type',
  'actor',
  'object_type',
  'object_id',
  'outcome',
  'detail',
  'source',
  'request_id',
  'details',
] as const;

type AuthzColumn = (typeof AUTHZ_COLUMNS)[number];
type ChallengeColumn = Exclude<(typeof CHALLENGE_COLUMNS)[number], 'authorization_id'>;

/**
 * An authorization joined with its challenges in one read (one round trip to the database, one consistent
 * view): the authorization's columns under their own names, each challenge's as `c_<column>`.
 */
export const AUTHZ_JOINED_COLUMNS = [
  ...AUTHZ_COLUMNS.map((c) => `a.${c}` as `a.${AuthzColumn}`),
  ...CHALLENGE_COLUMNS.filter((c): c is ChallengeColumn => c !== 'authorization_id').map(
    (c) => `c.${c} as c_${c}` as { [K in ChallengeColumn]: `c.${K} as c_${K}` }[ChallengeColumn],
  ),
];
