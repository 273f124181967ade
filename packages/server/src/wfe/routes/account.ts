import type { FastifyInstance } from 'fastify';
import { acmeAuditContext } from '../audit-context.ts';
import { assertOwner, sendJson, type WfeContext } from '../context.ts';
import { accountToJson } from '../render.ts';

/** RFC 8555 §7.3.2 update, §7.3.3 orders list (paginated with Link rel="next"), §7.3.6 deactivation. */
export function registerAccount(app: FastifyInstance, ctx: WfeContext): void {
  app.post<{ Params: { id: string } }>('/acme/account/:id', async (request, reply) => {
    const { account, payload } = await ctx.verifier.byAccount(request);
    assertOwner(account, request.params.id, 'account');
    const updated = await ctx.ra.updateAccount(account, payload, acmeAuditContext(request, { account }));
    return sendJson(reply, 200, accountToJson(updated, ctx.urls), ctx.urls.account(account.id));
  });

  app.post<{ Params: { id: string }; Querystring: { cursor?: string } }>(
    '/acme/account/:id/orders',
    async (request, reply) => {
      const { account } = await ctx.verifier.byAccount(request);
      assertOwner(account, request.params.id, 'orders list');
      const page = await ctx.sa.listOrderIds(account.id, request.query.cursor, ctx.ordersPageSize);
      if (page.next) {
        const next = `${ctx.urls.accountOrders(account.id)}?cursor=${encodeURIComponent(page.next)}`;
        reply.header('Link', [`<${ctx.urls.directory}>;rel="index"`, `<${next}>;rel="next"`]);
      }
      return sendJson(reply, 200, { orders: page.ids.map((id) => ctx.urls.order(id)) });
    },
  );
}
