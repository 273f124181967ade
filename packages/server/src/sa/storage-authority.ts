import type { Identifier, ProblemJson } from '@akamu/protocol';
import type { AuditEvent } from '../core/audit.ts';
import type { Account, Authorization, Certificate, Challenge, Order } from '../core/types.ts';

/**
 * Everything the server stores, behind one interface (RFC 8555 objects, nonces, settings). The SQL
 * implementation is SqlStorageAuthority; an embedder may pass its own. Every method that changes more
 * than one row does so in one transaction; conditional updates return whether they applied.
 */
/** A revoked certificate as a CRL lists it. */
export interface RevokedCertificate {
  /** Lower-case hex, as stored. */
  serial: string;
  revokedAt: number;
  reason: number;
}

/**
 * Every method that changes state takes an optional audit event (core/audit.ts) and, when given,
 * inserts it in the transaction of the change and only when the change applied (sa/audit-storage.ts).
 */
export interface StorageAuthority {
  /** Returns the stored value, storing `value` first if the setting is absent (first writer wins). */
  getOrCreateSetting(name: string, value: string): Promise<string>;

  /**
   * Records a nonce as used; false if it was used before. `issuedAt` is the issue time the nonce itself
   * carries, so every use of the same nonce comes with the same one (used nonces are kept by it).
   */
  consumeNonce(nonce: string, issuedAt: number): Promise<boolean>;
  /** Forgets used nonces issued before `issuedBefore` (too old to be accepted anyway). */
  deleteExpiredNonces(issuedBefore: number): Promise<number>;

  getAccount(id: string): Promise<Account | undefined>;
  getAccountByThumbprint(thumbprint: string): Promise<Account | undefined>;
  /** Inserts the account; if the key is already registered returns that account instead (`created: false`). */
  createAccount(account: Account, audit?: AuditEvent): Promise<{ account: Account; created: boolean }>;
  updateAccount(
    id: string,
    changes: { contact?: string[]; status?: Account['status'] },
    audit?: AuditEvent,
  ): Promise<Account | undefined>;
  /** RFC 8555 §7.3.5: swaps the key if `oldThumbprint` is current; 'conflict' if the new key belongs to an account. */
  changeAccountKey(
    id: string,
    oldThumbprint: string,
    next: { thumbprint: string; jwk: Record<string, unknown> },
    audit?: AuditEvent,
  ): Promise<'changed' | 'conflict' | 'stale'>;
  /**
   * Thumbprints of the keys the account used before its current one, newest first; empty for a
   * deactivated account (draft-ietf-acme-dns-persist-02 §4.2). Optional for embedders' storage.
   */
  previousAccountThumbprints?(accountId: string): Promise<string[]>;

  /** Valid, unexpired authorizations of the account for these identifiers (for reuse, §7.4). */
  findValidAuthorizations(
    accountId: string,
    identifiers: Identifier[],
    now: number,
  ): Promise<Authorization[]>;
  /** Inserts the order with its new authorizations and their challenges, in one transaction. */
  createOrder(order: Order, newAuthorizations: Authorization[], audit?: AuditEvent): Promise<void>;
  /** Inserts authorizations with their challenges outside any order (RFC 8555 §7.4.1 pre-authorization). */
  createAuthorizations(authorizations: Authorization[], audit?: AuditEvent[]): Promise<void>;
  getOrder(id: string): Promise<Order | undefined>;
  /** The order's authorizations, with challenges, in the order's order. */
  getAuthorizations(ids: string[]): Promise<Authorization[]>;
  /** Order ids of an account, oldest first, from an opaque cursor; `next` is set when more follow. */
  listOrderIds(
    accountId: string,
    cursor: string | undefined,
    limit: number,
  ): Promise<{ ids: string[]; next: string | undefined }>;

  getAuthorization(id: string): Promise<Authorization | undefined>;
  deactivateAuthorization(id: string, audit?: AuditEvent): Promise<boolean>;
  getChallenge(id: string): Promise<{ challenge: Challenge; authorization: Authorization } | undefined>;
  /** pending → processing (noting when); false if the challenge was not pending. */
  startChallenge(challengeId: string, now: number): Promise<boolean>;
  /**
   * processing → valid/invalid and the authorization with it, in one transaction. A valid authorization
   * gets its new expiry (the reuse lifetime).
   */
  recordValidation(
    challengeId: string,
    authorizationId: string,
    outcome:
      | { valid: true; at: number; expiresAt: number }
      | { valid: false; at: number; error: ProblemJson },
    audit?: AuditEvent,
  ): Promise<boolean>;
  /**
   * Claims challenges whose validation began before `before` and never ended (the node validating them
   * died): each is claimed by exactly one caller (a conditional update of its start time to `now`).
   */
  claimAbandonedChallenges(
    before: number,
    now: number,
  ): Promise<{ challenge: Challenge; authorization: Authorization }[]>;
  /**
   * Takes or renews the named lease until `until` for `holder` when it is free, expired or already its
   * own. At most one holder has a lease at a time, across every node on the database.
   */
  tryAcquireLease(name: string, holder: string, until: number, now: number): Promise<boolean>;

  /** pending → processing (finalize), noting when; false when the order was not pending. */
  beginFinalize(orderId: string, now: number): Promise<boolean>;
  /** processing → valid, with the certificate inserted in the same transaction. */
  completeFinalize(orderId: string, certificate: Certificate, audit?: AuditEvent): Promise<void>;
  /** processing or pending → invalid with the error. */
  failOrder(orderId: string, error: ProblemJson, audit?: AuditEvent): Promise<void>;
  /** Fails orders whose finalization began before `before` and never ended (a crash between the two steps). */
  failStaleProcessingOrders(
    before: number,
    error: ProblemJson,
    /** An order.invalid event for each order failed. */
    audit?: (orderId: string) => AuditEvent,
  ): Promise<number>;

  getCertificate(id: string): Promise<Certificate | undefined>;
  getCertificateBySerial(serial: string): Promise<Certificate | undefined>;
  /** valid → revoked; false if already revoked. */
  revokeCertificate(id: string, reason: number, at: number, audit?: AuditEvent): Promise<boolean>;
  /** Revoked certificates whose notAfter is at or after `notAfterFrom`, for building CRLs (RFC 5280 §5). */
  listRevokedCertificates(notAfterFrom: number): Promise<RevokedCertificate[]>;
  /** Increments and returns the CRL number of a CRL scope (1 the first time), in one transaction. */
  nextCrlNumber(scope: string, now: number): Promise<number>;
  /** The current value of a counter nextCrlNumber increments; 0 before its first increment. */
  currentCrlNumber(scope: string): Promise<number>;

  /** Liveness of the store (used by readiness checks). */
  ping(): Promise<void>;
  close(): Promise<void>;
}
