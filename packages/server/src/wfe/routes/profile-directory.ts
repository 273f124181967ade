import type { FastifyInstance } from 'fastify';
import { AcmeError } from '../../errors.ts';
import { acmeAuditContext } from '../audit-context.ts';
import { sendJson, type WfeContext } from '../context.ts';
import { fullOrderJson } from '../order-json.ts';
import { directoryJson } from './directory.ts';

/**
 * Per-profile directories (certctl style, docs/profiles.md), for clients that cannot send `profile`:
 * `/acme/profile/<id>/directory` is the directory with `newOrder` at `/acme/profile/<id>/new-order`, which
 * creates orders under that profile; every other resource is shared with `/acme/directory`.
 */
export function registerProfileDirectories(app: FastifyInstance, ctx: WfeContext): void {
  const known = (id: string): string => {
    if (!ctx.profiles.get(id)) {
      throw new AcmeError('malformed', `no profile "${id}" is offered (see meta.profiles)`, { status: 404 });
    }
    return id;
  };

  app.get<{ Params: { id: string } }>('/acme/profile/:id/directory', async (request, reply) => {
    const id = known(request.params.id);
    reply.header('Link', `<${ctx.urls.profileDirectory(id)}>;rel="index"`);
    return reply.type('application/json').send({
      ...directoryJson(ctx),
      newOrder: ctx.urls.profileNewOrder(id),
      meta: { ...ctx.meta, profiles: ctx.profiles.meta(id) },
    });
  });

  app.post<{ Params: { id: string } }>('/acme/profile/:id/new-order', async (request, reply) => {
    const id = known(request.params.id);
    const { account, payload } = await ctx.verifier.byAccount(request);
    const { order, status } = await ctx.ra.newOrder(
      account,
      payload,
      id,
      { ip: request.ip },
      acmeAuditContext(request, { account }),
    );
    reply.header('Link', `<${ctx.urls.profileDirectory(id)}>;rel="index"`);
    return sendJson(reply, 201, await fullOrderJson(ctx, order, status), ctx.urls.order(order.id));
  });
}
