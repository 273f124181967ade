/**
 * RFC 9799 §3.2 onion-csr-01: the challenge response is a CSR signed by the hidden service's own
 * Ed25519 key, carrying the CA's nonce. Nothing is served, so present/cleanup only check that a key
 * for the name is at hand.
 */
import type { KeyObject } from 'node:crypto';
import type { ChallengeJson, Identifier } from '@akamu/protocol';
import { ChallengeSolverError } from '../errors.ts';
import { createOnionCsr, onionAddressFromKey } from '../onion.ts';
import type { ChallengeSolver } from './challenge-solver.ts';

export interface OnionCsr01SolverOptions {
  /** The Ed25519 private keys of the hidden services to validate, one per onion address. */
  keys: KeyObject | KeyObject[];
}

export class OnionCsr01Solver implements ChallengeSolver {
  readonly type = 'onion-csr-01';
  /** onion address (`<56 characters>.onion`) → its key. */
  readonly #keys = new Map<string, KeyObject>();

  constructor(opts: OnionCsr01SolverOptions) {
    for (const key of Array.isArray(opts.keys) ? opts.keys : [opts.keys]) {
      if (key?.type !== 'private' || key.asymmetricKeyType !== 'ed25519')
        throw new TypeError('onion service keys are Ed25519 private keys');
      this.#keys.set(onionAddressFromKey(key), key);
    }
  }

  /** The onion addresses this solver holds keys for. */
  get addresses(): string[] {
    return [...this.#keys.keys()];
  }

  async present(identifier: Identifier, _challenge: ChallengeJson, _keyAuthorization: string): Promise<void> {
    this.#keyFor(identifier);
  }

  async cleanup(
    _identifier: Identifier,
    _challenge: ChallengeJson,
    _keyAuthorization: string,
  ): Promise<void> {}

  async challengePayload(
    identifier: Identifier,
    challenge: ChallengeJson,
    _keyAuthorization: string,
  ): Promise<object> {
    const nonce = (challenge as ChallengeJson & { nonce?: unknown }).nonce;
    if (typeof nonce !== 'string' || nonce === '')
      throw new ChallengeSolverError(this.type, 'the challenge has no nonce (RFC 9799 §3.2)', { identifier });
    const csr = createOnionCsr({
      key: this.#keyFor(identifier),
      onionName: identifier.value,
      caNonce: nonce,
    });
    return { csr: csr.toString('base64url') };
  }

  #keyFor(identifier: Identifier): KeyObject {
    const name = identifier.value.toLowerCase().replace(/\.$/, '').replace(/^\*\./, '');
    const address = /(?:^|\.)([a-z2-7]{56}\.onion)$/.exec(name)?.[1];
    const key = address === undefined ? undefined : this.#keys.get(address);
    if (!key)
      throw new ChallengeSolverError(this.type, `no hidden service key for ${identifier.value}`, {
        identifier,
      });
    return key;
  }
}
