import type { FastifyInstance } from 'fastify';
import { acmeAuditContext } from '../audit-context.ts';
import { sendJson, type WfeContext } from '../context.ts';
import { authorizationToJson } from '../render.ts';

/** RFC 8555 §7.4.1 pre-authorization (and RFC 9444 §4.2 for ancestor domains): 201 + Location. */
export function registerNewAuthz(app: FastifyInstance, ctx: WfeContext): void {
  app.post('/acme/new-authz', async (request, reply) => {
    const { account, payload } = await ctx.verifier.byAccount(request);
    const authz = await ctx.ra.newAuthz(account, payload, acmeAuditContext(request, { account }));
    return sendJson(
      reply,
      201,
      authorizationToJson(authz, ctx.clock.now(), ctx.urls, (c) => ctx.ra.challengeFields(c)),
      ctx.urls.authz(authz.id),
    );
  });
}
