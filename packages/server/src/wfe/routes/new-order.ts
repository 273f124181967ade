import type { FastifyInstance } from 'fastify';
import { acmeAuditContext } from '../audit-context.ts';
import { sendJson, type WfeContext } from '../context.ts';
import { fullOrderJson } from '../order-json.ts';

/** RFC 8555 §7.4: 201 + Location; valid authorizations of the account are reused. */
export function registerNewOrder(app: FastifyInstance, ctx: WfeContext): void {
  app.post('/acme/new-order', async (request, reply) => {
    const { account, payload } = await ctx.verifier.byAccount(request);
    const { order, status } = await ctx.ra.newOrder(
      account,
      payload,
      undefined,
      { ip: request.ip },
      acmeAuditContext(request, { account }),
    );
    return sendJson(reply, 201, await fullOrderJson(ctx, order, status), ctx.urls.order(order.id));
  });
}
