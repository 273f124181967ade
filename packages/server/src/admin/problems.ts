/**
 * Problem types of the admin API (RFC 7807), documented in docs/admin-api.md. ACME errors raised by the
 * RA (alreadyRevoked, badRevocationReason, malformed…) keep their ACME types.
 */
export const ADMIN_PROBLEM_PREFIX = 'urn:akamu:admin:';

export const ADMIN_PROBLEMS = {
  /** No credentials, or credentials that name no usable operator. */
  unauthenticated: 401,
  /** Too many failed logins: the operator is locked out until Retry-After. */
  lockedOut: 401,
  /** The operator's role does not allow the route. */
  forbidden: 403,
  /** A registration officer asked for an account, order or certificate outside its scope. */
  outOfScope: 403,
  notFound: 404,
  /** A parameter or body member is missing or invalid. */
  badRequest: 400,
  /** The request conflicts with the current state (a taken name, a used EAB key, the last administrator). */
  conflict: 409,
  /** The feature is not configured on this server (e.g. ARI with embedder storage). */
  unavailable: 501,
} as const;

export type AdminProblemType = keyof typeof ADMIN_PROBLEMS;

export class AdminError extends Error {
  readonly type: AdminProblemType;
  readonly status: number;
  readonly retryAfter: number | undefined;

  constructor(type: AdminProblemType, detail: string, opts: { retryAfter?: number; status?: number } = {}) {
    super(detail);
    this.name = 'AdminError';
    this.type = type;
    this.status = opts.status ?? ADMIN_PROBLEMS[type];
    this.retryAfter = opts.retryAfter;
  }

  toProblem(): { type: string; detail: string; status: number } {
    return { type: ADMIN_PROBLEM_PREFIX + this.type, detail: this.message, status: this.status };
  }
}

export const badRequest = (detail: string) => new AdminError('badRequest', detail);
export const notFound = (what: string) => new AdminError('notFound', `no such ${what}`);
