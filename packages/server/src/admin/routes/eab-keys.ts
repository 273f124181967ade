import { z } from 'zod';
import type { EabKey } from '../../sa/eab-storage.ts';
import { type AdminContext, type AdminRoute, instant, iso, parseWith } from '../context.ts';
import { AdminError, badRequest, notFound } from '../problems.ts';

/** A key as listed: never its MAC key, which is shown once, by the create route. */
function keyView(k: EabKey): Record<string, unknown> {
  return {
    kid: k.kid,
    source: k.source,
    principal: k.principal,
    note: k.note,
    profiles: k.profiles,
    expires: iso(k.expiresAt),
    createdAt: iso(k.createdAt),
    usedBy: k.usedBy,
    usedAt: iso(k.usedAt),
  };
}

function eab(ctx: AdminContext) {
  if (!ctx.eab)
    throw new AdminError('unavailable', 'external account binding is not available on this server');
  return ctx.eab;
}

const createBody = z.strictObject({
  kid: z.string().optional(),
  note: z.string().max(1000).optional(),
  expires: instant.optional(),
  profiles: z.array(z.string()).min(1).optional(),
});

export const eabKeyRoutes: AdminRoute[] = [
  {
    method: 'GET',
    url: '/admin/eab-keys',
    tag: 'eab',
    summary: 'List external account binding keys, oldest first (without their MAC keys)',
    query: { used: { type: 'boolean', description: 'true: only used keys; false: only unused ones' } },
    async handler(call, ctx) {
      const { used } = call.query;
      if (used !== undefined && used !== 'true' && used !== 'false')
        throw badRequest('used must be true or false');
      const keys = await eab(ctx).listEabKeys(used === undefined ? undefined : { used: used === 'true' });
      return { items: keys.map(keyView) };
    },
  },
  {
    method: 'GET',
    url: '/admin/eab-keys/:kid',
    tag: 'eab',
    summary: 'Show one key (without its MAC key)',
    async handler(call, ctx) {
      const key = await eab(ctx).getEabKey(call.params.kid!);
      if (!key) throw notFound('EAB key');
      return keyView(key);
    },
  },
  {
    method: 'POST',
    url: '/admin/eab-keys',
    tag: 'eab',
    summary: 'Create a key; the response holds its MAC key, shown this once',
    status: 201,
    body: {
      type: 'object',
      additionalProperties: false,
      properties: {
        kid: { type: 'string', description: 'default: eab-<random>' },
        note: { type: 'string', maxLength: 1000 },
        expires: { type: 'string', format: 'date-time' },
        profiles: { type: 'array', items: { type: 'string' }, minItems: 1 },
      },
    },
    async handler(call, ctx) {
      const body = parseWith(createBody, call.body, 'body');
      const key = await eab(ctx).createEabKey(
        {
          ...(body.kid !== undefined ? { kid: body.kid } : {}),
          ...(body.note !== undefined ? { note: body.note } : {}),
          ...(body.expires !== undefined ? { expiresAt: body.expires } : {}),
          ...(body.profiles !== undefined ? { profiles: body.profiles } : {}),
        },
        call.audit,
      );
      return { ...keyView(key), hmacKey: key.hmacKey };
    },
  },
  {
    method: 'DELETE',
    url: '/admin/eab-keys/:kid',
    tag: 'eab',
    summary: 'Delete an unused key (a used key stays as the record of its binding: 409)',
    status: 204,
    async handler(call, ctx) {
      const r = await eab(ctx).deleteEabKey(call.params.kid!, call.audit);
      if (r === 'missing') throw notFound('EAB key');
      if (r === 'used') throw new AdminError('conflict', 'the key bound an account and is kept');
      return call.reply.code(204).send();
    },
  },
];
