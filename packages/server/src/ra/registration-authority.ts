import { type KeyObject, X509Certificate } from 'node:crypto';
import type { Identifier, Jwk, ProblemJson } from '@akamu/protocol';
import { derToPem, keyAuthorization } from '@akamu/protocol';
import type { CertificateIssuer, LeafRequest } from '../ca/certificate-issuer.ts';
import { newSerial } from '../ca/certificate-issuer.ts';
import { CsrError, describeKey, parseCsr } from '../ca/csr.ts';
import type { Clock } from '../clock.ts';
import { type AuditContext, accountActor, auditEvent, SYSTEM_AUDIT } from '../core/audit.ts';
import { checkContacts } from '../core/contacts.ts';
import { checkCertificateKey, checkCsrKeyIsNotAccountKey, checkCsrMatchesOrder } from '../core/csr-rules.ts';
import { canonicalIp, normalizeIdentifier, parseOrderIdentifiers } from '../core/identifiers.ts';
import { newId, newToken } from '../core/ids.ts';
import { checkCsrKeyIsNotOnionKey } from '../core/onion.ts';
import { authorizationStatus, orderStatus } from '../core/order-status.ts';
import { keyTypeRefusal, keyUsageBitsFor } from '../core/profile-rules.ts';
import { importPublicJwk } from '../core/public-key.ts';
import { parseRevocationReason } from '../core/revocation.ts';
import { parseTimestamp } from '../core/timestamp.ts';
import { requestedTlsFeatures, tlsFeatureExtension } from '../core/tls-feature.ts';
import { checkTnAuthListCsr, IDENTIFIER_TYPE_TNAUTHLIST, tnAuthListExtensions } from '../core/tnauthlist.ts';
import type { Account, Authorization, Certificate, Order } from '../core/types.ts';
import { AcmeError, combineErrors, malformed, unauthorized } from '../errors.ts';
import type { RaMetrics } from '../metrics.ts';
import type { StorageAuthority } from '../sa/storage-authority.ts';
import type { ValidationAuthority } from '../va/validation-authority.ts';
import { outcomeProblem } from '../va/validator.ts';
import { type CaaChecker, validationMethodFor } from './caa.ts';
import type { EabAuthority } from './eab-authority.ts';
import { planOrderAuthorizations } from './order-authorizations.ts';
import type { IssuanceProfile, ProfileCatalog } from './profiles.ts';
import type { RateLimiter, RequestOrigin } from './rate-limits.ts';
import type { FinalizePlan, RenewalAuthority } from './renewal-authority.ts';

export interface RaPolicy {
  termsOfService: string;
  externalAccountRequired: boolean;
  contactSchemes: string[];
  maxContacts: number;
  maxIdentifiers: number;
  orderLifetime: number;
  pendingAuthorizationLifetime: number;
  validAuthorizationLifetime: number;
  certificateValidity: number;
  /** RFC 9444: ancestor-domain authorizations may authorize the names below them. */
  subdomainAuthAllowed: boolean;
  backdate: number;
}

export interface RaDeps {
  sa: StorageAuthority;
  va: ValidationAuthority;
  issuer: CertificateIssuer;
  clock: Clock;
  policy: RaPolicy;
  accountUrl: (id: string) => string;
  /** Called when background work fails unexpectedly (logged by the app). */
  onBackgroundError: (err: unknown, what: string) => void;
  /** Told after a revocation committed (CRLs and OCSP responses change at once); lower-case hex serial. */
  onRevoked?: (serial: string) => void;
  /** Certificate profiles (draft-ietf-acme-profiles) and the identifier policy. */
  profiles: ProfileCatalog;
  /** RFC 9773 replaces, RFC 8739 auto-renewal and RFC 9115 delegation in new-order and finalize. */
  renewals?: RenewalAuthority;
  /** External account binding (RFC 8555 §7.3.4); absent when the storage has no EAB keys. */
  eab?: EabAuthority;
  /** CAA checking at finalize (RFC 8659, RFC 8657); absent when acme.caa_identities is empty. */
  caa?: CaaChecker;
  /** This node's id (`cluster.node_id`): the audit actor of work it starts on its own. */
  nodeId?: string;
  /** Rate limits (RFC 8555 §6.6), ra/rate-limits.ts; absent when the storage keeps no buckets. */
  rateLimits?: RateLimiter;
  /** Counters of issuances, validations and EAB consumption (metrics.ts). */
  metrics?: RaMetrics;
  /**
   * The OCSP URL certificates carry unless their profile names one (revocation/revocation-urls.ts);
   * OCSP Must-Staple is issued only in certificates that name a responder.
   */
  ocspUrl?: () => string | undefined;
}

/**
 * The registration authority: every rule of RFC 8555 about accounts, orders, authorizations, finalization
 * and revocation, and the only writer of ACME state (through the StorageAuthority). The WFE has verified
 * the JWS and resolved the account before calling; the RA trusts nothing else of the request.
 */
export class RegistrationAuthority {
  readonly #d: RaDeps;
  /** Validations running in this process, by authorization id. */
  readonly #validations = new Map<string, Promise<Authorization | undefined>>();

  constructor(deps: RaDeps) {
    this.#d = deps;
  }

  // ---- accounts (RFC 8555 §7.3) ----

  async newAccount(
    key: { jwk: Jwk; thumbprint: string },
    payload: unknown,
    origin?: RequestOrigin,
    audit: AuditContext = SYSTEM_AUDIT,
  ): Promise<{ account: Account; created: boolean }> {
    const p = asObject(payload, 'new-account');
    const existing = await this.#d.sa.getAccountByThumbprint(key.thumbprint);
    // RFC 8555 §7.3.6: once deactivated (or revoked), no request authorized by the key is accepted,
    // new-account included; the key cannot register again either.
    if (existing && existing.status !== 'valid')
      throw unauthorized(`the account with this key is ${existing.status}`);
    if (p.onlyReturnExisting === true) {
      if (!existing) throw new AcmeError('accountDoesNotExist', 'no account exists with this key');
      return { account: existing, created: false };
    }
    if (existing) return { account: existing, created: false };
    const contact = checkContacts(p.contact, this.#d.policy.contactSchemes, this.#d.policy.maxContacts);
    if (this.#d.policy.termsOfService && p.termsOfServiceAgreed !== true) {
      throw new AcmeError('malformed', 'you must agree to the terms of service (termsOfServiceAgreed: true)');
    }
    // RFC 8555 §7.3.4 (ra/eab-authority.ts): a binding is verified whenever one is sent and an EAB key
    // store exists; the account and the key's consumption are then one transaction.
    const eab = this.#d.eab;
    if (this.#d.policy.externalAccountRequired && p.externalAccountBinding === undefined) {
      throw new AcmeError('externalAccountRequired', 'this CA requires an external account binding');
    }
    if (this.#d.policy.externalAccountRequired && !eab) {
      throw unauthorized('this CA has no external account keys');
    }
    const eabKid =
      p.externalAccountBinding !== undefined && eab
        ? await eab.verifyBinding(p.externalAccountBinding, key.thumbprint)
        : undefined;
    const account: Account = {
      id: newId(),
      thumbprint: key.thumbprint,
      jwk: key.jwk,
      status: 'valid',
      contact,
      termsOfServiceAgreed: p.termsOfServiceAgreed === true,
      createdAt: this.#d.clock.now(),
    };
    await this.#d.rateLimits?.checkNewAccount(origin);
    // The new account is the actor of its own creation.
    const self = { ...audit, actor: accountActor(account.id) };
    const created = auditEvent(
      self,
      account.createdAt,
      'account.created',
      { type: 'account', id: account.id },
      {
        details: { contact: account.contact, ...(eabKid !== undefined ? { eabKid } : {}) },
      },
    );
    if (eab && eabKid !== undefined) {
      const consumed = auditEvent(
        self,
        account.createdAt,
        'eab_key.consumed',
        { type: 'eab_key', id: eabKid },
        {
          details: { account: account.id },
        },
      );
      const bound = await eab.createBoundAccount({ ...account, eabKid }, [created, consumed]);
      if (bound.created) this.#d.metrics?.eabKeyConsumed();
      return bound;
    }
    return this.#d.sa.createAccount(account, created);
  }

  /** RFC 8555 §7.3.2 update and §7.3.6 deactivation. */
  async updateAccount(
    account: Account,
    payload: unknown,
    audit: AuditContext = SYSTEM_AUDIT,
  ): Promise<Account> {
    if (payload === undefined) return account;
    const p = asObject(payload, 'account update');
    const changes: { contact?: string[]; status?: Account['status'] } = {};
    if (p.status !== undefined) {
      if (p.status !== 'deactivated') throw malformed('the only status a client may set is "deactivated"');
      changes.status = 'deactivated';
    }
    if (p.contact !== undefined) {
      changes.contact = checkContacts(p.contact, this.#d.policy.contactSchemes, this.#d.policy.maxContacts);
    }
    const event = auditEvent(
      audit,
      this.#d.clock.now(),
      changes.status === 'deactivated' ? 'account.deactivated' : 'account.updated',
      { type: 'account', id: account.id },
      { details: changes.contact ? { contact: changes.contact } : null },
    );
    return (await this.#d.sa.updateAccount(account.id, changes, event)) ?? account;
  }

  /** RFC 8555 §7.3.5: the inner JWS (already verified with the new key) names the account and its old key. */
  async changeKey(
    account: Account,
    inner: { url: string; payload: unknown; newKey: { jwk: Jwk; thumbprint: string; key: KeyObject } },
    oldKey: KeyObject,
    audit: AuditContext = SYSTEM_AUDIT,
  ): Promise<void> {
    const p = asObject(inner.payload, 'key-change');
    if (p.account !== this.#d.accountUrl(account.id))
      throw malformed('the inner JWS "account" is not the signing account');
    if (typeof p.oldKey !== 'object' || p.oldKey === null)
      throw malformed('the inner JWS must name "oldKey"');
    let old: KeyObject;
    try {
      old = importPublicJwk(p.oldKey as import('node:crypto').JsonWebKey);
    } catch {
      throw malformed('"oldKey" is not a JSON Web Key');
    }
    if (!old.equals(oldKey)) throw unauthorized('"oldKey" is not the account\'s current key');
    const r = await this.#d.sa.changeAccountKey(
      account.id,
      account.thumbprint,
      inner.newKey,
      auditEvent(
        audit,
        this.#d.clock.now(),
        'account.key_changed',
        { type: 'account', id: account.id },
        {
          details: { oldThumbprint: account.thumbprint, newThumbprint: inner.newKey.thumbprint },
        },
      ),
    );
    if (r === 'conflict') {
      const other = await this.#d.sa.getAccountByThumbprint(inner.newKey.thumbprint);
      throw new AcmeError('malformed', 'the new key is already in use by another account', {
        status: 409,
        extra: other ? { location: this.#d.accountUrl(other.id) } : {},
      });
    }
    if (r === 'stale') throw unauthorized('the account key changed while the request was processed');
  }

  // ---- orders (RFC 8555 §7.4) ----

  /** RFC 8555 §7.4. The status is ready when every authorization was reused (all valid), else pending. */
  async newOrder(
    account: Account,
    payload: unknown,
    /** The profile of the per-profile directory the request came through. */
    impliedProfile?: string,
    origin?: RequestOrigin,
    audit: AuditContext = SYSTEM_AUDIT,
  ): Promise<{ order: Order; status: 'pending' | 'ready' }> {
    const p = asObject(payload, 'new-order');
    const now = this.#d.clock.now();
    const parsed = parseOrderIdentifiers(p.identifiers, this.#d.policy.maxIdentifiers);
    const errors = parsed.errors;
    const profile = this.#d.profiles.select(p.profile, impliedProfile);
    await this.#checkProfileAllowed(account, profile);
    const notBefore = parseTimestamp(p.notBefore, 'notBefore');
    const notAfter = parseTimestamp(p.notAfter, 'notAfter');
    this.#checkValidityRequest(notBefore, notAfter, now, profile);
    const ids = parsed.identifiers.filter((id) => {
      const refusal = this.#d.profiles.identifierRefusal(id.identifier, profile);
      if (refusal) errors.push(refusal);
      return !refusal;
    });
    const { authorizationIds, created } = await planOrderAuthorizations(
      {
        sa: this.#d.sa,
        challengeTypesFor: (identifier, wildcard) => this.#d.va.challengeTypesFor(identifier, wildcard),
        pendingAuthorizationLifetime: this.#d.policy.pendingAuthorizationLifetime,
        validAuthorizationLifetime: this.#d.policy.validAuthorizationLifetime,
        subdomainAuthAllowed: this.#d.policy.subdomainAuthAllowed,
      },
      account,
      ids,
      profile,
      now,
      errors,
    );

    if (errors.length > 0)
      throw combineErrors(errors, 'the CA will not issue for some identifiers of the order');
    const order: Order = {
      id: newId(),
      accountId: account.id,
      status: 'pending',
      identifiers: ids.map((i) => i.identifier),
      authorizationIds,
      notBefore,
      notAfter,
      expiresAt: now + this.#d.policy.orderLifetime,
      error: null,
      certificateId: null,
      profile: profile?.id ?? null,
      createdAt: now,
    };
    const newPending = created.filter((a) => a.status === 'pending').length;
    await this.#d.rateLimits?.checkNewOrder(account, order.identifiers, newPending, origin);
    const extension = await this.#d.renewals?.prepareOrder(account, p, order.identifiers);
    await this.#d.renewals?.recordOrder(order.id, extension);
    await this.#d.sa.createOrder(
      order,
      created,
      auditEvent(
        audit,
        now,
        'order.created',
        { type: 'order', id: order.id },
        {
          details: {
            account: account.id,
            identifiers: order.identifiers,
            profile: order.profile,
            authorizations: order.authorizationIds,
            newAuthorizations: created.map((a) => a.id),
          },
        },
      ),
    );
    return { order, status: created.some((a) => a.status === 'pending') ? 'pending' : 'ready' };
  }

  /**
   * Profiles restricted by external account binding (docs/eab.md): a profile listing `eab_keys` serves
   * only accounts bound with one of them, and an account bound with a key that grants `profiles` may
   * use only those.
   */
  async #checkProfileAllowed(account: Account, profile: IssuanceProfile | undefined): Promise<void> {
    if (
      profile &&
      profile.eabKeys.length > 0 &&
      (account.eabKid === undefined || !profile.eabKeys.includes(account.eabKid))
    ) {
      throw new AcmeError(
        'invalidProfile',
        `profile "${profile.id}" is reserved for accounts bound with particular external account keys`,
      );
    }
    if (account.eabKid === undefined) return;
    const granted = await this.#d.eab?.grantedProfiles(account);
    if (granted && !(profile && granted.includes(profile.id))) {
      throw new AcmeError(
        'invalidProfile',
        `the external account key that bound this account grants only the profiles ${granted.join(', ')}`,
      );
    }
  }

  #checkValidityRequest(
    notBefore: number | null,
    notAfter: number | null,
    now: number,
    profile: IssuanceProfile | undefined,
  ): void {
    const max = profile?.validity ?? this.#d.policy.certificateValidity;
    const start = notBefore ?? now;
    if (notAfter !== null && notAfter <= start) throw malformed('notAfter must be later than notBefore');
    if (notAfter !== null && notAfter <= now) throw malformed('notAfter is in the past');
    if (notAfter !== null && notAfter - start > max) {
      throw malformed(
        `the requested validity is longer than the ${Math.round(max / 86_400_000)} days this CA issues`,
      );
    }
    if (notBefore !== null && notBefore > now + this.#d.policy.orderLifetime) {
      throw malformed('notBefore is later than this order could be finalized');
    }
  }

  /** The order with its authorizations and its status derived per RFC 8555 §7.1.6. */
  async loadOrder(
    order: Order,
  ): Promise<{ order: Order; authorizations: Authorization[]; status: Order['status'] | 'ready' }> {
    const authorizations = await this.#d.sa.getAuthorizations(order.authorizationIds);
    return { order, authorizations, status: orderStatus(order, authorizations, this.#d.clock.now()) };
  }

  // ---- authorizations and challenges (RFC 8555 §7.5) ----

  /**
   * RFC 8555 §7.4.1 pre-authorization: a pending authorization for one identifier, outside any order.
   * RFC 9444 §4.2: with `subdomainAuthAllowed: true` it also authorizes the names below a DNS name. The
   * CA policy (`[policy]`) applies; a profile's lists apply when an order uses the authorization.
   */
  async newAuthz(
    account: Account,
    payload: unknown,
    audit: AuditContext = SYSTEM_AUDIT,
  ): Promise<Authorization> {
    const p = asObject(payload, 'new-authz');
    const raw = p.identifier as Record<string, unknown> | undefined;
    if (
      typeof raw !== 'object' ||
      raw === null ||
      typeof raw.type !== 'string' ||
      typeof raw.value !== 'string'
    ) {
      throw malformed('new-authz needs an "identifier" with string "type" and "value"');
    }
    const id = normalizeIdentifier({ type: raw.type, value: raw.value });
    if (id instanceof AcmeError) throw id;
    if (id.wildcard) {
      throw new AcmeError(
        'rejectedIdentifier',
        'pre-authorization cannot be used for wildcard names (RFC 8555 §7.4.1)',
        {
          identifier: id.identifier,
        },
      );
    }
    const sub = p.subdomainAuthAllowed;
    if (sub !== undefined && typeof sub !== 'boolean')
      throw malformed('"subdomainAuthAllowed" must be a boolean');
    if (sub === true && !this.#d.policy.subdomainAuthAllowed) {
      throw new AcmeError('rejectedIdentifier', 'this CA does not authorize ancestor domains (RFC 9444)', {
        identifier: id.identifier,
      });
    }
    if (sub === true && id.identifier.type !== 'dns') {
      throw malformed('"subdomainAuthAllowed" applies only to "dns" identifiers (RFC 9444 §4.1)');
    }
    const refusal = this.#d.profiles.identifierRefusal(id.identifier, undefined);
    if (refusal) throw refusal;
    const types = this.#d.va.challengeTypesFor(id.identifier, false);
    if (types.length === 0) {
      throw new AcmeError(
        'rejectedIdentifier',
        `no challenge type this CA offers can validate ${id.identifier.value}`,
        {
          identifier: id.identifier,
        },
      );
    }
    const now = this.#d.clock.now();
    const authzId = newId();
    const authz: Authorization = {
      id: authzId,
      accountId: account.id,
      identifier: id.identifier,
      wildcard: false,
      ...(sub === true ? { subdomainAuthAllowed: true } : {}),
      status: 'pending',
      expiresAt: now + this.#d.policy.pendingAuthorizationLifetime,
      createdAt: now,
      challenges: types.map((type) => ({
        id: newId(),
        authorizationId: authzId,
        type,
        token: newToken(),
        status: 'pending',
        validatedAt: null,
        error: null,
      })),
    };
    await this.#d.sa.createAuthorizations(
      [authz],
      [
        auditEvent(
          audit,
          now,
          'authorization.created',
          { type: 'authorization', id: authz.id },
          {
            details: {
              account: account.id,
              identifier: authz.identifier,
              subdomainAuthAllowed: sub === true,
            },
          },
        ),
      ],
    );
    return authz;
  }

  /** RFC 8555 §7.5.2: a client may deactivate a pending or valid authorization. */
  async updateAuthorization(
    authz: Authorization,
    payload: unknown,
    audit: AuditContext = SYSTEM_AUDIT,
  ): Promise<Authorization> {
    if (payload === undefined) return authz;
    const p = asObject(payload, 'authorization update');
    if (p.status !== 'deactivated') throw malformed('the only status a client may set is "deactivated"');
    const s = authorizationStatus(authz, this.#d.clock.now());
    if (s !== 'pending' && s !== 'valid')
      throw malformed(`an authorization that is ${s} cannot be deactivated`);
    await this.#d.sa.deactivateAuthorization(
      authz.id,
      auditEvent(
        audit,
        this.#d.clock.now(),
        'authorization.deactivated',
        { type: 'authorization', id: authz.id },
        { details: { identifier: authz.identifier, previousStatus: s } },
      ),
    );
    return { ...authz, status: 'deactivated' };
  }

  /**
   * RFC 8555 §7.5.1: the client says it is ready; the challenge becomes processing and the VA validates it
   * in the background. A challenge that is not pending is returned as it is.
   */
  async respondChallenge(
    account: Account,
    authz: Authorization,
    challengeId: string,
    payload?: Record<string, unknown>,
    audit: AuditContext = SYSTEM_AUDIT,
  ): Promise<Authorization> {
    const challenge = authz.challenges.find((c) => c.id === challengeId)!;
    if (challenge.status !== 'pending') return authz;
    const status = authorizationStatus(authz, this.#d.clock.now());
    if (status !== 'pending')
      throw malformed(`the authorization is ${status}; its challenges can no longer be answered`);
    if (!(await this.#d.sa.startChallenge(challengeId, this.#d.clock.now()))) {
      return (await this.#d.sa.getAuthorization(authz.id)) ?? authz;
    }
    this.#validateInBackground(account, authz, challengeId, payload, audit);
    return {
      ...authz,
      challenges: authz.challenges.map((c) => (c.id === challengeId ? { ...c, status: 'processing' } : c)),
    };
  }

  #validateInBackground(
    account: { id: string; thumbprint: string },
    authz: Authorization,
    challengeId: string,
    payload: Record<string, unknown> | undefined,
    audit: AuditContext,
  ): void {
    const challenge = authz.challenges.find((c) => c.id === challengeId)!;
    const run = (async () => {
      const result = await this.#d.va.validate({
        identifier: authz.identifier,
        wildcard: authz.wildcard,
        challengeType: challenge.type,
        token: challenge.token,
        keyAuthorization: keyAuthorization(challenge.token, account.thumbprint),
        accountId: account.id,
        accountUrl: this.#d.accountUrl(account.id),
        ...(payload ? { payload } : {}),
        authorizationCreatedAt: authz.createdAt,
      });
      const outcome = outcomeProblem(result);
      const at = this.#d.clock.now();
      // A success may cap the authorization's life (dns-persist-01 persistUntil).
      const cap = result !== undefined && !('type' in result) ? result.validUntil : Number.POSITIVE_INFINITY;
      const expiresAt = Math.min(at + this.#d.policy.validAuthorizationLifetime, cap);
      const recorded = await this.#d.sa.recordValidation(
        challengeId,
        authz.id,
        outcome === undefined ? { valid: true, at, expiresAt } : { valid: false, at, error: outcome },
        auditEvent(
          audit,
          at,
          outcome === undefined ? 'authorization.validated' : 'authorization.invalid',
          { type: 'authorization', id: authz.id },
          {
            outcome: outcome === undefined ? 'success' : 'failure',
            detail: outcome === undefined ? null : (outcome.detail ?? outcome.type),
            details: {
              account: account.id,
              identifier: authz.identifier,
              challenge: challengeId,
              challengeType: challenge.type,
              ...(outcome === undefined ? { expires: expiresAt } : { problemType: outcome.type }),
            },
          },
        ),
      );
      if (!recorded) return undefined;
      this.#d.metrics?.validation(challenge.type, outcome === undefined ? 'valid' : 'invalid');
      if (outcome !== undefined)
        await this.#d.rateLimits?.recordFailedValidation(account.id, authz.identifier);
      // The authorization as it now stands, for a poll waiting on this validation.
      const updated: Authorization = {
        ...authz,
        status: outcome === undefined ? 'valid' : 'invalid',
        expiresAt: outcome === undefined ? expiresAt : authz.expiresAt,
        challenges: authz.challenges.map((c) =>
          c.id !== challengeId
            ? c
            : outcome === undefined
              ? { ...c, status: 'valid', validatedAt: at, error: null }
              : { ...c, status: 'invalid', error: outcome },
        ),
      };
      return updated;
    })().catch((e) => {
      this.#d.onBackgroundError(e, `validation of challenge ${challengeId}`);
      return undefined;
    });
    this.#validations.set(authz.id, run);
    void run.finally(() => {
      if (this.#validations.get(authz.id) === run) this.#validations.delete(authz.id);
    });
  }

  /** Extra fields of a challenge object that its type defines (RFC 9799 `nonce`, RFC 9447 `tkauth-type`). */
  challengeFields(challenge: { type: string; token: string }): Record<string, unknown> {
    return this.#d.va.challengeFields(challenge.type, challenge.token);
  }

  /**
   * Validates again every challenge whose validation began before `abandonedBefore` and never ended (a
   * crash, or a node of the cluster that died); each is claimed by exactly one node.
   */
  async resumeValidations(abandonedBefore: number): Promise<number> {
    const left = await this.#d.sa.claimAbandonedChallenges(abandonedBefore, this.#d.clock.now());
    for (const { challenge, authorization } of left) {
      const account = await this.#d.sa.getAccount(authorization.accountId);
      if (!account) continue;
      this.#validateInBackground(account, authorization, challenge.id, undefined, this.#nodeAudit());
    }
    return left.length;
  }

  /**
   * Waits, at most `maxWaitMs`, for a validation of this authorization that runs in this process, so a
   * client polling the authorization learns the outcome as soon as there is one instead of at its next
   * poll. Resolves to the authorization as the validation left it, or undefined when none runs here, the
   * wait ran out, or the outcome was not recorded (the caller then reads storage).
   */
  async awaitValidation(authorizationId: string, maxWaitMs: number): Promise<Authorization | undefined> {
    const run = this.#validations.get(authorizationId);
    if (!run || maxWaitMs <= 0) return undefined;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<undefined>((resolve) => {
      timer = setTimeout(() => resolve(undefined), maxWaitMs);
    });
    const updated = await Promise.race([run, timeout]);
    clearTimeout(timer);
    return updated;
  }

  /** Waits for validations under way (shutdown, tests). */
  async drain(): Promise<void> {
    while (this.#validations.size > 0) await Promise.allSettled([...this.#validations.values()]);
  }

  // ---- finalization (RFC 8555 §7.4) ----

  async finalize(
    account: Account,
    accountKey: KeyObject,
    order: Order,
    payload: unknown,
    origin?: RequestOrigin,
    audit: AuditContext = SYSTEM_AUDIT,
  ): Promise<Order> {
    const p = asObject(payload, 'finalize');
    const { status, authorizations } = await this.loadOrder(order);
    if (status !== 'ready') {
      throw new AcmeError('orderNotReady', `the order is ${status}, not ready`);
    }
    if (typeof p.csr !== 'string') throw malformed('finalize needs a "csr" (base64url DER)');
    const der = Buffer.from(p.csr, 'base64url');
    let csr: ReturnType<typeof parseCsr>;
    try {
      csr = parseCsr(der);
    } catch (e) {
      if (e instanceof CsrError) throw new AcmeError('badCSR', `the CSR cannot be parsed: ${e.message}`);
      throw e;
    }
    const names = order.identifiers.filter((i) => i.type !== IDENTIFIER_TYPE_TNAUTHLIST);
    // With a TNAuthList (RFC 9448) the CSR's CN names no identifier and is not copied: ignore it.
    const hasTnAuthList = names.length < order.identifiers.length;
    checkCsrMatchesOrder(hasTnAuthList ? { ...csr, commonName: undefined } : csr, names);
    checkTnAuthListCsr(csr, order.identifiers);
    checkCsrKeyIsNotOnionKey(csr.spki, order.identifiers);
    checkCertificateKey(csr.publicKey);
    checkCsrKeyIsNotAccountKey(csr.publicKey, accountKey);
    const tlsFeatures = requestedTlsFeatures(csr.unknownExtensions);
    const profileFields = this.#profileIssuance(order, csr.publicKey);
    await this.#d.caa?.check(
      order.identifiers.map((identifier) => ({
        identifier,
        method: validationMethodFor(identifier, authorizations),
      })),
      this.#d.accountUrl(account.id),
    );
    const plan = await this.#d.renewals?.prepareFinalize(order, csr);
    const tnAuthList = tnAuthListLeaf(order.identifiers);
    const extraExtensions = [
      ...(tnAuthList.extraExtensions ?? []),
      ...this.#mustStaple(tlsFeatures, profileFields?.leaf.ocspUrl, plan),
    ];

    await this.#d.rateLimits?.checkIssuance(account, order.identifiers, origin);
    const now = this.#d.clock.now();
    if (!(await this.#d.sa.beginFinalize(order.id, now))) {
      throw new AcmeError('orderNotReady', 'the order is already being finalized');
    }
    let certificate: Certificate;
    try {
      const notBefore = plan?.validity?.notBefore ?? order.notBefore ?? now - this.#d.policy.backdate;
      const notAfter =
        plan?.validity?.notAfter ??
        order.notAfter ??
        notBefore + (profileFields?.validity ?? this.#d.policy.certificateValidity);
      const serial = newSerial();
      const der = this.#d.issuer.issue({
        serial,
        spki: csr.spki,
        dnsNames: order.identifiers.filter((i) => i.type === 'dns').map((i) => i.value),
        ipAddresses: order.identifiers.filter((i) => i.type === 'ip').map((i) => i.value),
        notBefore: new Date(notBefore),
        notAfter: new Date(notAfter),
        ...profileFields?.leaf,
        ...tnAuthList,
        ...(extraExtensions.length > 0 ? { extraExtensions } : {}),
      });
      certificate = {
        id: newId(),
        serial: serial.toString('hex'),
        accountId: account.id,
        orderId: order.id,
        pem: derToPem(der),
        notBefore,
        notAfter,
        status: 'valid',
        revokedAt: null,
        revocationReason: null,
        createdAt: now,
      };
      const issued = auditEvent(
        audit,
        now,
        'certificate.issued',
        { type: 'certificate', id: certificate.id },
        {
          details: {
            account: account.id,
            order: order.id,
            serial: certificate.serial,
            identifiers: order.identifiers,
            profile: order.profile,
            notBefore,
            notAfter,
          },
        },
      );
      if (plan) await this.#d.renewals!.completeFinalize(order, certificate, plan, issued);
      else await this.#d.sa.completeFinalize(order.id, certificate, issued);
      this.#d.metrics?.certificateIssued();
    } catch (e) {
      const problem: ProblemJson =
        e instanceof AcmeError
          ? e.toProblem()
          : { type: 'urn:ietf:params:acme:error:serverInternal', detail: 'issuance failed', status: 500 };
      await this.#d.sa.failOrder(
        order.id,
        problem,
        auditEvent(
          audit,
          this.#d.clock.now(),
          'order.invalid',
          { type: 'order', id: order.id },
          {
            outcome: 'failure',
            detail: problem.detail ?? problem.type,
            details: { problemType: problem.type },
          },
        ),
      );
      throw e;
    }
    return { ...order, status: 'valid', certificateId: certificate.id };
  }

  /**
   * The leaf fields finalization writes for this order besides names, key and validity (its profile's
   * KeyUsage, EKUs and CRL/OCSP URLs, TNAuthList), so later certificates of the same order (STAR
   * renewals, RFC 8739) are issued alike.
   */
  leafFieldsFor(order: Order, publicKey: KeyObject): Partial<LeafRequest> {
    return { ...this.#profileIssuance(order, publicKey)?.leaf, ...tnAuthListLeaf(order.identifiers) };
  }

  /**
   * RFC 7633 (core/tls-feature.ts): the TLS Feature extension a CSR asked for, when the certificate will
   * name an OCSP responder for clients to get the staple from. STAR certificates (RFC 8739) are renewed
   * from the first CSR's key alone, so they are not issued with it.
   */
  #mustStaple(
    features: number[] | undefined,
    profileOcspUrl: string | undefined,
    plan?: FinalizePlan,
  ): Buffer[] {
    if (!features) return [];
    if (plan?.star) {
      throw new AcmeError('badCSR', 'OCSP Must-Staple is not issued in STAR (auto-renewal) certificates');
    }
    if (!(profileOcspUrl ?? this.#d.ocspUrl?.())) {
      throw new AcmeError(
        'badCSR',
        'the CSR requests OCSP Must-Staple, but this CA writes no OCSP URL into its certificates',
      );
    }
    return [tlsFeatureExtension(features)];
  }

  /**
   * The rules of the order's profile at finalization: its key types, and the validity, KeyUsage, EKUs
   * and CRL/OCSP URLs it writes. Undefined for an order without a profile (the CA's defaults).
   */
  #profileIssuance(order: Order, publicKey: KeyObject) {
    if (order.profile === null) return undefined;
    const profile = this.#d.profiles.get(order.profile);
    if (!profile) {
      throw new AcmeError('invalidProfile', `the order's profile "${order.profile}" is no longer offered`);
    }
    const key = describeKey(publicKey);
    const refusal = keyTypeRefusal(key, profile.allowedKeyTypes);
    if (refusal) throw new AcmeError('badPublicKey', refusal);
    const keyUsages = keyUsageBitsFor(profile.keyUsages, key.type);
    if (keyUsages.length === 0) {
      throw new AcmeError(
        'badPublicKey',
        `profile "${profile.id}" has no key usage (${profile.keyUsages.join(', ')}) that fits a ${key.type} key`,
      );
    }
    return {
      validity: profile.validity,
      leaf: {
        keyUsages,
        extendedKeyUsages: profile.extendedKeyUsages,
        ...(profile.crlUrl ? { crlUrl: profile.crlUrl } : {}),
        ...(profile.ocspUrl ? { ocspUrl: profile.ocspUrl } : {}),
      },
    };
  }

  // ---- revocation (RFC 8555 §7.6) ----

  /**
   * Revokes when the request is signed by the account that holds the certificate, by an account with valid
   * authorizations for every identifier in it, or by the certificate's own key.
   */
  async revoke(
    signer: { account: Account } | { certificateKey: KeyObject },
    payload: unknown,
    audit: AuditContext = SYSTEM_AUDIT,
  ): Promise<void> {
    const p = asObject(payload, 'revoke-cert');
    if (typeof p.certificate !== 'string')
      throw malformed('revoke-cert needs a "certificate" (base64url DER)');
    const reason = parseRevocationReason(p.reason);
    let cert: X509Certificate;
    try {
      cert = new X509Certificate(Buffer.from(p.certificate, 'base64url'));
    } catch {
      throw malformed('"certificate" is not a DER certificate');
    }
    const serial = cert.serialNumber.toLowerCase().padStart(2, '0');
    const stored = await this.#d.sa.getCertificateBySerial(serial);
    if (!stored || !new X509Certificate(stored.pem).raw.equals(cert.raw)) {
      throw new AcmeError('malformed', 'the certificate was not issued by this CA', { status: 404 });
    }
    if (stored.status === 'revoked')
      throw new AcmeError('alreadyRevoked', 'the certificate is already revoked');
    if ('certificateKey' in signer) {
      if (!signer.certificateKey.equals(cert.publicKey))
        throw unauthorized("the JWS key is not the certificate's key");
    } else if (signer.account.id !== stored.accountId) {
      await this.#checkAuthorizedForAll(signer.account, certificateIdentifiers(cert));
    }
    const at = this.#d.clock.now();
    if (
      !(await this.#d.sa.revokeCertificate(stored.id, reason, at, revokedEvent(audit, at, stored, reason)))
    ) {
      throw new AcmeError('alreadyRevoked', 'the certificate is already revoked');
    }
    this.#d.onRevoked?.(stored.serial);
  }

  /**
   * An operator's revocation (the admin API, docs/admin-api.md): any certificate of this CA by serial
   * (lower-case hex), with a reason RFC 8555 §7.6 accepts; CRLs and OCSP learn of it as for revoke().
   */
  async revokeBySerial(
    serial: string,
    reason: unknown,
    audit: AuditContext = SYSTEM_AUDIT,
  ): Promise<Certificate> {
    const code = parseRevocationReason(reason);
    const stored = await this.#d.sa.getCertificateBySerial(serial);
    if (!stored) throw new AcmeError('malformed', 'no such certificate', { status: 404 });
    const at = this.#d.clock.now();
    if (
      stored.status === 'revoked' ||
      !(await this.#d.sa.revokeCertificate(stored.id, code, at, revokedEvent(audit, at, stored, code)))
    ) {
      throw new AcmeError('alreadyRevoked', 'the certificate is already revoked');
    }
    this.#d.onRevoked?.(stored.serial);
    return (await this.#d.sa.getCertificate(stored.id)) ?? stored;
  }

  /** The context of work this node starts on its own (validations resumed after a crash). */
  #nodeAudit(): AuditContext {
    return this.#d.nodeId ? { actor: `node:${this.#d.nodeId}`, source: null } : SYSTEM_AUDIT;
  }

  async #checkAuthorizedForAll(account: Account, identifiers: Identifier[]): Promise<void> {
    const now = this.#d.clock.now();
    const valid = await this.#d.sa.findValidAuthorizations(
      account.id,
      identifiers.map((i) => ({ type: i.type, value: i.value.replace(/^\*\./, '') })),
      now,
    );
    const missing = identifiers.filter(
      (i) =>
        !valid.some(
          (a) =>
            // Only a challenge proves control: trust_authenticated authorizations have none.
            a.challenges.some((c) => c.status === 'valid') &&
            a.identifier.type === i.type &&
            a.identifier.value === i.value.replace(/^\*\./, '') &&
            a.wildcard === i.value.startsWith('*.'),
        ),
    );
    if (missing.length > 0) {
      throw unauthorized(
        `the account neither holds the certificate nor has valid authorizations for ${missing.map((i) => i.value).join(', ')}`,
      );
    }
  }
}

/** RFC 9448 §6: a TNAuthList identifier becomes the certificate's TNAuthList extension. */
function tnAuthListLeaf(identifiers: Identifier[]): { extraExtensions?: Buffer[]; commonName?: string } {
  const extraExtensions = tnAuthListExtensions(identifiers);
  if (extraExtensions.length === 0) return {};
  // Without a DNS name there is no CN to take; RFC 5280 §4.1.2.6 wants a subject when there is no SAN.
  return identifiers.some((i) => i.type === 'dns')
    ? { extraExtensions }
    : { extraExtensions, commonName: 'TNAuthList' };
}

function revokedEvent(audit: AuditContext, at: number, cert: Certificate, reason: number) {
  return auditEvent(
    audit,
    at,
    'certificate.revoked',
    { type: 'certificate', id: cert.id },
    {
      details: { serial: cert.serial, reason, account: cert.accountId },
    },
  );
}

function asObject(payload: unknown, what: string): Record<string, unknown> {
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) {
    throw malformed(`the ${what} payload must be a JSON object`);
  }
  return payload as Record<string, unknown>;
}

/** The dNSName and iPAddress SANs of a certificate. */
function certificateIdentifiers(cert: X509Certificate): Identifier[] {
  const out: Identifier[] = [];
  for (const part of (cert.subjectAltName ?? '').split(', ')) {
    if (part.startsWith('DNS:')) out.push({ type: 'dns', value: part.slice(4).toLowerCase() });
    else if (part.startsWith('IP Address:'))
      out.push({ type: 'ip', value: canonicalIp(part.slice(11)) ?? part.slice(11) });
  }
  return out;
}
