import { createHmac, createSecretKey, type KeyObject, randomBytes, timingSafeEqual } from 'node:crypto';
import { b64u, fromB64u } from '@akamu/protocol';
import type { Clock } from '../clock.ts';
import { randomBytesPooled } from '../core/random.ts';
import type { StorageAuthority } from '../sa/storage-authority.ts';

/** Issues and redeems RFC 8555 §6.5 anti-replay nonces. */
export interface NonceService {
  issue(): string;
  /** True exactly once for a nonce this CA issued that has not expired. */
  redeem(nonce: string): Promise<boolean>;
}

/**
 * Nonces that need no storage to issue and one insert to redeem: 6 bytes of issue time (ms), 10 random
 * bytes and a 16-byte HMAC-SHA-256 tag under a key kept in the database (so every node and every restart
 * accepts them). Redeeming checks the tag in constant time and the age, then inserts the nonce into
 * used_nonces under its issue time, whose primary key makes a second redemption fail on any node. Used
 * nonces are deleted once they could no longer be accepted anyway.
 */
export class HmacNonceService implements NonceService {
  readonly #key: KeyObject;
  readonly #sa: Pick<StorageAuthority, 'consumeNonce'>;
  readonly #clock: Clock;
  readonly #lifetime: number;

  constructor(key: Buffer, sa: Pick<StorageAuthority, 'consumeNonce'>, clock: Clock, lifetimeMs: number) {
    this.#key = createSecretKey(key);
    this.#sa = sa;
    this.#clock = clock;
    this.#lifetime = lifetimeMs;
  }

  /** Loads the nonce key from settings, creating it on first start. */
  static async create(
    sa: Pick<StorageAuthority, 'consumeNonce' | 'getOrCreateSetting'>,
    clock: Clock,
    lifetimeMs: number,
  ): Promise<HmacNonceService> {
    const key = fromB64u(await sa.getOrCreateSetting('nonce_hmac_key', b64u(randomBytes(32))));
    if (!key || key.length < 32) throw new Error('the stored nonce key is malformed');
    return new HmacNonceService(key, sa, clock, lifetimeMs);
  }

  issue(): string {
    const body = Buffer.allocUnsafe(32);
    body.writeUIntBE(this.#clock.now(), 0, 6);
    randomBytesPooled(10).copy(body, 6);
    this.#tag(body.subarray(0, 16)).copy(body, 16);
    return body.toString('base64url');
  }

  async redeem(nonce: string): Promise<boolean> {
    if (typeof nonce !== 'string' || nonce.length !== 43) return false;
    const body = fromB64u(nonce);
    if (body?.length !== 32) return false;
    if (!timingSafeEqual(this.#tag(body.subarray(0, 16)), body.subarray(16))) return false;
    const issuedAt = body.readUIntBE(0, 6);
    const now = this.#clock.now();
    if (issuedAt > now + 60_000 || now - issuedAt > this.#lifetime) return false;
    return this.#sa.consumeNonce(nonce, issuedAt);
  }

  #tag(data: Buffer): Buffer {
    return createHmac('sha256', this.#key).update(data).digest().subarray(0, 16);
  }
}
