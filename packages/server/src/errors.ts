import {
  type Identifier,
  PROBLEM_TYPES,
  type ProblemJson,
  type ProblemType,
  problemUrn,
} from '@akamu/protocol';

/**
 * The one error class of the server's domain. `type` is the RFC 8555 §6.7 problem type; the WFE renders
 * it as application/problem+json in one place (wfe/problem.ts). Anything that is not an AcmeError
 * becomes serverInternal there, with the detail logged and not sent.
 */
export class AcmeError extends Error {
  readonly type: ProblemType;
  readonly status: number;
  readonly identifier: Identifier | undefined;
  readonly subproblems: AcmeError[];
  /** Extra members for the problem document (e.g. `algorithms` for badSignatureAlgorithm). */
  readonly extra: Record<string, unknown>;
  /** Seconds, for the Retry-After header (rateLimited, processing). */
  readonly retryAfter: number | undefined;

  constructor(
    type: ProblemType,
    detail: string,
    opts: {
      identifier?: Identifier;
      subproblems?: AcmeError[];
      status?: number;
      extra?: Record<string, unknown>;
      retryAfter?: number;
      cause?: unknown;
    } = {},
  ) {
    super(detail, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'AcmeError';
    this.type = type;
    this.status = opts.status ?? PROBLEM_TYPES[type].status;
    this.identifier = opts.identifier;
    this.subproblems = opts.subproblems ?? [];
    this.extra = opts.extra ?? {};
    this.retryAfter = opts.retryAfter;
  }

  toProblem(): ProblemJson {
    const p: ProblemJson = {
      type: problemUrn(this.type),
      detail: this.message,
      status: this.status,
      ...this.extra,
    };
    if (this.identifier) p.identifier = this.identifier;
    if (this.subproblems.length > 0) p.subproblems = this.subproblems.map((s) => s.toProblem());
    return p;
  }
}

/**
 * RFC 8555 §6.7.1: several failures for different identifiers become one problem with subproblems;
 * a single failure is returned as it is.
 */
export function combineErrors(errors: AcmeError[], summary: string): AcmeError {
  if (errors.length === 1) return errors[0]!;
  const first = errors[0]!.type;
  const type = errors.every((e) => e.type === first) ? first : 'compound';
  return new AcmeError(type, summary, { subproblems: errors });
}

export const malformed = (detail: string, cause?: unknown) => new AcmeError('malformed', detail, { cause });
export const unauthorized = (detail: string) => new AcmeError('unauthorized', detail);
export const notFound = (what = 'resource') => new AcmeError('malformed', `no such ${what}`, { status: 404 });
