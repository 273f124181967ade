import { z } from 'zod';
import { auditEvent } from '../../core/audit.ts';
import type { Operator } from '../../sa/admin-storage.ts';
import { normalizeFingerprint } from '../auth.ts';
import { type AdminContext, type AdminRoute, iso, parseWith } from '../context.ts';
import { AdminError, notFound } from '../problems.ts';
import { ROLES } from '../roles.ts';

/** An operator as rendered: never its token hash. */
export function operatorView(op: Operator, now: number): Record<string, unknown> {
  return {
    id: op.id,
    name: op.name,
    role: op.role,
    certificateFingerprint: op.certFingerprint,
    scope: op.scope,
    disabled: op.disabled,
    lockedUntil: op.lockedUntil !== null && op.lockedUntil > now ? iso(op.lockedUntil) : null,
    createdAt: iso(op.createdAt),
    tokenRotatedAt: iso(op.tokenRotatedAt),
    lastLoginAt: iso(op.lastLoginAt),
  };
}

const suffix = z
  .string()
  .min(1)
  .max(253)
  .regex(/^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/, {
    message: 'must be a lower-case domain name',
  });

const createBody = z
  .strictObject({
    name: z
      .string()
      .min(1)
      .max(128)
      .regex(/^[\w.@+-]+$/, { message: 'letters, digits and _.@+- only' }),
    role: z.enum(ROLES),
    certificateFingerprint: z
      .string()
      .refine((s) => normalizeFingerprint(s) !== undefined, {
        message: 'must be a SHA-256 fingerprint in hex',
      })
      .optional(),
    scope: z
      .strictObject({
        identifierSuffixes: z.array(suffix).max(1000).default([]),
        accounts: z.array(z.string().min(1).max(64)).max(1000).default([]),
      })
      .optional(),
  })
  .refine((b) => (b.role === 'registration_officer') === (b.scope !== undefined), {
    message: 'a scope is given for, and only for, a registration_officer',
    path: ['scope'],
  });

async function load(id: string, ctx: AdminContext): Promise<Operator> {
  const op = await ctx.store.getOperator(id);
  if (!op) throw notFound('operator');
  return op;
}

/** Refuses to leave the server without an enabled administrator. */
async function keepAnAdministrator(op: Operator, ctx: AdminContext): Promise<void> {
  if (op.role !== 'administrator' || op.disabled) return;
  const others = (await ctx.store.listOperators()).filter(
    (o) => o.role === 'administrator' && !o.disabled && o.id !== op.id,
  );
  if (others.length === 0) throw new AdminError('conflict', 'this is the last enabled administrator');
}

export const operatorRoutes: AdminRoute[] = [
  {
    method: 'GET',
    url: '/admin/me',
    tag: 'operators',
    summary: 'The operator the request authenticated as',
    async handler(call, ctx) {
      return operatorView(call.operator, ctx.clock.now());
    },
  },
  {
    method: 'GET',
    url: '/admin/operators',
    tag: 'operators',
    summary: 'List operators',
    async handler(_call, ctx) {
      const now = ctx.clock.now();
      return { items: (await ctx.store.listOperators()).map((o) => operatorView(o, now)) };
    },
  },
  {
    method: 'GET',
    url: '/admin/operators/:id',
    tag: 'operators',
    summary: 'Show one operator',
    async handler(call, ctx) {
      return operatorView(await load(call.params.id!, ctx), ctx.clock.now());
    },
  },
  {
    method: 'POST',
    url: '/admin/operators',
    tag: 'operators',
    summary: 'Create an operator; the response holds its API token, shown this once',
    status: 201,
    body: {
      type: 'object',
      additionalProperties: false,
      required: ['name', 'role'],
      properties: {
        name: { type: 'string', maxLength: 128 },
        role: { type: 'string', enum: ROLES },
        certificateFingerprint: { type: 'string', description: 'SHA-256 of the client certificate, hex' },
        scope: {
          type: 'object',
          description: 'registration officers only',
          properties: {
            identifierSuffixes: { type: 'array', items: { type: 'string' } },
            accounts: { type: 'array', items: { type: 'string' } },
          },
        },
      },
    },
    async handler(call, ctx) {
      const body = parseWith(createBody, call.body, 'body');
      const r = await ctx.operators.create({
        name: body.name,
        role: body.role,
        scope: body.scope ?? null,
        certFingerprint: body.certificateFingerprint
          ? normalizeFingerprint(body.certificateFingerprint)!
          : null,
        audit: call.audit,
      });
      if (r === 'duplicate')
        throw new AdminError('conflict', 'an operator with this name or certificate fingerprint exists');
      return { ...operatorView(r.operator, ctx.clock.now()), token: r.token };
    },
  },
  {
    method: 'POST',
    url: '/admin/operators/:id/disable',
    tag: 'operators',
    summary: 'Disable an operator: its token and certificate no longer authenticate',
    async handler(call, ctx) {
      const op = await load(call.params.id!, ctx);
      await keepAnAdministrator(op, ctx);
      await ctx.store.updateOperator(
        op.id,
        { disabled: true },
        auditEvent(call.audit, ctx.clock.now(), 'operator.disabled', { type: 'operator', id: op.id }),
      );
      return operatorView({ ...op, disabled: true }, ctx.clock.now());
    },
  },
  {
    method: 'POST',
    url: '/admin/operators/:id/enable',
    tag: 'operators',
    summary: 'Enable a disabled operator (and lift a lockout)',
    async handler(call, ctx) {
      const op = await load(call.params.id!, ctx);
      await ctx.store.updateOperator(
        op.id,
        { disabled: false, lockedUntil: null },
        auditEvent(call.audit, ctx.clock.now(), 'operator.enabled', { type: 'operator', id: op.id }),
      );
      return operatorView({ ...op, disabled: false, lockedUntil: null }, ctx.clock.now());
    },
  },
  {
    method: 'POST',
    url: '/admin/operators/:id/rotate-token',
    tag: 'operators',
    summary: 'Replace the operator’s token (the old one stops working); the new token is shown this once',
    async handler(call, ctx) {
      const op = await load(call.params.id!, ctx);
      const token = await ctx.operators.rotate(op.id, call.audit);
      if (token === undefined) throw notFound('operator');
      return { ...operatorView(await load(op.id, ctx), ctx.clock.now()), token };
    },
  },
];
