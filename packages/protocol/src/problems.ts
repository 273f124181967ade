/**
 * The catalogue of ACME problem types (RFC 8555 §6.7 and extensions). One entry per type:
 * the URN suffix, the HTTP status the server answers with, and a one-line description.
 * docs/errors.md documents every entry; a test keeps the two in step.
 */
export const ACME_ERROR_PREFIX = 'urn:ietf:params:acme:error:';

export const PROBLEM_TYPES = {
  accountDoesNotExist: { status: 400, description: 'The request specified an account that does not exist' },
  alreadyRevoked: {
    status: 400,
    description: 'The request specified a certificate to be revoked that has already been revoked',
  },
  badCSR: { status: 400, description: 'The CSR is unacceptable (e.g., due to a short key)' },
  badNonce: { status: 400, description: 'The client sent an unacceptable anti-replay nonce' },
  badPublicKey: {
    status: 400,
    description: 'The JWS was signed by a public key the server does not support',
  },
  badRevocationReason: {
    status: 400,
    description: 'The revocation reason provided is not allowed by the server',
  },
  badSignatureAlgorithm: {
    status: 400,
    description: 'The JWS was signed with an algorithm the server does not support',
  },
  caa: {
    status: 403,
    description:
      'Certification Authority Authorization (CAA) records forbid the CA from issuing a certificate',
  },
  compound: {
    status: 400,
    description: 'Specific error conditions are indicated in the "subproblems" array',
  },
  connection: { status: 400, description: 'The server could not connect to validation target' },
  dns: { status: 400, description: 'There was a problem with a DNS query during identifier validation' },
  externalAccountRequired: {
    status: 400,
    description: 'The request must include a value for the "externalAccountBinding" field',
  },
  incorrectResponse: {
    status: 400,
    description: 'Response received didn’t match the challenge’s requirements',
  },
  invalidContact: { status: 400, description: 'A contact URL for an account was invalid' },
  malformed: { status: 400, description: 'The request message was malformed' },
  orderNotReady: {
    status: 403,
    description: 'The request attempted to finalize an order that is not ready to be finalized',
  },
  rateLimited: { status: 429, description: 'The request exceeds a rate limit' },
  rejectedIdentifier: {
    status: 400,
    description: 'The server will not issue certificates for the identifier',
  },
  serverInternal: { status: 500, description: 'The server experienced an internal error' },
  tls: { status: 400, description: 'The server received a TLS error during validation' },
  unauthorized: { status: 403, description: 'The client lacks sufficient authorization' },
  unsupportedContact: {
    status: 400,
    description: 'A contact URL for an account used an unsupported protocol scheme',
  },
  unsupportedIdentifier: { status: 400, description: 'An identifier is of an unsupported type' },
  userActionRequired: {
    status: 403,
    description: 'Visit the "instance" URL and take actions specified there',
  },
  // Extensions
  invalidProfile: {
    status: 400,
    description: 'The requested profile is unknown or not allowed (draft-ietf-acme-profiles)',
  },
  autoRenewalCanceled: { status: 403, description: 'The STAR order has been canceled (RFC 8739 §3.1.2)' },
  autoRenewalExpired: {
    status: 403,
    description: 'The STAR order has passed its end-date (RFC 8739 §3.1.2)',
  },
  autoRenewalCancellationInvalid: {
    status: 403,
    description: 'A request to cancel an auto-renewal order that is not in state "valid" (RFC 8739 §3.1.2)',
  },
  alreadyReplaced: {
    status: 409,
    description:
      'The request specified a predecessor certificate which has already been replaced (RFC 9773 §5)',
  },
} as const satisfies Record<string, { status: number; description: string }>;

export type ProblemType = keyof typeof PROBLEM_TYPES;

/** The URN of a problem type (RFC 8555 §6.7). */
export function problemUrn(type: ProblemType): string {
  return ACME_ERROR_PREFIX + type;
}
