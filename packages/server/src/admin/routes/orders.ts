import { orderStatus } from '../../core/order-status.ts';
import { scopeCoversNames } from '../auth.ts';
import { type AdminRoute, orderView, outOfScope, PAGE_QUERY, pageParams, scopeFilter } from '../context.ts';
import { badRequest, notFound } from '../problems.ts';

/** Stored order states (ready is derived from the authorizations and shown by GET /admin/orders/:id). */
const ORDER_STATUSES = ['pending', 'processing', 'valid', 'invalid'] as const;

export const orderRoutes: AdminRoute[] = [
  {
    method: 'GET',
    url: '/admin/orders',
    tag: 'orders',
    summary: 'List orders, newest first; filter by account or stored status',
    query: {
      ...PAGE_QUERY,
      account: { type: 'string', description: 'account id' },
      status: { type: 'string', description: 'stored status', enum: ORDER_STATUSES },
    },
    async handler(call, ctx) {
      const { account, status } = call.query;
      if (status !== undefined && !(ORDER_STATUSES as readonly string[]).includes(status))
        throw badRequest(`status must be one of ${ORDER_STATUSES.join(', ')}`);
      const page = await ctx.store.listOrders({
        ...pageParams(call.query, ctx.config.admin.max_page_size),
        account,
        status,
        scope: scopeFilter(call.operator),
      });
      const op = call.operator;
      const items =
        op.role === 'registration_officer'
          ? page.items.filter((o) => scopeCoversNames(op.scope, o.accountId, o.identifiers))
          : page.items;
      return { items: items.map((o) => orderView(o)), next: page.next ?? null };
    },
  },
  {
    method: 'GET',
    url: '/admin/orders/:id',
    tag: 'orders',
    summary: 'Show one order with its current status (RFC 8555 §7.1.6) and authorizations',
    async handler(call, ctx) {
      const order = await ctx.sa.getOrder(call.params.id!);
      if (!order) throw notFound('order');
      const op = call.operator;
      if (
        op.role === 'registration_officer' &&
        !scopeCoversNames(op.scope, order.accountId, order.identifiers)
      )
        throw outOfScope('order');
      const authorizations = await ctx.sa.getAuthorizations(order.authorizationIds);
      const now = ctx.clock.now();
      return {
        ...orderView(order, orderStatus(order, authorizations, now)),
        authorizations: authorizations.map((a) => ({
          id: a.id,
          identifier: a.identifier,
          wildcard: a.wildcard,
          status: a.status,
          expires: new Date(a.expiresAt).toISOString(),
          challenges: a.challenges.map((c) => ({ type: c.type, status: c.status, error: c.error })),
        })),
      };
    },
  },
];
