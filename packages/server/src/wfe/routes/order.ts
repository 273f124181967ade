import type { FastifyInstance } from 'fastify';
import { malformed, notFound } from '../../errors.ts';
import { acmeAuditContext } from '../audit-context.ts';
import { assertOwner, sendJson, type WfeContext } from '../context.ts';
import { fullOrderJson } from '../order-json.ts';

/** RFC 8555 §7.4: order (POST-as-GET) and finalize. A processing order carries Retry-After. */
export function registerOrder(app: FastifyInstance, ctx: WfeContext): void {
  app.post<{ Params: { id: string } }>('/acme/order/:id', async (request, reply) => {
    const { account, payload } = await ctx.verifier.byAccount(request);
    const order = await ctx.sa.getOrder(request.params.id);
    if (!order) throw notFound('order');
    assertOwner(account, order.accountId, 'order');
    // RFC 8739 §3.1.2: {"status": "canceled"} stops a STAR order's renewals.
    if (payload !== undefined) {
      if (!ctx.renewals) throw malformed('an order cannot be updated');
      await ctx.renewals.cancel(order, payload, acmeAuditContext(request, { account }));
    }
    const { status } = await ctx.ra.loadOrder(order);
    if (status === 'processing') reply.header('Retry-After', String(ctx.retryAfterSeconds));
    return sendJson(reply, 200, await fullOrderJson(ctx, order, status), ctx.urls.order(order.id));
  });

  app.post<{ Params: { id: string } }>('/acme/order/:id/finalize', async (request, reply) => {
    const { account, payload, key } = await ctx.verifier.byAccount(request);
    const order = await ctx.sa.getOrder(request.params.id);
    if (!order) throw notFound('order');
    assertOwner(account, order.accountId, 'order');
    const finalized = await ctx.ra.finalize(
      account,
      key,
      order,
      payload,
      { ip: request.ip },
      acmeAuditContext(request, { account }),
    );
    return sendJson(
      reply,
      200,
      await fullOrderJson(ctx, finalized, finalized.status),
      ctx.urls.order(order.id),
    );
  });
}
