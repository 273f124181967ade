import { createHash } from 'node:crypto';
import type { Kysely } from 'kysely';
import { isUniqueViolation } from './dialect.ts';

/**
 * Records redeemed authority tokens so a token is accepted once (RFC 9447 §4: "jti" for replay
 * prevention). `redeem` is atomic: of two concurrent redemptions of one jti, exactly one returns true.
 */
export interface AuthorityTokenLedger {
  /** Marks the token's jti used until `expiresAt` (epoch ms); false if it was used before. */
  redeem(issuer: string, jti: string, expiresAt: number, now: number): Promise<boolean>;
}

/** Row of `authority_token_uses` (migration 2026_11_24_020000_create_authority_token_uses). */
interface AuthorityTokenUsesTable {
  jti_hash: string;
  expires_at: number;
  used_at: number;
}

/** The ledger in the `authority_token_uses` table: the primary key makes a second use fail on any node. */
export class SqlAuthorityTokenLedger implements AuthorityTokenLedger {
  readonly #db: Kysely<{ authority_token_uses: AuthorityTokenUsesTable }>;

  // biome-ignore lint/suspicious/noExplicitAny: the table belongs to this module, not to the shared Database type
  constructor(db: Kysely<any>) {
    this.#db = db;
  }

  async redeem(issuer: string, jti: string, expiresAt: number, now: number): Promise<boolean> {
    // Tokens past their exp are refused anyway, so their rows are no longer needed.
    await this.#db.deleteFrom('authority_token_uses').where('expires_at', '<', now).execute();
    try {
      await this.#db
        .insertInto('authority_token_uses')
        .values({ jti_hash: jtiHash(issuer, jti), expires_at: expiresAt, used_at: now })
        .execute();
      return true;
    } catch (e) {
      if (isUniqueViolation(e)) return false;
      throw e;
    }
  }
}

/** For an embedder's own StorageAuthority: replays are refused within this process. */
export class MemoryAuthorityTokenLedger implements AuthorityTokenLedger {
  readonly #used = new Map<string, number>();

  async redeem(issuer: string, jti: string, expiresAt: number, now: number): Promise<boolean> {
    for (const [key, exp] of this.#used) if (exp < now) this.#used.delete(key);
    const key = jtiHash(issuer, jti);
    if (this.#used.has(key)) return false;
    this.#used.set(key, expiresAt);
    return true;
  }
}

/** A fixed-size key: jti values have no length limit. */
function jtiHash(issuer: string, jti: string): string {
  return createHash('sha256').update(issuer).update('\0').update(jti).digest('hex');
}
