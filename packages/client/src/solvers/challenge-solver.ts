import type { ChallengeJson, Identifier } from '@akamu/protocol';

/**
 * Makes one challenge type answerable (RFC 8555 §8). obtainCertificate calls present() before it
 * responds to the challenge and cleanup() once the authorization is decided, with the same arguments.
 */
export interface ChallengeSolver {
  /** The RFC 8555 challenge type, e.g. 'http-01'. */
  readonly type: string;
  present(identifier: Identifier, challenge: ChallengeJson, keyAuthorization: string): Promise<void>;
  cleanup(identifier: Identifier, challenge: ChallengeJson, keyAuthorization: string): Promise<void>;
  /**
   * The payload of the challenge response (RFC 8555 §7.5.1); `{}` when absent. Challenge types that
   * carry data in the response implement it, e.g. onion-csr-01 `{ csr }` (RFC 9799 §3.2).
   */
  challengePayload?(
    identifier: Identifier,
    challenge: ChallengeJson,
    keyAuthorization: string,
  ): Promise<object>;
}
