import type { KeyObject } from 'node:crypto';
import type { Jwk } from '@akamu/protocol';
import type { FastifyRequest } from 'fastify';
import { setBounded } from '../core/bounded-map.ts';
import type { Account } from '../core/types.ts';
import { AcmeError, malformed, unauthorized } from '../errors.ts';
import type { NonceService } from '../nonce/nonce-service.ts';
import type { StorageAuthority } from '../sa/storage-authority.ts';
import {
  checkKeyMatchesAlg,
  type FlattenedJws,
  importJwk,
  type JwsAlgorithm,
  type PublicJwk,
  parseFlattenedJws,
  verifyJwsSignature,
  verifyJwsSignatureInPool,
} from './jws.ts';
import type { AcmeUrls } from './urls.ts';

export interface VerifiedByAccount {
  jws: FlattenedJws;
  payload: unknown;
  account: Account;
  key: KeyObject;
}
export interface VerifiedByJwk {
  jws: FlattenedJws;
  payload: unknown;
  jwk: PublicJwk;
  key: KeyObject;
}

/**
 * RFC 8555 §6.2–6.5 for every POST: flattened JWS, allowed alg, exactly one of jwk/kid, `url` equal to the
 * request URL, signature valid, then the nonce redeemed exactly once. Account keys are imported once and
 * kept as KeyObjects (bounded cache keyed by thumbprint).
 */
export class RequestVerifier {
  readonly #sa: Pick<StorageAuthority, 'getAccount'>;
  readonly #nonces: NonceService;
  readonly #urls: AcmeUrls;
  /** Account keys by thumbprint, with the algorithm they were checked for. */
  readonly #keys = new Map<string, { key: KeyObject; alg: string }>();
  readonly #maxKeys: number;
  readonly #offload: () => boolean;

  constructor(deps: {
    sa: Pick<StorageAuthority, 'getAccount'>;
    nonces: NonceService;
    urls: AcmeUrls;
    maxCachedKeys?: number;
    /** True when a signature check should run on a thread-pool thread (other requests are waiting). */
    offload?: () => boolean;
  }) {
    this.#offload = deps.offload ?? (() => false);
    this.#sa = deps.sa;
    this.#nonces = deps.nonces;
    this.#urls = deps.urls;
    this.#maxKeys = deps.maxCachedKeys ?? 10_000;
  }

  /** A request signed by a registered account (`kid`). */
  async byAccount(request: FastifyRequest): Promise<VerifiedByAccount> {
    return this.#byAccount(this.#parse(request));
  }

  async #byAccount(jws: FlattenedJws): Promise<VerifiedByAccount> {
    if (jws.header.kid === undefined)
      throw malformed('this resource requires a "kid" (account URL), not a "jwk"');
    const account = await this.#account(jws.header.kid);
    const key = this.#accountKey(account, jws.header.alg);
    await this.#finish(jws, key);
    return { jws, payload: jws.payload, account, key };
  }

  /** A request signed by a key given inline (`jwk`): new-account, and revoke-cert with the certificate key. */
  async byJwk(request: FastifyRequest): Promise<VerifiedByJwk> {
    return this.#byJwk(this.#parse(request));
  }

  async #byJwk(jws: FlattenedJws): Promise<VerifiedByJwk> {
    if (jws.header.jwk === undefined) throw malformed('this resource requires a "jwk", not a "kid"');
    const jwk = importJwk(jws.header.jwk, jws.header.alg);
    await this.#finish(jws, jwk.key);
    // A new account's next requests come by kid: keep the key imported (and checked for this alg) now.
    this.#remember(jwk.thumbprint, jwk.key, jws.header.alg);
    return { jws, payload: jws.payload, jwk, key: jwk.key };
  }

  /** Either form (revoke-cert, RFC 8555 §7.6). */
  async byEither(request: FastifyRequest): Promise<VerifiedByAccount | VerifiedByJwk> {
    const jws = this.#parse(request);
    return jws.header.kid !== undefined ? this.#byAccount(jws) : this.#byJwk(jws);
  }

  /** Verifies an inner JWS (key-change, RFC 8555 §7.3.5): signed by its own jwk, same url, no nonce. */
  verifyInner(payload: unknown, outerUrl: string): { url: string; payload: unknown; newKey: PublicJwk } {
    const inner = parseFlattenedJws(payload);
    if (inner.header.jwk === undefined) throw malformed('the inner JWS must carry the new key as "jwk"');
    if (inner.header.nonce !== undefined) throw malformed('the inner JWS must not carry a nonce');
    if (inner.header.url !== outerUrl) throw malformed('the inner JWS "url" must equal the outer one');
    const newKey = importJwk(inner.header.jwk, inner.header.alg);
    if (!verifyJwsSignature(inner, newKey.key)) throw malformed('the inner JWS signature does not verify');
    return { url: inner.header.url, payload: inner.payload, newKey };
  }

  #parse(request: FastifyRequest): FlattenedJws {
    const jws = parseFlattenedJws(request.body);
    const expected = this.#urls.base + request.url;
    if (jws.header.url !== expected) {
      throw unauthorized(
        `the JWS "url" ${JSON.stringify(jws.header.url)} is not the request URL ${expected}`,
      );
    }
    return jws;
  }

  async #account(kid: string): Promise<Account> {
    const id = this.#urls.accountIdFromKid(kid);
    const account = id === undefined ? undefined : await this.#sa.getAccount(id);
    if (!account) throw new AcmeError('accountDoesNotExist', `no account at ${kid}`);
    if (account.status !== 'valid') throw unauthorized(`the account is ${account.status}`);
    return account;
  }

  /** The account's KeyObject, imported once; the key/alg fit is checked once per algorithm. */
  #accountKey(account: Account, alg: JwsAlgorithm): KeyObject {
    const cached = this.#keys.get(account.thumbprint);
    if (cached && cached.alg === alg) return cached.key;
    const key = cached?.key ?? importJwk(account.jwk as Jwk, alg).key;
    checkKeyMatchesAlg(key, alg);
    this.#remember(account.thumbprint, key, alg);
    return key;
  }

  #remember(thumbprint: string, key: KeyObject, alg: JwsAlgorithm): void {
    setBounded(this.#keys, thumbprint, { key, alg }, this.#maxKeys);
  }

  async #finish(jws: FlattenedJws, key: KeyObject): Promise<void> {
    const valid = this.#offload() ? await verifyJwsSignatureInPool(jws, key) : verifyJwsSignature(jws, key);
    if (!valid) throw malformed('the JWS signature does not verify');
    if (jws.header.nonce === undefined) throw new AcmeError('badNonce', 'the JWS has no nonce');
    if (!(await this.#nonces.redeem(jws.header.nonce))) {
      throw new AcmeError('badNonce', 'the nonce is unknown, expired or already used');
    }
  }
}
