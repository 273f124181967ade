/**
 * The client's error catalogue: one base class with a stable `code`, one subclass per kind of failure.
 * Programming mistakes (bad arguments) are plain TypeErrors; an aborted signal rejects with the
 * signal's own reason.
 */
import { ACME_ERROR_PREFIX, type Identifier, type ProblemJson } from '@akamu/protocol';

export type AcmeClientErrorCode =
  | 'ERR_ACME_PROBLEM'
  | 'ERR_ACME_TRANSPORT'
  | 'ERR_ACME_TIMEOUT'
  | 'ERR_ACME_STATUS'
  | 'ERR_ACME_NO_SOLVER'
  | 'ERR_ACME_SOLVER'
  | 'ERR_ACME_UNSUPPORTED';

export abstract class AcmeClientError extends Error {
  abstract readonly code: AcmeClientErrorCode;
}

/** The server answered with an RFC 7807 problem document (RFC 8555 §6.7). */
export class AcmeProblemError extends AcmeClientError {
  readonly code = 'ERR_ACME_PROBLEM';
  readonly problem: ProblemJson;
  /** HTTP status of the response that carried the problem. */
  readonly status: number;
  /** The problem type URN, e.g. `urn:ietf:params:acme:error:badNonce`. */
  readonly type: string;
  readonly subproblems: NonNullable<ProblemJson['subproblems']>;
  /** The request URL. */
  readonly url: string;

  constructor(problem: ProblemJson, status: number, url: string) {
    const type = typeof problem.type === 'string' ? problem.type : 'about:blank';
    super(`${type}${problem.detail ? `: ${problem.detail}` : ''} (HTTP ${status} from ${url})`);
    this.name = 'AcmeProblemError';
    this.problem = problem;
    this.status = status;
    this.type = type;
    this.subproblems = Array.isArray(problem.subproblems) ? problem.subproblems : [];
    this.url = url;
  }

  /** True when the type is `urn:ietf:params:acme:error:<name>` (or exactly `name` when it is a full URN). */
  isType(name: string): boolean {
    return this.type === name || this.type === ACME_ERROR_PREFIX + name;
  }
}

/**
 * The exchange itself failed: connection, TLS, size limit, an HTTP error without a problem document,
 * or a response that does not follow RFC 8555 (unparseable JSON, missing Location or Replay-Nonce).
 */
export class AcmeTransportError extends AcmeClientError {
  readonly code = 'ERR_ACME_TRANSPORT';
  readonly url: string;
  /** HTTP status when a response was received. */
  readonly statusCode: number | undefined;

  constructor(message: string, url: string, opts: { statusCode?: number; cause?: unknown } = {}) {
    super(`${message} (${url})`, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'AcmeTransportError';
    this.url = url;
    this.statusCode = opts.statusCode;
  }
}

/** A request, or a wait for a resource to change state, exceeded its time limit. */
export class AcmeTimeoutError extends AcmeClientError {
  readonly code = 'ERR_ACME_TIMEOUT';
  readonly url: string;
  readonly timeoutMs: number;

  constructor(what: string, url: string, timeoutMs: number) {
    super(`${what} timed out after ${timeoutMs} ms (${url})`);
    this.name = 'AcmeTimeoutError';
    this.url = url;
    this.timeoutMs = timeoutMs;
  }
}

/**
 * An order or authorization reached a status from which the awaited one can no longer be reached
 * (e.g. an authorization became `invalid`). `problem` is the server's explanation when it gave one:
 * the order's `error`, or the failed challenge's `error`.
 */
export class AcmeStatusError extends AcmeClientError {
  readonly code = 'ERR_ACME_STATUS';
  readonly url: string;
  readonly resourceStatus: string;
  readonly expected: readonly string[];
  readonly problem: ProblemJson | undefined;

  constructor(url: string, resourceStatus: string, expected: readonly string[], problem?: ProblemJson) {
    const why = problem ? `: ${problem.type}${problem.detail ? ` ${problem.detail}` : ''}` : '';
    super(`${url} is ${resourceStatus}, expected ${expected.join(' or ')}${why}`);
    this.name = 'AcmeStatusError';
    this.url = url;
    this.resourceStatus = resourceStatus;
    this.expected = expected;
    this.problem = problem;
  }
}

/** None of the given solvers handles any challenge the server offers for an identifier. */
export class AcmeNoSolverError extends AcmeClientError {
  readonly code = 'ERR_ACME_NO_SOLVER';
  readonly identifier: Identifier;
  readonly offered: readonly string[];

  constructor(identifier: Identifier, offered: readonly string[], available: readonly string[]) {
    super(
      `no solver for ${identifier.type}:${identifier.value}: server offers [${offered.join(', ')}], solvers handle [${available.join(', ')}]`,
    );
    this.name = 'AcmeNoSolverError';
    this.identifier = identifier;
    this.offered = offered;
  }
}

/**
 * A solver could not make a challenge answerable or clean it up: a hook script failed or timed out,
 * a DNS server refused an update, a record did not become visible in time.
 */
export class ChallengeSolverError extends AcmeClientError {
  readonly code = 'ERR_ACME_SOLVER';
  /** The challenge type of the solver, e.g. 'dns-01'. */
  readonly challengeType: string;
  readonly identifier: Identifier | undefined;

  constructor(
    challengeType: string,
    message: string,
    opts: { identifier?: Identifier; cause?: unknown } = {},
  ) {
    super(`${challengeType}: ${message}`, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'ChallengeSolverError';
    this.challengeType = challengeType;
    this.identifier = opts.identifier;
  }
}

/** The CA does not offer what was asked for: no `renewalInfo` (RFC 9773), no STAR (RFC 8739), ... */
export class AcmeUnsupportedError extends AcmeClientError {
  readonly code = 'ERR_ACME_UNSUPPORTED';
  /** What is missing, e.g. 'renewalInfo' or 'auto-renewal'. */
  readonly feature: string;

  constructor(feature: string, message: string) {
    super(message);
    this.name = 'AcmeUnsupportedError';
    this.feature = feature;
  }
}
