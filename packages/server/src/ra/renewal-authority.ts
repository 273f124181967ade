import { X509Certificate } from 'node:crypto';
import { derToPem, type Identifier } from '@akamu/protocol';
import type { LeafRequest } from '../ca/certificate-issuer.ts';
import { newSerial } from '../ca/certificate-issuer.ts';
import type { ParsedCsr } from '../ca/csr.ts';
import type { Clock } from '../clock.ts';
import { defaultRenewalWindow, parseCertId, pastRenewalWindow, type RenewalWindow } from '../core/ari.ts';
import { type AuditContext, type AuditEvent, auditEvent, SYSTEM_AUDIT } from '../core/audit.ts';
import {
  checkCsrMatchesTemplate,
  checkIdentifiersMatchTemplate,
  parseCsrTemplate,
} from '../core/csr-template.ts';
import { canonicalIp } from '../core/identifiers.ts';
import { newId } from '../core/ids.ts';
import { orderStatus } from '../core/order-status.ts';
import {
  type AutoRenewal,
  autoRenewalToJson,
  hasSlot,
  parseAutoRenewal,
  type StarPolicy,
  type StarSchedule,
  slotAt,
  starIssueTime,
  starSlotValidity,
} from '../core/star.ts';
import type { Account, Certificate, Order } from '../core/types.ts';
import { AcmeError, malformed, notFound, unauthorized } from '../errors.ts';
import type { Delegation, RenewalStorage, StarOrder } from '../sa/renewal-storage.ts';
import type { StorageAuthority } from '../sa/storage-authority.ts';

export interface RenewalPolicy {
  /** RFC 9773 Retry-After, seconds. */
  ariRetryAfterSeconds: number;
  ariExplanationUrl: string;
  star: StarPolicy;
}

export interface RenewalDeps {
  sa: Pick<StorageAuthority, 'getAccount' | 'getAuthorizations' | 'getCertificateBySerial' | 'getOrder'>;
  store: RenewalStorage;
  clock: Clock;
  /** The issuing CA's key identifier: the AKI of every certificate this CA issues (RFC 9773 certID). */
  issuerKeyId: Buffer;
  /** Signs a leaf of this order: the same issuer, and the same extra fields, as its finalization. */
  issue: (req: LeafRequest, order: Order) => Buffer;
  policy: RenewalPolicy;
  /** The delegation id in one of our delegation URLs, else undefined. */
  delegationIdFromUrl: (url: string) => string | undefined;
  onBackgroundError: (err: unknown, what: string) => void;
}

/** What new-order checked and finalization needs (RFC 9773 replaces, RFC 8739 auto-renewal, RFC 9115 delegation). */
export interface PreparedOrderExtension {
  replacesCertificateId: string | null;
  replacesCertId: string | null;
  delegationId: string | null;
  autoRenewal: AutoRenewal | null;
}

export interface FinalizePlan {
  /** The first STAR certificate's validity (RFC 8739), instead of the order's or the default one. */
  validity: { notBefore: number; notAfter: number } | null;
  replacesCertificateId: string | null;
  /** The STAR schedule to store once the first certificate exists. */
  star: ((certificate: Certificate) => StarOrder) | null;
}

/** The extra members of an order object, and its RFC 8739 status once canceled. */
export interface OrderExtensionJson {
  status?: 'canceled';
  replaces?: string;
  delegation?: string;
  'auto-renewal'?: Record<string, unknown>;
  /** Set on STAR orders: the finalize flow's `certificate` becomes `star-certificate`. */
  starCertificate?: boolean;
}

/** The certificate a star-certificate URL serves now, with its validity for Cert-Not-Before/After. */
export interface CurrentStarCertificate {
  pem: string;
  notBefore: number;
  notAfter: number;
}

/** Orders due in one pass of the STAR loop; the rest wait for the next pass. */
const STAR_BATCH = 100;

/**
 * Renewal: ARI (RFC 9773) windows and `replaces`, STAR (RFC 8739) auto-renewal and its background issuance,
 * and RFC 9115 delegations. The RegistrationAuthority calls the order hooks; the WFE calls the rest.
 */
export class RenewalAuthority {
  readonly #d: RenewalDeps;

  constructor(deps: RenewalDeps) {
    this.#d = deps;
  }

  // ---- ARI (RFC 9773) ----

  async #certificateByCertId(text: unknown): Promise<Certificate | undefined> {
    const id = parseCertId(text);
    if (!id.keyId.equals(this.#d.issuerKeyId)) return undefined;
    return this.#d.sa.getCertificateBySerial(id.serialHex);
  }

  /**
   * RFC 9773 §4.2: the suggested window of a certificate: in the past when it is revoked (§4.2, renew at
   * once), the operator's window when one was set, else two thirds to five sixths of its validity.
   */
  async renewalInfo(certId: string): Promise<{ body: Record<string, unknown>; retryAfterSeconds: number }> {
    const cert = await this.#certificateByCertId(certId);
    if (!cert) throw notFound('certificate with this certificate identifier');
    let window: RenewalWindow;
    if (cert.status === 'revoked') window = pastRenewalWindow(cert.revokedAt ?? this.#d.clock.now());
    else
      window =
        (await this.#d.store.getRenewalWindow(cert.id)) ??
        defaultRenewalWindow(cert.notBefore, cert.notAfter);
    const body: Record<string, unknown> = {
      suggestedWindow: {
        start: new Date(window.start).toISOString(),
        end: new Date(window.end).toISOString(),
      },
    };
    if (this.#d.policy.ariExplanationUrl) body.explanationURL = this.#d.policy.ariExplanationUrl;
    return { body, retryAfterSeconds: this.#d.policy.ariRetryAfterSeconds };
  }

  /**
   * For operators (the admin API exposes it): moves a certificate's renewal window, e.g. into the past to
   * make its holder renew at once. `serial` is hex as stored; start must precede end.
   */
  async setRenewalWindow(serial: string, start: number, end: number): Promise<void> {
    const isTime = (t: number) => Number.isSafeInteger(t) && !Number.isNaN(new Date(t).getTime());
    if (!isTime(start) || !isTime(end) || start >= end) {
      throw malformed('a renewal window needs a start before its end, both valid times');
    }
    const cert = await this.#d.sa.getCertificateBySerial(serial.toLowerCase());
    if (!cert) throw notFound('certificate');
    await this.#d.store.setRenewalWindow(cert.id, start, end, this.#d.clock.now());
  }

  // ---- new-order (RFC 9773 §5, RFC 8739 §3.1.1, RFC 9115 §2.3.2) ----

  /** Checks the extension members of a new-order payload; undefined when it has none. */
  async prepareOrder(
    account: Account,
    p: Record<string, unknown>,
    identifiers: Identifier[],
  ): Promise<PreparedOrderExtension | undefined> {
    if (p.replaces === undefined && p['auto-renewal'] === undefined && p.delegation === undefined)
      return undefined;
    const now = this.#d.clock.now();
    const out: PreparedOrderExtension = {
      replacesCertificateId: null,
      replacesCertId: null,
      delegationId: null,
      autoRenewal: null,
    };
    if (p.replaces !== undefined) {
      out.replacesCertificateId = await this.#checkReplaces(account, p.replaces, identifiers);
      out.replacesCertId = p.replaces as string;
    }
    if (p['auto-renewal'] !== undefined) {
      // RFC 8739 §3.1.1: the validity comes from auto-renewal; notBefore/notAfter must be absent.
      if (p.notBefore !== undefined || p.notAfter !== undefined) {
        throw malformed('an auto-renewal order must not carry notBefore or notAfter');
      }
      out.autoRenewal = parseAutoRenewal(p['auto-renewal'], this.#d.policy.star, now);
    }
    if (p.delegation !== undefined) {
      const delegation = await this.#ownDelegation(account, p.delegation);
      const template = parseCsrTemplate(delegation.csrTemplate);
      checkIdentifiersMatchTemplate(
        identifiers.filter((i) => i.type === 'dns').map((i) => i.value),
        template,
      );
      if (identifiers.some((i) => i.type !== 'dns')) {
        throw malformed('a delegated order may only name dns identifiers (RFC 9115 §4)');
      }
      out.delegationId = delegation.id;
    }
    return out;
  }

  /**
   * RFC 9773 §5: `replaces` must name a certificate of this CA held by the same account, sharing an
   * identifier with the order, and not already marked as replaced by another order that is not invalid
   * (409 alreadyReplaced): neither a valid replacement nor one still pending, ready or processing.
   */
  async #checkReplaces(account: Account, raw: unknown, identifiers: Identifier[]): Promise<string> {
    const cert = await this.#certificateByCertId(raw);
    if (!cert) throw malformed('"replaces" does not name a certificate issued by this CA');
    if (cert.accountId !== account.id)
      throw unauthorized('the replaced certificate belongs to another account');
    if (await this.#d.store.getReplacement(cert.id)) {
      throw new AcmeError('alreadyReplaced', 'the certificate named by "replaces" has already been replaced');
    }
    for (const orderId of await this.#d.store.listReplacingOrderIds(cert.id)) {
      const other = await this.#d.sa.getOrder(orderId);
      if (!other) continue;
      const authorizations = await this.#d.sa.getAuthorizations(other.authorizationIds);
      if (orderStatus(other, authorizations, this.#d.clock.now()) !== 'invalid') {
        throw new AcmeError(
          'alreadyReplaced',
          `the certificate named by "replaces" is already being replaced by order ${orderId}`,
        );
      }
    }
    const names = certificateIdentifiers(cert.pem);
    if (!identifiers.some((i) => names.some((n) => n.type === i.type && n.value === i.value))) {
      throw malformed('the order shares no identifier with the certificate it replaces');
    }
    return cert.id;
  }

  async #ownDelegation(account: Account, url: unknown): Promise<Delegation> {
    const id = typeof url === 'string' ? this.#d.delegationIdFromUrl(url) : undefined;
    if (id === undefined)
      throw malformed('"delegation" must be the URL of one of the account\'s delegations');
    const delegation = await this.#d.store.getDelegation(id);
    if (!delegation) throw malformed('"delegation" names no delegation');
    if (delegation.accountId !== account.id) throw unauthorized('the delegation belongs to another account');
    return delegation;
  }

  /**
   * Stored before the order itself, so an order never exists without its extension row. An order without
   * extensions is only noted, so that reading its extension later asks no one.
   */
  async recordOrder(orderId: string, prepared: PreparedOrderExtension | undefined): Promise<void> {
    if (!prepared) {
      this.#d.store.recordOrderWithoutExtension(orderId);
      return;
    }
    await this.#d.store.recordOrderExtension({
      orderId,
      replacesCertificateId: prepared.replacesCertificateId,
      replacesCertId: prepared.replacesCertId,
      delegationId: prepared.delegationId,
      autoRenewal: prepared.autoRenewal ? JSON.stringify(prepared.autoRenewal) : null,
      createdAt: this.#d.clock.now(),
    });
  }

  // ---- finalize ----

  /**
   * Checks a ready order's extensions before it is signed: the replaced certificate is still unreplaced,
   * the CSR fits the delegation's template (RFC 9115 §4, badCSR), and a STAR order's first certificate
   * covers the slot of now (RFC 8739 §3.1.1). Undefined for an order without extensions.
   */
  async prepareFinalize(order: Order, csr: ParsedCsr): Promise<FinalizePlan | undefined> {
    const ext = await this.#d.store.getOrderExtension(order.id);
    if (!ext) return undefined;
    if (ext.replacesCertificateId && (await this.#d.store.getReplacement(ext.replacesCertificateId))) {
      throw new AcmeError('alreadyReplaced', 'the certificate this order replaces has already been replaced');
    }
    if (ext.delegationId) {
      const delegation = await this.#d.store.getDelegation(ext.delegationId);
      if (!delegation) throw new AcmeError('badCSR', 'the delegation of this order no longer exists');
      checkCsrMatchesTemplate(csr, parseCsrTemplate(delegation.csrTemplate));
    }
    const plan: FinalizePlan = {
      validity: null,
      replacesCertificateId: ext.replacesCertificateId,
      star: null,
    };
    if (ext.autoRenewal) {
      const ar = JSON.parse(ext.autoRenewal) as AutoRenewal;
      const now = this.#d.clock.now();
      const schedule: StarSchedule = { ...ar, startDate: ar.startDate ?? now };
      if (!hasSlot(schedule, slotAt(schedule, now))) {
        throw malformed('the auto-renewal end-date has passed; place a new order');
      }
      const slot = slotAt(schedule, now);
      plan.validity = starSlotValidity(schedule, slot);
      const spki = csr.spki.toString('base64');
      plan.star = (certificate) => ({
        orderId: order.id,
        accountId: order.accountId,
        status: hasSlot(schedule, slot + 1) ? 'active' : 'ended',
        startDate: schedule.startDate,
        endDate: schedule.endDate,
        lifetime: schedule.lifetime,
        lifetimeAdjust: schedule.lifetimeAdjust,
        allowCertificateGet: ar.allowCertificateGet,
        nextSlot: slot + 1,
        nextIssueAt: hasSlot(schedule, slot + 1) ? starIssueTime(schedule, slot + 1) : null,
        spki,
        canceledAt: null,
        createdAt: certificate.createdAt,
      });
    }
    return plan;
  }

  /** processing → valid with the certificate, the replacement mark and the STAR schedule, in one transaction. */
  async completeFinalize(
    order: Order,
    certificate: Certificate,
    plan: FinalizePlan,
    audit?: AuditEvent,
  ): Promise<void> {
    await this.#d.store.completeFinalize(
      order.id,
      certificate,
      {
        replacesCertificateId: plan.replacesCertificateId,
        star: plan.star ? plan.star(certificate) : null,
      },
      audit,
    );
  }

  // ---- order objects ----

  /** The order's extension members for its JSON (RFC 9773 replaces, RFC 8739, RFC 9115). */
  async orderJson(order: Order): Promise<OrderExtensionJson | undefined> {
    const ext = await this.#d.store.getOrderExtension(order.id);
    if (!ext) return undefined;
    const json: OrderExtensionJson = {};
    if (ext.replacesCertId) json.replaces = ext.replacesCertId;
    if (ext.delegationId) json.delegation = ext.delegationId;
    if (ext.autoRenewal) {
      const ar = JSON.parse(ext.autoRenewal) as AutoRenewal;
      const star = await this.#d.store.getStarOrder(order.id);
      json['auto-renewal'] = autoRenewalToJson(ar, star?.startDate ?? null);
      json.starCertificate = true;
      if (star?.status === 'canceled') json.status = 'canceled';
    }
    return json;
  }

  /**
   * RFC 8739 §3.1.2: `{"status": "canceled"}` posted to a valid STAR order stops its renewals; anything
   * else is autoRenewalCancellationInvalid (or malformed for another payload).
   */
  async cancel(order: Order, payload: unknown, audit: AuditContext = SYSTEM_AUDIT): Promise<void> {
    if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) {
      throw malformed('the order update payload must be a JSON object');
    }
    if ((payload as Record<string, unknown>).status !== 'canceled') {
      throw malformed('the only update of an order is {"status": "canceled"} (RFC 8739 §3.1.2)');
    }
    const star = await this.#d.store.getStarOrder(order.id);
    if (!star) {
      throw new AcmeError(
        'autoRenewalCancellationInvalid',
        'only a valid auto-renewal order can be canceled',
      );
    }
    const at = this.#d.clock.now();
    if (!(await this.#d.store.cancelStarOrder(order.id, at, canceledEvent(audit, at, order.id, 'client')))) {
      throw new AcmeError('autoRenewalCancellationInvalid', 'the auto-renewal order is already canceled');
    }
  }

  /**
   * RFC 8739 §3.3/§3.4: the certificate a star-certificate URL serves now: the newest whose period has
   * begun, else the first. Unauthenticated (account undefined) only when the order allowed it.
   */
  async starCertificate(orderId: string, account: Account | undefined): Promise<CurrentStarCertificate> {
    const star = await this.#d.store.getStarOrder(orderId);
    if (!star) throw notFound('STAR certificate');
    if (account === undefined) {
      if (!star.allowCertificateGet) {
        throw unauthorized('this STAR order did not ask for unauthenticated GET; use POST-as-GET');
      }
    } else if (account.id !== star.accountId) {
      throw unauthorized('the STAR certificate belongs to another account');
    }
    if (star.status === 'canceled')
      throw new AcmeError('autoRenewalCanceled', 'the STAR order has been canceled');
    const now = this.#d.clock.now();
    if (now >= star.endDate)
      throw new AcmeError('autoRenewalExpired', 'the STAR order has passed its end-date');
    const certs = await this.#d.store.orderCertificates(orderId);
    const current = certs.filter((c) => c.notBefore <= now).at(-1) ?? certs[0];
    if (!current) throw notFound('STAR certificate');
    return { pem: current.pem, notBefore: current.notBefore, notAfter: current.notAfter };
  }

  // ---- the STAR loop (RFC 8739 §3.1.3) ----

  /**
   * Issues every STAR certificate that is due. A slot missed while no process ran is skipped in favour of
   * the slot of now. Each slot is claimed with a conditional update in the transaction that inserts its
   * certificate, so it is issued once however many passes or processes run. Returns how many were issued.
   */
  async renewDue(): Promise<number> {
    const now = this.#d.clock.now();
    let issued = 0;
    for (const star of await this.#d.store.dueStarOrders(now, STAR_BATCH)) {
      try {
        if (await this.#renewOne(star, now)) issued++;
      } catch (e) {
        this.#d.onBackgroundError(e, `STAR renewal of order ${star.orderId}`);
      }
    }
    return issued;
  }

  async #renewOne(star: StarOrder, now: number): Promise<boolean> {
    const schedule: StarSchedule = star;
    const slot = Math.max(star.nextSlot, slotAt(schedule, now));
    if (!hasSlot(schedule, slot)) {
      await this.#d.store.issueStarSlot(
        star.orderId,
        star.nextSlot,
        { nextSlot: slot, nextIssueAt: null },
        null,
      );
      return false;
    }
    // Renewals stop with the account: a deactivated or revoked account's orders are canceled.
    const account = await this.#d.sa.getAccount(star.accountId);
    if (account?.status !== 'valid') {
      await this.#d.store.cancelStarOrder(
        star.orderId,
        now,
        canceledEvent(SYSTEM_AUDIT, now, star.orderId, `account ${account?.status ?? 'missing'}`),
      );
      return false;
    }
    const order = await this.#d.sa.getOrder(star.orderId);
    if (!order) return false;
    const { notBefore, notAfter } = starSlotValidity(schedule, slot);
    const serial = newSerial();
    const der = this.#d.issue(
      {
        serial,
        spki: Buffer.from(star.spki, 'base64'),
        dnsNames: order.identifiers.filter((i) => i.type === 'dns').map((i) => i.value),
        ipAddresses: order.identifiers.filter((i) => i.type === 'ip').map((i) => i.value),
        notBefore: new Date(notBefore),
        notAfter: new Date(notAfter),
      },
      order,
    );
    const certificate: Certificate = {
      id: newId(),
      serial: serial.toString('hex'),
      accountId: star.accountId,
      orderId: star.orderId,
      pem: derToPem(der),
      notBefore,
      notAfter,
      status: 'valid',
      revokedAt: null,
      revocationReason: null,
      createdAt: now,
    };
    const next = slot + 1;
    return this.#d.store.issueStarSlot(
      star.orderId,
      star.nextSlot,
      { nextSlot: next, nextIssueAt: hasSlot(schedule, next) ? starIssueTime(schedule, next) : null },
      certificate,
      auditEvent(
        SYSTEM_AUDIT,
        now,
        'certificate.renewed',
        { type: 'certificate', id: certificate.id },
        {
          details: {
            account: star.accountId,
            order: star.orderId,
            serial: certificate.serial,
            slot,
            notBefore,
            notAfter,
          },
        },
      ),
    );
  }

  // ---- delegations (RFC 9115 §2.3.1) ----

  /**
   * For operators (the admin API exposes it; RFC 9115 leaves creation out of band): a delegation of the
   * account with its CSR template and optional cname-map.
   */
  async createDelegation(
    accountId: string,
    input: { csrTemplate: unknown; cnameMap?: Record<string, string> },
  ): Promise<Delegation> {
    parseCsrTemplate(input.csrTemplate);
    const cnameMap = input.cnameMap ?? null;
    if (
      cnameMap !== null &&
      (typeof cnameMap !== 'object' || Object.values(cnameMap).some((v) => typeof v !== 'string'))
    ) {
      throw malformed('cname-map must map names to names');
    }
    const delegation: Delegation = {
      id: newId(),
      accountId,
      csrTemplate: input.csrTemplate,
      cnameMap,
      createdAt: this.#d.clock.now(),
    };
    await this.#d.store.createDelegation(delegation);
    return delegation;
  }

  listDelegations(account: Account): Promise<Delegation[]> {
    return this.#d.store.listDelegations(account.id);
  }

  async getDelegation(account: Account, id: string): Promise<Delegation> {
    const delegation = await this.#d.store.getDelegation(id);
    if (!delegation) throw notFound('delegation');
    if (delegation.accountId !== account.id) throw unauthorized('the delegation belongs to another account');
    return delegation;
  }
}

/** The dNSName and iPAddress SANs of a PEM certificate. */
function certificateIdentifiers(pem: string): Identifier[] {
  const out: Identifier[] = [];
  for (const part of (new X509Certificate(pem).subjectAltName ?? '').split(', ')) {
    if (part.startsWith('DNS:')) out.push({ type: 'dns', value: part.slice(4).toLowerCase() });
    else if (part.startsWith('IP Address:'))
      out.push({ type: 'ip', value: canonicalIp(part.slice(11)) ?? part.slice(11) });
  }
  return out;
}

/** RFC 8739 §3.1.2: a STAR order's renewals stopped (by its client, or because its account ended). */
function canceledEvent(audit: AuditContext, at: number, orderId: string, reason: string) {
  return auditEvent(audit, at, 'order.canceled', { type: 'order', id: orderId }, { details: { reason } });
}
