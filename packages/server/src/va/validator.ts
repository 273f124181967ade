import type { Identifier, ProblemJson } from '@akamu/protocol';

/** What a validator is given: the identifier (a wildcard's base name), the challenge and the expected key authorization. */
export interface ValidationRequest {
  identifier: Identifier;
  wildcard: boolean;
  challengeType: string;
  token: string;
  keyAuthorization: string;
  accountId: string;
  accountUrl: string;
  /**
   * The object the client posted to the challenge URL (RFC 8555 §7.5.1), for challenge types whose
   * response carries data: onion-csr-01 `{ csr }` (RFC 9799 §3.2), tkauth-01 `{ atc }` (RFC 9447 §3).
   * Absent when a validation is resumed after a restart.
   */
  payload?: Record<string, unknown>;
  /** When the authorization (and so the challenge) was created, epoch ms (RFC 9799 §3.2 nonce age). */
  authorizationCreatedAt?: number;
  signal: AbortSignal;
}

/** A problem to record on the challenge, or undefined when the challenge was met. */
export type ValidationOutcome = ProblemJson | ValidationSuccess | undefined;

/**
 * A success that must not outlive a moment (dns-persist-01 `persistUntil`): the authorization expires at
 * `validUntil` (epoch ms) at the latest.
 */
export interface ValidationSuccess {
  validUntil: number;
}

/** The problem of an outcome, or undefined when the challenge was met. */
export function outcomeProblem(outcome: ValidationOutcome): ProblemJson | undefined {
  return outcome !== undefined && 'type' in outcome ? outcome : undefined;
}

/**
 * One challenge type. Validators are stateless and never touch storage. An embedder registers its own
 * with `createServer(config, { validators: [...] })`.
 */
export interface ChallengeValidator {
  readonly type: string;
  /** Whether this challenge is offered for the identifier (e.g. http-01 never for wildcards). */
  supports(identifier: Identifier, wildcard: boolean): boolean;
  validate(req: ValidationRequest): Promise<ValidationOutcome>;
  /** Extra fields of the challenge object beyond type/url/status/token (e.g. onion-csr-01 `nonce`). */
  challengeFields?(token: string): Record<string, unknown>;
}

export function problem(type: string, detail: string, identifier?: Identifier): ProblemJson {
  const p: ProblemJson = { type: `urn:ietf:params:acme:error:${type}`, detail, status: 400 };
  if (identifier) p.identifier = identifier;
  return p;
}
