import { createPublicKey, type KeyObject, X509Certificate } from 'node:crypto';
import type { Identifier, Jwk, ProblemJson } from '@akamu/protocol';
import { derToPem, keyAuthorization } from '@akamu/protocol';
import type { CertificateIssuer } from '../ca/certificate-issuer.ts';
import { newSerial } from '../ca/certificate-issuer.ts';
import { CsrError, parseCsr } from '../ca/csr.ts';
import type { Clock } from '../clock.ts';
import { checkContacts } from '../core/contacts.ts';
import { checkCertificateKey, checkCsrKeyIsNotAccountKey, checkCsrMatchesOrder } from '../core/csr-rules.ts';
import { canonicalIp, parseOrderIdentifiers } from '../core/identifiers.ts';
import { newId, newToken } from '../core/ids.ts';
import { authorizationStatus, orderStatus } from '../core/order-status.ts';
import { parseRevocationReason } from '../core/revocation.ts';
import { parseTimestamp } from '../core/timestamp.ts';
import type { Account, Authorization, Certificate, Order } from '../core/types.ts';
import { AcmeError, combineErrors, malformed, unauthorized } from '../errors.ts';
import type { StorageAuthority } from '../sa/storage-authority.ts';
import type { ValidationAuthority } from '../va/validation-authority.ts';

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
  ): Promise<{ account: Account; created: boolean }> {
    const p = asObject(payload, 'new-account');
    const existing = await this.#d.sa.getAccountByThumbprint(key.thumbprint);
    if (p.onlyReturnExisting === true) {
      if (!existing) throw new AcmeError('accountDoesNotExist', 'no account exists with this key');
      return { account: existing, created: false };
    }
    if (existing) return { account: existing, created: false };
    const contact = checkContacts(p.contact, this.#d.policy.contactSchemes, this.#d.policy.maxContacts);
    if (this.#d.policy.termsOfService && p.termsOfServiceAgreed !== true) {
      throw new AcmeError('malformed', 'you must agree to the terms of service (termsOfServiceAgreed: true)');
    }
    if (this.#d.policy.externalAccountRequired) {
      if (p.externalAccountBinding === undefined) {
        throw new AcmeError('externalAccountRequired', 'this CA requires an external account binding');
      }
      throw new AcmeError('unauthorized', 'the external account binding names an unknown key');
    }
    const account: Account = {
      id: newId(),
      thumbprint: key.thumbprint,
      jwk: key.jwk,
      status: 'valid',
      contact,
      termsOfServiceAgreed: p.termsOfServiceAgreed === true,
      createdAt: this.#d.clock.now(),
    };
    return this.#d.sa.createAccount(account);
  }

  /** RFC 8555 §7.3.2 update and §7.3.6 deactivation. */
  async updateAccount(account: Account, payload: unknown): Promise<Account> {
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
    return (await this.#d.sa.updateAccount(account.id, changes)) ?? account;
  }

  /** RFC 8555 §7.3.5: the inner JWS (already verified with the new key) names the account and its old key. */
  async changeKey(
    account: Account,
    inner: { url: string; payload: unknown; newKey: { jwk: Jwk; thumbprint: string; key: KeyObject } },
    oldKey: KeyObject,
  ): Promise<void> {
    const p = asObject(inner.payload, 'key-change');
    if (p.account !== this.#d.accountUrl(account.id))
      throw malformed('the inner JWS "account" is not the signing account');
    if (typeof p.oldKey !== 'object' || p.oldKey === null)
      throw malformed('the inner JWS must name "oldKey"');
    let old: KeyObject;
    try {
      old = createPublicKey({ key: p.oldKey as import('node:crypto').JsonWebKey, format: 'jwk' });
    } catch {
      throw malformed('"oldKey" is not a JSON Web Key');
    }
    if (!old.equals(oldKey)) throw unauthorized('"oldKey" is not the account\'s current key');
    const r = await this.#d.sa.changeAccountKey(account.id, account.thumbprint, inner.newKey);
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
  async newOrder(account: Account, payload: unknown): Promise<{ order: Order; status: 'pending' | 'ready' }> {
    const p = asObject(payload, 'new-order');
    const now = this.#d.clock.now();
    const { identifiers: ids, errors } = parseOrderIdentifiers(p.identifiers, this.#d.policy.maxIdentifiers);
    const notBefore = parseTimestamp(p.notBefore, 'notBefore');
    const notAfter = parseTimestamp(p.notAfter, 'notAfter');
    this.#checkValidityRequest(notBefore, notAfter, now);
    if (p.profile !== undefined)
      throw new AcmeError('invalidProfile', 'this CA offers no certificate profiles');

    const reusable = await this.#d.sa.findValidAuthorizations(
      account.id,
      ids.map((i) => ({ type: i.identifier.type, value: i.authzValue })),
      now,
    );
    const authorizationIds: string[] = [];
    const created: Authorization[] = [];
    for (const id of ids) {
      const reuse = reusable.find(
        (a) =>
          a.identifier.type === id.identifier.type &&
          a.identifier.value === id.authzValue &&
          a.wildcard === id.wildcard,
      );
      if (reuse) {
        authorizationIds.push(reuse.id);
        continue;
      }
      const authzIdentifier = { type: id.identifier.type, value: id.authzValue };
      const types = this.#d.va.challengeTypesFor(authzIdentifier, id.wildcard);
      if (types.length === 0) {
        errors.push(
          new AcmeError(
            'rejectedIdentifier',
            `no challenge type this CA offers can validate ${id.identifier.value}`,
            {
              identifier: id.identifier,
            },
          ),
        );
        continue;
      }
      const authzId = newId();
      created.push({
        id: authzId,
        accountId: account.id,
        identifier: authzIdentifier,
        wildcard: id.wildcard,
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
      });
      authorizationIds.push(authzId);
    }
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
      profile: null,
      createdAt: now,
    };
    await this.#d.sa.createOrder(order, created);
    return { order, status: created.length === 0 ? 'ready' : 'pending' };
  }

  #checkValidityRequest(notBefore: number | null, notAfter: number | null, now: number): void {
    const max = this.#d.policy.certificateValidity;
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

  /** RFC 8555 §7.5.2: a client may deactivate a pending or valid authorization. */
  async updateAuthorization(authz: Authorization, payload: unknown): Promise<Authorization> {
    if (payload === undefined) return authz;
    const p = asObject(payload, 'authorization update');
    if (p.status !== 'deactivated') throw malformed('the only status a client may set is "deactivated"');
    const s = authorizationStatus(authz, this.#d.clock.now());
    if (s !== 'pending' && s !== 'valid')
      throw malformed(`an authorization that is ${s} cannot be deactivated`);
    await this.#d.sa.deactivateAuthorization(authz.id);
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
  ): Promise<Authorization> {
    const challenge = authz.challenges.find((c) => c.id === challengeId)!;
    if (challenge.status !== 'pending') return authz;
    const status = authorizationStatus(authz, this.#d.clock.now());
    if (status !== 'pending')
      throw malformed(`the authorization is ${status}; its challenges can no longer be answered`);
    if (!(await this.#d.sa.startChallenge(challengeId))) {
      return (await this.#d.sa.getAuthorization(authz.id)) ?? authz;
    }
    this.#validateInBackground(account, authz, challengeId);
    return {
      ...authz,
      challenges: authz.challenges.map((c) => (c.id === challengeId ? { ...c, status: 'processing' } : c)),
    };
  }

  #validateInBackground(
    account: { id: string; thumbprint: string },
    authz: Authorization,
    challengeId: string,
  ): void {
    const challenge = authz.challenges.find((c) => c.id === challengeId)!;
    const run = (async () => {
      const outcome = await this.#d.va.validate({
        identifier: authz.identifier,
        wildcard: authz.wildcard,
        challengeType: challenge.type,
        token: challenge.token,
        keyAuthorization: keyAuthorization(challenge.token, account.thumbprint),
        accountId: account.id,
        accountUrl: this.#d.accountUrl(account.id),
      });
      const at = this.#d.clock.now();
      const expiresAt = at + this.#d.policy.validAuthorizationLifetime;
      const recorded = await this.#d.sa.recordValidation(
        challengeId,
        authz.id,
        outcome === undefined ? { valid: true, at, expiresAt } : { valid: false, at, error: outcome },
      );
      if (!recorded) return undefined;
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

  /** After a restart: validate again every challenge a crash left processing. */
  async resumeValidations(): Promise<number> {
    const left = await this.#d.sa.listProcessingChallenges();
    for (const { challenge, authorization } of left) {
      const account = await this.#d.sa.getAccount(authorization.accountId);
      if (!account) continue;
      this.#validateInBackground(account, authorization, challenge.id);
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

  async finalize(account: Account, accountKey: KeyObject, order: Order, payload: unknown): Promise<Order> {
    const p = asObject(payload, 'finalize');
    const { status } = await this.loadOrder(order);
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
    checkCsrMatchesOrder(csr, order.identifiers);
    checkCertificateKey(csr.publicKey);
    checkCsrKeyIsNotAccountKey(csr.publicKey, accountKey);

    const now = this.#d.clock.now();
    if (!(await this.#d.sa.beginFinalize(order.id, now))) {
      throw new AcmeError('orderNotReady', 'the order is already being finalized');
    }
    let certificate: Certificate;
    try {
      const notBefore = order.notBefore ?? now - this.#d.policy.backdate;
      const notAfter = order.notAfter ?? notBefore + this.#d.policy.certificateValidity;
      const serial = newSerial();
      const der = this.#d.issuer.issue({
        serial,
        spki: csr.spki,
        dnsNames: order.identifiers.filter((i) => i.type === 'dns').map((i) => i.value),
        ipAddresses: order.identifiers.filter((i) => i.type === 'ip').map((i) => i.value),
        notBefore: new Date(notBefore),
        notAfter: new Date(notAfter),
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
      await this.#d.sa.completeFinalize(order.id, certificate);
    } catch (e) {
      const problem: ProblemJson = {
        type: 'urn:ietf:params:acme:error:serverInternal',
        detail: 'issuance failed',
        status: 500,
      };
      await this.#d.sa.failOrder(order.id, problem);
      throw e;
    }
    return { ...order, status: 'valid', certificateId: certificate.id };
  }

  // ---- revocation (RFC 8555 §7.6) ----

  /**
   * Revokes when the request is signed by the account that holds the certificate, by an account with valid
   * authorizations for every identifier in it, or by the certificate's own key.
   */
  async revoke(
    signer: { account: Account } | { certificateKey: KeyObject },
    payload: unknown,
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
    if (!(await this.#d.sa.revokeCertificate(stored.id, reason, this.#d.clock.now()))) {
      throw new AcmeError('alreadyRevoked', 'the certificate is already revoked');
    }
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
