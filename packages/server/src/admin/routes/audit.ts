import { z } from 'zod';
import type { AuditPage, AuditQuery } from '../../sa/audit-storage.ts';
import { type AdminRoute, instant, parseWith } from '../context.ts';

/** The audit log's query function (sa/audit-storage.ts queryAuditEvents on the server's database). */
export type AuditQueryFn = (filter: AuditQuery) => Promise<AuditPage>;

const auditQuery = z.strictObject({
  type: z.string().max(64).optional(),
  actor: z.string().max(255).optional(),
  objectType: z.string().max(64).optional(),
  objectId: z.string().max(255).optional(),
  since: instant.optional(),
  until: instant.optional(),
  limit: z.coerce.number().int().min(1).max(1000).optional(),
  cursor: z.string().max(200).optional(),
});

export function auditRoutes(query: AuditQueryFn): AdminRoute[] {
  return [
    {
      method: 'GET',
      url: '/admin/audit',
      tag: 'audit',
      summary: 'Audit events, newest first; filter by type (or "prefix.*"), actor, object and time',
      query: {
        type: { type: 'string', description: 'an event type, or a prefix such as "operator.*"' },
        actor: { type: 'string', description: 'who acted (e.g. "operator:<id>", "account:<id>")' },
        objectType: { type: 'string', description: 'the kind of object changed' },
        objectId: { type: 'string', description: 'the object changed' },
        since: { type: 'string', format: 'date-time', description: 'at or after this instant' },
        until: { type: 'string', format: 'date-time', description: 'before this instant' },
        limit: { type: 'integer', description: '1–1000, default 100' },
        cursor: { type: 'string', description: 'the `next` of the previous page' },
      },
      async handler(call) {
        const f = parseWith(auditQuery, call.query, 'query');
        const page = await query(Object.fromEntries(Object.entries(f).filter(([, v]) => v !== undefined)));
        return {
          items: page.events.map((e) => ({ ...e, at: new Date(e.at).toISOString() })),
          next: page.next ?? null,
        };
      },
    },
  ];
}
