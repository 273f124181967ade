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
  signal: AbortSignal;
}

/** A problem to record on the challenge, or undefined when the challenge was met. */
export type ValidationOutcome = ProblemJson | undefined;

/**
 * One challenge type. Validators are stateless and never touch storage. An embedder registers its own
 * with `createServer(config, { validators: [...] })`.
 */
export interface ChallengeValidator {
  readonly type: string;
  /** Whether this challenge is offered for the identifier (e.g. http-01 never for wildcards). */
  supports(identifier: Identifier, wildcard: boolean): boolean;
  validate(req: ValidationRequest): Promise<ValidationOutcome>;
}

export function problem(type: string, detail: string, identifier?: Identifier): ProblemJson {
  const p: ProblemJson = { type: `urn:ietf:params:acme:error:${type}`, detail, status: 400 };
  if (identifier) p.identifier = identifier;
  return p;
}
