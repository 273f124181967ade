import { createHash } from 'node:crypto';
import { type AuditContext, type AuditEvent, auditEvent } from '../core/audit.ts';

/** Keys whose values are secrets: never written to the audit log (nor hashed into its digest). */
const SECRET_KEY = /(^|_)(secret|hmac_key|password|token|private_key)$/;

/**
 * The configuration as the audit log keeps it: secrets replaced by "[redacted]", and any password in a
 * URL (database.url) removed.
 */
export function redactConfig(value: unknown, key = ''): unknown {
  if (SECRET_KEY.test(key)) return value === '' || value === undefined ? value : '[redacted]';
  if (Array.isArray(value)) return value.map((v) => redactConfig(v));
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(
      Object.keys(value)
        .sort()
        .map((k) => [k, redactConfig((value as Record<string, unknown>)[k], k)]),
    );
  }
  if (typeof value === 'string' && /^[a-z][a-z0-9+.-]*:\/\/[^/@]*:[^/@]*@/i.test(value)) {
    try {
      const u = new URL(value);
      if (u.password) u.password = 'redacted';
      return u.toString();
    } catch {
      return value;
    }
  }
  return value;
}

/** Dotted paths whose values differ between two redacted configurations. */
export function changedKeys(before: unknown, after: unknown, prefix = ''): string[] {
  const isObj = (v: unknown) => typeof v === 'object' && v !== null && !Array.isArray(v);
  if (isObj(before) && isObj(after)) {
    const b = before as Record<string, unknown>;
    const a = after as Record<string, unknown>;
    const keys = [...new Set([...Object.keys(b), ...Object.keys(a)])].sort();
    return keys.flatMap((k) => changedKeys(b[k], a[k], prefix ? `${prefix}.${k}` : k));
  }
  return JSON.stringify(before) === JSON.stringify(after) ? [] : [prefix || '(root)'];
}

/**
 * config.loaded, written at every start: the redacted configuration, its SHA-256, and the keys that
 * changed since the previous config.loaded (null on the first start). A key holding a secret counts as
 * changed only when it is set or cleared, since its value is never stored.
 */
export function configLoadedEvent(
  config: unknown,
  previous: { details: Record<string, unknown> | null } | undefined,
  ctx: AuditContext,
  at: number,
): AuditEvent {
  const redacted = redactConfig(config);
  const digest = createHash('sha256').update(JSON.stringify(redacted)).digest('hex');
  const before = previous?.details?.config;
  return auditEvent(
    ctx,
    at,
    'config.loaded',
    { type: 'config', id: 'akamu' },
    {
      details: {
        digest,
        changed: before === undefined ? null : changedKeys(before, redacted),
        config: redacted,
      },
    },
  );
}
