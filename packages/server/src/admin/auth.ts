import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { TLSSocket } from 'node:tls';
import type { Identifier } from '@akamu/protocol';
import type { FastifyRequest } from 'fastify';
import type { Clock } from '../clock.ts';
import { type AuditContext, auditEvent, SYSTEM_AUDIT } from '../core/audit.ts';
import { setBounded } from '../core/bounded-map.ts';
import { newId } from '../core/ids.ts';
import type { AdminStorage, Operator, OperatorRole, OperatorScope } from '../sa/admin-storage.ts';
import { AdminError } from './problems.ts';

/**
 * Operator authentication (docs/admin-api.md "Authentication"): API tokens `<operator id>.<secret>` where
 * the secret is 32 random bytes (base64url) and only its SHA-256 is stored, compared in constant time;
 * or a client certificate whose SHA-256 fingerprint an operator is registered with. Failed logins count
 * per operator (stored: they hold across nodes; `[admin] max_failed_logins` locks it out for `[admin] lockout`)
 * and per source address (in memory; four times as many lock the address out for as long).
 */

/** The verified client certificate of a request, if any. */
export type CertificateIdentity = (request: FastifyRequest) => { fingerprint256: string } | undefined;

/**
 * Default: the peer certificate of a TLS socket, when the TLS layer verified it (`socket.authorized`).
 * The fingerprint is upper-case hex without colons.
 */
export const peerCertificateIdentity: CertificateIdentity = (request) => {
  const socket = request.raw.socket as Partial<TLSSocket>;
  if (typeof socket.getPeerCertificate !== 'function' || socket.authorized !== true) return undefined;
  const cert = socket.getPeerCertificate();
  if (!cert?.fingerprint256) return undefined;
  return { fingerprint256: normalizeFingerprint(cert.fingerprint256)! };
};

/** "AB:CD:…" or "abcd…" → "ABCD…"; undefined unless it is 32 bytes of hex. */
export function normalizeFingerprint(value: string): string | undefined {
  const hex = value.replace(/:/g, '').toUpperCase();
  return /^[0-9A-F]{64}$/.test(hex) ? hex : undefined;
}

export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('hex');
}

/** A new token for an operator: the token (shown once) and the hash to store. */
export function newToken(operatorId: string): { token: string; tokenHash: string } {
  const secret = randomBytes(32).toString('base64url');
  return { token: `${operatorId}.${secret}`, tokenHash: hashSecret(secret) };
}

/** `<id>.<secret>` → its parts; undefined when the shape is wrong. */
export function parseToken(token: string): { id: string; secret: string } | undefined {
  const m = /^([A-Za-z0-9_-]{1,64})\.([A-Za-z0-9_-]{43})$/.exec(token);
  return m ? { id: m[1]!, secret: m[2]! } : undefined;
}

/** Constant-time comparison of a presented secret with a stored hash (both hashed to 32 bytes). */
export function secretMatches(secret: string, storedHash: string): boolean {
  const a = createHash('sha256').update(secret, 'utf8').digest();
  const b = Buffer.from(storedHash, 'hex');
  return b.length === a.length && timingSafeEqual(a, b);
}

/** Whether a name lies within a suffix: equal to it, or a subdomain of it (a wildcard's base counts). */
export function nameWithin(name: string, suffix: string): boolean {
  const n = name.toLowerCase().replace(/^\*\./, '');
  const s = suffix.toLowerCase().replace(/^\.+/, '');
  return n === s || n.endsWith(`.${s}`);
}

/** A registration officer's scope covers an account by its id. */
export function scopeCoversAccount(scope: OperatorScope | null, accountId: string): boolean {
  return scope?.accounts.includes(accountId) === true;
}

/** …and an order or certificate when its account is in scope, or every identifier is under a suffix. */
export function scopeCoversNames(
  scope: OperatorScope | null,
  accountId: string,
  identifiers: Identifier[],
): boolean {
  if (scope === null) return false;
  if (scope.accounts.includes(accountId)) return true;
  return (
    identifiers.length > 0 &&
    identifiers.every((i) => scope.identifierSuffixes.some((s) => i.type === 'dns' && nameWithin(i.value, s)))
  );
}

/** One way of authenticating a request: an operator, a refusal, or undefined when it does not apply. */
export type Authenticator = (request: FastifyRequest) => Promise<Operator | AdminError | undefined>;

export interface OperatorAuthOptions {
  store: AdminStorage;
  clock: Clock;
  maxFailedLogins: number;
  lockoutMs: number;
  certificateIdentity?: CertificateIdentity | undefined;
}

/** A source address is locked out after this many times `max_failed_logins` failures in a row. */
export const ADDRESS_FACTOR = 4;
/** Most source addresses whose failures are remembered; the oldest are forgotten first. */
const MAX_TRACKED_ADDRESSES = 10_000;

export class OperatorAuth {
  readonly #o: OperatorAuthOptions;
  readonly authenticators: Authenticator[];
  /** Failed logins per source address: count, and the lockout end once it reached the maximum. */
  readonly #byAddress = new Map<string, { count: number; until: number }>();

  constructor(o: OperatorAuthOptions) {
    this.#o = o;
    this.authenticators = [(r) => this.#bearer(r), (r) => this.#certificate(r)];
  }

  /** The operator a request authenticates as; throws 401 (unauthenticated, lockedOut) or 429. */
  async authenticate(request: FastifyRequest): Promise<Operator> {
    const now = this.#o.clock.now();
    const address = this.#byAddress.get(request.ip);
    if (address && address.until > now) {
      throw new AdminError('lockedOut', 'too many failed logins from this address', {
        status: 429,
        retryAfter: Math.ceil((address.until - now) / 1000),
      });
    }
    for (const authenticate of this.authenticators) {
      const result = await authenticate(request);
      if (result === undefined) continue;
      if (result instanceof AdminError) throw result;
      return result;
    }
    throw new AdminError(
      'unauthenticated',
      'an operator token (Authorization: Bearer) or client certificate is needed',
    );
  }

  async #bearer(request: FastifyRequest): Promise<Operator | AdminError | undefined> {
    const header = request.headers.authorization;
    if (header === undefined) return undefined;
    const m = /^Bearer\s+(\S+)$/i.exec(header);
    const parsed = m ? parseToken(m[1]!) : undefined;
    if (!parsed) return this.#failed(request, undefined);
    const op = await this.#o.store.getOperator(parsed.id);
    if (!op) return this.#failed(request, undefined);
    const now = this.#o.clock.now();
    if (op.lockedUntil !== null && op.lockedUntil > now) return lockedOut(op.lockedUntil - now);
    if (!secretMatches(parsed.secret, op.tokenHash)) return this.#failed(request, op);
    if (op.disabled) return new AdminError('unauthenticated', 'the operator is disabled');
    if (op.failedLogins > 0 || op.lastLoginAt === null || now - op.lastLoginAt > 60_000) {
      await this.#o.store.recordLogin(op.id, now);
    }
    this.#byAddress.delete(request.ip);
    return op;
  }

  async #certificate(request: FastifyRequest): Promise<Operator | AdminError | undefined> {
    const identity = (this.#o.certificateIdentity ?? peerCertificateIdentity)(request);
    if (!identity) return undefined;
    const fingerprint = normalizeFingerprint(identity.fingerprint256);
    const op = fingerprint ? await this.#o.store.getOperatorByFingerprint(fingerprint) : undefined;
    // A certificate the TLS layer verified but no operator holds: not a guess worth counting.
    if (!op) return undefined;
    const now = this.#o.clock.now();
    if (op.lockedUntil !== null && op.lockedUntil > now) return lockedOut(op.lockedUntil - now);
    if (op.disabled) return new AdminError('unauthenticated', 'the operator is disabled');
    return op;
  }

  async #failed(request: FastifyRequest, op: Operator | undefined): Promise<AdminError> {
    const now = this.#o.clock.now();
    const { maxFailedLogins, lockoutMs } = this.#o;
    const entry = this.#byAddress.get(request.ip) ?? { count: 0, until: 0 };
    this.#byAddress.delete(request.ip); // re-inserted last: the Map's order is least recently failed first
    entry.count += 1;
    // An address may try several operators' names before it is stopped: four times the per-operator limit.
    if (entry.count >= maxFailedLogins * ADDRESS_FACTOR) {
      entry.count = 0;
      entry.until = now + lockoutMs;
    }
    setBounded(this.#byAddress, request.ip, entry, MAX_TRACKED_ADDRESSES);
    if (op) {
      const who: AuditContext = { actor: 'anonymous', source: request.ip, requestId: request.id };
      const until = await this.#o.store.recordFailedLogin(op.id, now, maxFailedLogins, lockoutMs, (locked) =>
        auditEvent(
          who,
          now,
          locked ? 'operator.locked_out' : 'operator.login_failed',
          { type: 'operator', id: op.id },
          {
            outcome: 'failure',
            detail: locked ? `locked out until ${new Date(locked).toISOString()}` : 'wrong token',
          },
        ),
      );
      if (until !== undefined) return lockedOut(until - now);
    }
    return new AdminError('unauthenticated', 'the token is not valid');
  }
}

function lockedOut(ms: number): AdminError {
  return new AdminError('lockedOut', 'the operator is locked out after too many failed logins', {
    retryAfter: Math.max(1, Math.ceil(ms / 1000)),
  });
}

/** Creates operators (with their first token), and the first administrator of an empty server. */
export class OperatorRegistry {
  readonly #store: AdminStorage;
  readonly #clock: Clock;

  constructor(store: AdminStorage, clock: Clock) {
    this.#store = store;
    this.#clock = clock;
  }

  async create(input: {
    name: string;
    role: OperatorRole;
    scope?: OperatorScope | null | undefined;
    certFingerprint?: string | null | undefined;
    id?: string;
    audit?: AuditContext;
  }): Promise<{ operator: Operator; token: string } | 'duplicate'> {
    const id = input.id ?? `op-${newId()}`;
    const { token, tokenHash } = newToken(id);
    const now = this.#clock.now();
    const operator: Operator = {
      id,
      name: input.name,
      role: input.role,
      tokenHash,
      certFingerprint: input.certFingerprint ?? null,
      scope: input.scope ?? null,
      disabled: false,
      failedLogins: 0,
      lockedUntil: null,
      createdAt: now,
      tokenRotatedAt: now,
      lastLoginAt: null,
    };
    const event = auditEvent(
      input.audit ?? SYSTEM_AUDIT,
      now,
      'operator.created',
      { type: 'operator', id },
      {
        details: {
          name: operator.name,
          role: operator.role,
          scope: operator.scope,
          certificate: operator.certFingerprint,
        },
      },
    );
    if ((await this.#store.insertOperator(operator, event)) === 'duplicate') return 'duplicate';
    return { operator, token };
  }

  /**
   * The first administrator, only while no operator exists. Its fixed id makes this exactly-once across
   * nodes: a second node's insert is a duplicate. Returns undefined when an operator already exists.
   */
  async bootstrap(name = 'admin'): Promise<{ operator: Operator; token: string } | undefined> {
    if ((await this.#store.countOperators()) > 0) return undefined;
    const r = await this.create({ id: 'op-bootstrap', name, role: 'administrator' });
    return r === 'duplicate' ? undefined : r;
  }

  async rotate(id: string, audit: AuditContext = SYSTEM_AUDIT): Promise<string | undefined> {
    const { token, tokenHash } = newToken(id);
    const now = this.#clock.now();
    const event = auditEvent(audit, now, 'operator.token_rotated', { type: 'operator', id });
    const done = await this.#store.updateOperator(
      id,
      { tokenHash, tokenRotatedAt: now, lockedUntil: null },
      event,
    );
    return done ? token : undefined;
  }
}
