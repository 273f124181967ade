import type { Kysely } from 'kysely';
import type { AuditEvent } from '../core/audit.ts';
import { setBounded } from '../core/bounded-map.ts';
import type { Certificate } from '../core/types.ts';
import { AcmeError } from '../errors.ts';
import { type AuditPublisher, auditedTransaction } from './audit-storage.ts';
import { CERT_COLUMNS } from './columns.ts';
import { certificateRowToCertificate, certificateToRow } from './converters.ts';
import { isUniqueViolation } from './dialect.ts';
import type { Database } from './tables.ts';

/** Rows of the renewal tables (migration 2026_11_25_020000_create_renewal_tables). */
export interface OrderExtensionsTable {
  order_id: string;
  replaces_certificate_id: string | null;
  replaces_cert_id: string | null;
  delegation_id: string | null;
  auto_renewal: string | null;
  created_at: number;
}
export interface CertificateReplacementsTable {
  certificate_id: string;
  order_id: string;
  replaced_at: number;
}
export interface RenewalWindowsTable {
  certificate_id: string;
  window_start: number;
  window_end: number;
  updated_at: number;
}
export interface StarOrdersTable {
  order_id: string;
  account_id: string;
  status: string;
  start_date: number;
  end_date: number;
  lifetime: number;
  lifetime_adjust: number;
  allow_certificate_get: number;
  next_slot: number;
  next_issue_at: number | null;
  spki: string;
  canceled_at: number | null;
  created_at: number;
}
export interface DelegationsTable {
  id: string;
  account_id: string;
  csr_template: string;
  cname_map: string | null;
  created_at: number;
}
export type RenewalTables = {
  order_extensions: OrderExtensionsTable;
  certificate_replacements: CertificateReplacementsTable;
  renewal_windows: RenewalWindowsTable;
  star_orders: StarOrdersTable;
  delegations: DelegationsTable;
};

/** The RFC 8739/9773/9115 members a new-order request carried. */
export interface OrderExtension {
  orderId: string;
  /** RFC 9773: the replaced certificate (our id) and the certID the client sent. */
  replacesCertificateId: string | null;
  replacesCertId: string | null;
  delegationId: string | null;
  /** RFC 8739 auto-renewal request, as JSON of core/star.ts AutoRenewal. */
  autoRenewal: string | null;
  createdAt: number;
}

/** active: certificates are being issued; ended: the last slot was issued; canceled (RFC 8739 §3.1.2). */
export type StarStatus = 'active' | 'ended' | 'canceled';

export interface StarOrder {
  orderId: string;
  accountId: string;
  status: StarStatus;
  startDate: number;
  endDate: number;
  lifetime: number;
  lifetimeAdjust: number;
  allowCertificateGet: boolean;
  /** The next slot to issue and when (null once the last was issued). */
  nextSlot: number;
  nextIssueAt: number | null;
  /** The CSR's SubjectPublicKeyInfo DER, base64: every certificate of the order carries this key. */
  spki: string;
  canceledAt: number | null;
  createdAt: number;
}

export interface Delegation {
  id: string;
  accountId: string;
  csrTemplate: unknown;
  cnameMap: Record<string, string> | null;
  createdAt: number;
}

/** Storage of the renewal extensions. Every multi-row change is one transaction. */
export interface RenewalStorage {
  recordOrderExtension(ext: OrderExtension): Promise<void>;
  /**
   * Told that an order this node is about to create has no extension, so getOrderExtension need not look
   * (an extension row is only ever written before its order exists).
   */
  recordOrderWithoutExtension(orderId: string): void;
  getOrderExtension(orderId: string): Promise<OrderExtension | undefined>;
  /** Ids of the orders whose `replaces` named this certificate. */
  listReplacingOrderIds(certificateId: string): Promise<string[]>;
  getReplacement(certificateId: string): Promise<{ orderId: string; replacedAt: number } | undefined>;
  getRenewalWindow(certificateId: string): Promise<{ start: number; end: number } | undefined>;
  setRenewalWindow(certificateId: string, start: number, end: number, now: number): Promise<void>;
  /**
   * Finalization of an order with extensions, in one transaction: the certificate inserted, the order
   * processing → valid, the replaced certificate marked (alreadyReplaced if another order did first),
   * the STAR schedule stored.
   */
  completeFinalize(
    orderId: string,
    certificate: Certificate,
    extra: { replacesCertificateId: string | null; star: StarOrder | null },
    audit?: AuditEvent,
  ): Promise<void>;
  /** Active STAR orders whose next certificate is due at `now`. */
  dueStarOrders(now: number, limit: number): Promise<StarOrder[]>;
  /**
   * Claims `slot` of a STAR order and inserts its certificate, in one transaction; the conditional update
   * on next_slot makes a slot issued once on any number of processes. False when already claimed. A null
   * certificate only moves the schedule (the order ended while nothing was running).
   */
  issueStarSlot(
    orderId: string,
    slot: number,
    next: { nextSlot: number; nextIssueAt: number | null },
    certificate: Certificate | null,
    /** certificate.renewed, written when the slot was claimed. */
    audit?: AuditEvent,
  ): Promise<boolean>;
  getStarOrder(orderId: string): Promise<StarOrder | undefined>;
  /** active or ended → canceled; false when it was already canceled. */
  cancelStarOrder(orderId: string, at: number, audit?: AuditEvent): Promise<boolean>;
  /** The certificates of an order, oldest notBefore first. */
  orderCertificates(orderId: string): Promise<Certificate[]>;
  createDelegation(d: Delegation): Promise<void>;
  getDelegation(id: string): Promise<Delegation | undefined>;
  listDelegations(accountId: string): Promise<Delegation[]>;
}

const num = (v: unknown) => Number(v);

function starRowToStarOrder(r: StarOrdersTable): StarOrder {
  return {
    orderId: r.order_id,
    accountId: r.account_id,
    status: r.status as StarStatus,
    startDate: num(r.start_date),
    endDate: num(r.end_date),
    lifetime: num(r.lifetime),
    lifetimeAdjust: num(r.lifetime_adjust),
    allowCertificateGet: num(r.allow_certificate_get) === 1,
    nextSlot: num(r.next_slot),
    nextIssueAt: r.next_issue_at === null ? null : num(r.next_issue_at),
    spki: r.spki,
    canceledAt: r.canceled_at === null ? null : num(r.canceled_at),
    createdAt: num(r.created_at),
  };
}
function starOrderToRow(s: StarOrder): StarOrdersTable {
  return {
    order_id: s.orderId,
    account_id: s.accountId,
    status: s.status,
    start_date: s.startDate,
    end_date: s.endDate,
    lifetime: s.lifetime,
    lifetime_adjust: s.lifetimeAdjust,
    allow_certificate_get: s.allowCertificateGet ? 1 : 0,
    next_slot: s.nextSlot,
    next_issue_at: s.nextIssueAt,
    spki: s.spki,
    canceled_at: s.canceledAt,
    created_at: s.createdAt,
  };
}
function delegationRowToDelegation(r: DelegationsTable): Delegation {
  return {
    id: r.id,
    accountId: r.account_id,
    csrTemplate: JSON.parse(r.csr_template),
    cnameMap: r.cname_map === null ? null : JSON.parse(r.cname_map),
    createdAt: num(r.created_at),
  };
}

/** Order extensions remembered per node (see getOrderExtension). */
const EXTENSION_CACHE_SIZE = 10_000;

export class SqlRenewalStorage implements RenewalStorage {
  readonly #db: Kysely<Database & RenewalTables>;
  readonly #publishAudit: AuditPublisher | undefined;
  readonly #extensions = new Map<string, OrderExtension | null>();

  constructor(db: Kysely<Database>, opts: { publishAudit?: AuditPublisher } = {}) {
    this.#db = db.withTables<RenewalTables>();
    this.#publishAudit = opts.publishAudit;
  }

  async recordOrderExtension(ext: OrderExtension): Promise<void> {
    await this.#db
      .insertInto('order_extensions')
      .values({
        order_id: ext.orderId,
        replaces_certificate_id: ext.replacesCertificateId,
        replaces_cert_id: ext.replacesCertId,
        delegation_id: ext.delegationId,
        auto_renewal: ext.autoRenewal,
        created_at: ext.createdAt,
      })
      .execute();
    setBounded(this.#extensions, ext.orderId, Object.freeze({ ...ext }), EXTENSION_CACHE_SIZE);
  }

  recordOrderWithoutExtension(orderId: string): void {
    setBounded(this.#extensions, orderId, null, EXTENSION_CACHE_SIZE);
  }

  /**
   * Read several times per issuance (finalize, every order object), and never changed: the row is written
   * before its order exists (RenewalAuthority.recordOrder) and never updated, so once a caller holds an
   * order, whether it has an extension and what it says are final, on every node. So both answers are
   * remembered here (the oldest forgotten first beyond EXTENSION_CACHE_SIZE orders).
   */
  async getOrderExtension(orderId: string): Promise<OrderExtension | undefined> {
    const cached = this.#extensions.get(orderId);
    if (cached !== undefined) return cached ?? undefined;
    const r = await this.#db
      .selectFrom('order_extensions')
      .selectAll()
      .where('order_id', '=', orderId)
      .executeTakeFirst();
    const ext: OrderExtension | null = r
      ? Object.freeze({
          orderId: r.order_id,
          replacesCertificateId: r.replaces_certificate_id,
          replacesCertId: r.replaces_cert_id,
          delegationId: r.delegation_id,
          autoRenewal: r.auto_renewal,
          createdAt: num(r.created_at),
        })
      : null;
    setBounded(this.#extensions, orderId, ext, EXTENSION_CACHE_SIZE);
    return ext ?? undefined;
  }

  async listReplacingOrderIds(certificateId: string): Promise<string[]> {
    const rows = await this.#db
      .selectFrom('order_extensions')
      .select('order_id')
      .where('replaces_certificate_id', '=', certificateId)
      .execute();
    return rows.map((r) => r.order_id);
  }

  async getReplacement(certificateId: string): Promise<{ orderId: string; replacedAt: number } | undefined> {
    const r = await this.#db
      .selectFrom('certificate_replacements')
      .select(['order_id', 'replaced_at'])
      .where('certificate_id', '=', certificateId)
      .executeTakeFirst();
    return r && { orderId: r.order_id, replacedAt: num(r.replaced_at) };
  }

  async getRenewalWindow(certificateId: string): Promise<{ start: number; end: number } | undefined> {
    const r = await this.#db
      .selectFrom('renewal_windows')
      .select(['window_start', 'window_end'])
      .where('certificate_id', '=', certificateId)
      .executeTakeFirst();
    return r && { start: num(r.window_start), end: num(r.window_end) };
  }

  async setRenewalWindow(certificateId: string, start: number, end: number, now: number): Promise<void> {
    await this.#db.transaction().execute(async (trx) => {
      await trx.deleteFrom('renewal_windows').where('certificate_id', '=', certificateId).execute();
      await trx
        .insertInto('renewal_windows')
        .values({ certificate_id: certificateId, window_start: start, window_end: end, updated_at: now })
        .execute();
    });
  }

  async completeFinalize(
    orderId: string,
    certificate: Certificate,
    extra: { replacesCertificateId: string | null; star: StarOrder | null },
    audit?: AuditEvent,
  ): Promise<void> {
    await auditedTransaction(this.#db, this.#publishAudit, async (trx, record) => {
      await trx.insertInto('certificates').values(certificateToRow(certificate)).execute();
      const r = await trx
        .updateTable('orders')
        .set({ status: 'valid', certificate_id: certificate.id })
        .where('id', '=', orderId)
        .where('status', '=', 'processing')
        .executeTakeFirst();
      if (Number(r.numUpdatedRows) !== 1) throw new Error(`order ${orderId} was not processing`);
      if (extra.replacesCertificateId !== null) {
        try {
          await trx
            .insertInto('certificate_replacements')
            .values({
              certificate_id: extra.replacesCertificateId,
              order_id: orderId,
              replaced_at: certificate.createdAt,
            })
            .execute();
        } catch (e) {
          if (!isUniqueViolation(e)) throw e;
          throw new AcmeError('alreadyReplaced', 'another order replaced this certificate first');
        }
      }
      if (extra.star) await trx.insertInto('star_orders').values(starOrderToRow(extra.star)).execute();
      await record(audit);
    });
  }

  async dueStarOrders(now: number, limit: number): Promise<StarOrder[]> {
    const rows = await this.#db
      .selectFrom('star_orders')
      .selectAll()
      .where('status', '=', 'active')
      .where('next_issue_at', '<=', now)
      .orderBy('next_issue_at')
      .limit(limit)
      .execute();
    return rows.map(starRowToStarOrder);
  }

  async issueStarSlot(
    orderId: string,
    slot: number,
    next: { nextSlot: number; nextIssueAt: number | null },
    certificate: Certificate | null,
    audit?: AuditEvent,
  ): Promise<boolean> {
    return auditedTransaction(this.#db, this.#publishAudit, async (trx, record) => {
      const r = await trx
        .updateTable('star_orders')
        .set({
          next_slot: next.nextSlot,
          next_issue_at: next.nextIssueAt,
          status: next.nextIssueAt === null ? 'ended' : 'active',
        })
        .where('order_id', '=', orderId)
        .where('next_slot', '=', slot)
        .where('status', '=', 'active')
        .executeTakeFirst();
      if (Number(r.numUpdatedRows) !== 1) return false;
      if (certificate) {
        await trx.insertInto('certificates').values(certificateToRow(certificate)).execute();
        await record(audit);
      }
      return true;
    });
  }

  async getStarOrder(orderId: string): Promise<StarOrder | undefined> {
    const r = await this.#db
      .selectFrom('star_orders')
      .selectAll()
      .where('order_id', '=', orderId)
      .executeTakeFirst();
    return r && starRowToStarOrder(r);
  }

  async cancelStarOrder(orderId: string, at: number, audit?: AuditEvent): Promise<boolean> {
    return auditedTransaction(this.#db, this.#publishAudit, async (trx, record) => {
      const r = await trx
        .updateTable('star_orders')
        .set({ status: 'canceled', canceled_at: at, next_issue_at: null })
        .where('order_id', '=', orderId)
        .where('status', 'in', ['active', 'ended'])
        .executeTakeFirst();
      if (Number(r.numUpdatedRows) !== 1) return false;
      await record(audit);
      return true;
    });
  }

  async orderCertificates(orderId: string): Promise<Certificate[]> {
    const rows = await this.#db
      .selectFrom('certificates')
      .select(CERT_COLUMNS)
      .where('order_id', '=', orderId)
      .orderBy('not_before')
      .orderBy('id')
      .execute();
    return rows.map(certificateRowToCertificate);
  }

  async createDelegation(d: Delegation): Promise<void> {
    await this.#db
      .insertInto('delegations')
      .values({
        id: d.id,
        account_id: d.accountId,
        csr_template: JSON.stringify(d.csrTemplate),
        cname_map: d.cnameMap === null ? null : JSON.stringify(d.cnameMap),
        created_at: d.createdAt,
      })
      .execute();
  }

  async getDelegation(id: string): Promise<Delegation | undefined> {
    const r = await this.#db.selectFrom('delegations').selectAll().where('id', '=', id).executeTakeFirst();
    return r && delegationRowToDelegation(r);
  }

  async listDelegations(accountId: string): Promise<Delegation[]> {
    const rows = await this.#db
      .selectFrom('delegations')
      .selectAll()
      .where('account_id', '=', accountId)
      .orderBy('created_at')
      .orderBy('id')
      .execute();
    return rows.map(delegationRowToDelegation);
  }
}
