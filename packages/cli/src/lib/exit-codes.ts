/**
 * Exit codes of every `akamu` command (docs/cli.md). One number per kind of failure, so a script can
 * tell a typo from an unreachable CA from a refused validation.
 */
import {
  AcmeNoSolverError,
  AcmeProblemError,
  AcmeStatusError,
  AcmeTimeoutError,
  AcmeTransportError,
  AcmeUnsupportedError,
  ChallengeSolverError,
} from '@akamu/client';

export const EXIT = Object.freeze({
  /** Success (also: `certificate renew` found nothing to do). */
  OK: 0,
  /** An unexpected error (a bug): the message says what. */
  INTERNAL: 1,
  /** Configuration: a bad config file, a missing or unreadable key/state/certificate file, a bad value. */
  CONFIG: 2,
  /** `akamu serve`: the server could not start or listen. */
  START: 3,
  /** Network: the CA could not be reached, TLS failed, a request timed out, or the answer was not ACME. */
  NETWORK: 4,
  /** The CA refused a request with an ACME problem document (rate limit, bad CSR, unauthorized, ...). */
  ACME_PROBLEM: 5,
  /** Validation failed: an authorization or order became invalid, or no solver fits the offered challenges. */
  VALIDATION: 6,
  /** A challenge solver could not be set up (port in use, DNS hook failed) or an event hook failed. */
  SOLVER: 7,
  /** Usage: unknown command or option, missing argument (commander). */
  USAGE: 64,
});

/** A failure the CLI itself detected, with the exit code that describes it. */
export class CliError extends Error {
  readonly exitCode: number;
  readonly kind: string;
  constructor(exitCode: number, message: string, opts: { cause?: unknown; kind?: string } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'CliError';
    this.exitCode = exitCode;
    this.kind = opts.kind ?? kindOf(exitCode);
  }
}

function kindOf(code: number): string {
  for (const [name, value] of Object.entries(EXIT)) if (value === code) return name.toLowerCase();
  return 'internal';
}

/** Configuration error helper. */
export function configError(message: string, cause?: unknown): CliError {
  return new CliError(EXIT.CONFIG, message, { cause });
}

/** The exit code for any error a command can throw. */
export function exitCodeFor(error: unknown): number {
  if (error instanceof CliError) return error.exitCode;
  if (error instanceof ChallengeSolverError) return EXIT.SOLVER;
  if (error instanceof AcmeUnsupportedError) return EXIT.ACME_PROBLEM;
  if (error instanceof AcmeStatusError || error instanceof AcmeNoSolverError) return EXIT.VALIDATION;
  if (error instanceof AcmeProblemError) return EXIT.ACME_PROBLEM;
  if (error instanceof AcmeTransportError || error instanceof AcmeTimeoutError) return EXIT.NETWORK;
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'EADDRINUSE' || code === 'EACCES') return EXIT.SOLVER;
  return EXIT.INTERNAL;
}

/** A JSON description of an error for `--json` output and daemon logs. */
export function describeError(error: unknown): Record<string, unknown> {
  const exitCode = exitCodeFor(error);
  const out: Record<string, unknown> = {
    kind: error instanceof CliError ? error.kind : kindOf(exitCode),
    message: error instanceof Error ? error.message : String(error),
  };
  if (error instanceof AcmeProblemError) {
    out.problem = error.problem;
    out.status = error.status;
  } else if (error instanceof AcmeStatusError) {
    out.status = error.resourceStatus;
    if (error.problem) out.problem = error.problem;
  }
  return out;
}
