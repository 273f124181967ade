import { AcmeError } from '../errors.ts';

/** RFC 3339 timestamps in payloads (notBefore, notAfter). */
export function parseTimestamp(raw: unknown, field: string): number | null {
  if (raw === undefined) return null;
  if (
    typeof raw !== 'string' ||
    !/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/i.test(raw)
  ) {
    throw new AcmeError('malformed', `${field} must be an RFC 3339 timestamp`);
  }
  const t = Date.parse(raw);
  if (Number.isNaN(t)) throw new AcmeError('malformed', `${field} is not a valid date`);
  return t;
}
