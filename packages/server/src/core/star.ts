import { malformed } from '../errors.ts';
import { parseTimestamp } from './timestamp.ts';

/** RFC 8739 (STAR): the auto-renewal request of a new order and the schedule of its certificates. */

export interface StarPolicy {
  /** meta.auto-renewal.min-lifetime, ms. */
  minLifetime: number;
  /** meta.auto-renewal.max-duration, ms. */
  maxDuration: number;
  /** meta.auto-renewal.allow-certificate-get. */
  allowCertificateGet: boolean;
  /** The longest certificate the CA issues (ca.certificate_validity), ms. */
  maxCertificateValidity: number;
}

/** The auto-renewal object of an order (RFC 8739 §3.1.1). Times in ms; startDate null = at finalization. */
export interface AutoRenewal {
  startDate: number | null;
  endDate: number;
  lifetime: number;
  lifetimeAdjust: number;
  allowCertificateGet: boolean;
}

const seconds = (raw: unknown, field: string, min: number): number => {
  if (typeof raw !== 'number' || !Number.isSafeInteger(raw) || raw < min) {
    throw malformed(`auto-renewal ${field} must be an integer number of seconds ≥ ${min}`);
  }
  return raw * 1000;
};

/**
 * RFC 8739 §3.1.1: validates the `auto-renewal` member of a new-order request against the server's
 * meta.auto-renewal limits (§3.1.2 refusals are `malformed`). `now` bounds the dates.
 */
export function parseAutoRenewal(raw: unknown, policy: StarPolicy, now: number): AutoRenewal {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw malformed('auto-renewal must be a JSON object');
  }
  const r = raw as Record<string, unknown>;
  const known = new Set(['start-date', 'end-date', 'lifetime', 'lifetime-adjust', 'allow-certificate-get']);
  const unknown = Object.keys(r).filter((k) => !known.has(k));
  if (unknown.length > 0) throw malformed(`auto-renewal has unknown members: ${unknown.join(', ')}`);
  const startDate = parseTimestamp(r['start-date'], 'auto-renewal start-date');
  if (r['end-date'] === undefined) throw malformed('auto-renewal needs an end-date');
  const endDate = parseTimestamp(r['end-date'], 'auto-renewal end-date')!;
  if (r.lifetime === undefined) throw malformed('auto-renewal needs a lifetime');
  const lifetime = seconds(r.lifetime, 'lifetime', 1);
  const lifetimeAdjust =
    r['lifetime-adjust'] === undefined ? 0 : seconds(r['lifetime-adjust'], 'lifetime-adjust', 0);
  const allow = r['allow-certificate-get'];
  if (allow !== undefined && typeof allow !== 'boolean') {
    throw malformed('auto-renewal allow-certificate-get must be a boolean');
  }
  if (allow === true && !policy.allowCertificateGet) {
    throw malformed('this CA does not allow unauthenticated GET of STAR certificates');
  }
  const start = startDate ?? now;
  if (lifetime < policy.minLifetime) {
    throw malformed(`auto-renewal lifetime is shorter than the ${policy.minLifetime / 1000} s min-lifetime`);
  }
  if (lifetime + lifetimeAdjust > policy.maxCertificateValidity) {
    throw malformed('auto-renewal lifetime plus lifetime-adjust is longer than this CA issues certificates');
  }
  if (endDate <= now) throw malformed('auto-renewal end-date is in the past');
  if (endDate <= start) throw malformed('auto-renewal end-date must be later than start-date');
  if (endDate - start > policy.maxDuration) {
    throw malformed(`auto-renewal lasts longer than the ${policy.maxDuration / 1000} s max-duration`);
  }
  return { startDate, endDate, lifetime, lifetimeAdjust, allowCertificateGet: allow === true };
}

/** The wire form (RFC 8739 §3.1.1), as echoed in the order object. */
export function autoRenewalToJson(a: AutoRenewal, startDate: number | null): Record<string, unknown> {
  const json: Record<string, unknown> = {
    'end-date': new Date(a.endDate).toISOString(),
    lifetime: a.lifetime / 1000,
  };
  const start = startDate ?? a.startDate;
  if (start !== null) json['start-date'] = new Date(start).toISOString();
  if (a.lifetimeAdjust > 0) json['lifetime-adjust'] = a.lifetimeAdjust / 1000;
  if (a.allowCertificateGet) json['allow-certificate-get'] = true;
  return json;
}

export interface StarSchedule {
  startDate: number;
  endDate: number;
  lifetime: number;
  lifetimeAdjust: number;
}

/**
 * RFC 8739 §3.1.1: certificate `slot` covers [start + slot·lifetime, start + (slot+1)·lifetime], its
 * notBefore moved earlier by lifetime-adjust, its notAfter never past end-date.
 */
export function starSlotValidity(s: StarSchedule, slot: number): { notBefore: number; notAfter: number } {
  const from = s.startDate + slot * s.lifetime;
  return { notBefore: from - s.lifetimeAdjust, notAfter: Math.min(from + s.lifetime, s.endDate) };
}

/** Whether a slot starts before end-date (the last certificate ends at end-date). */
export function hasSlot(s: StarSchedule, slot: number): boolean {
  return s.startDate + slot * s.lifetime < s.endDate;
}

/** The slot whose validity period contains `at` (0 before start-date). */
export function slotAt(s: StarSchedule, at: number): number {
  return Math.max(0, Math.floor((at - s.startDate) / s.lifetime));
}

/**
 * When the certificate of `slot` is issued: half a lifetime before its period starts, so the client has
 * half of the previous certificate's lifetime to fetch it (RFC 8739 §3.2: a new certificate is available
 * before the previous one expires).
 */
export function starIssueTime(s: StarSchedule, slot: number): number {
  return s.startDate + slot * s.lifetime - Math.floor(s.lifetime / 2);
}
