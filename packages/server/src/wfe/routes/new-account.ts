import type { FastifyInstance } from 'fastify';
import { acmeAuditContext } from '../audit-context.ts';
import { sendJson, type WfeContext } from '../context.ts';
import { accountToJson } from '../render.ts';

/** RFC 8555 §7.3: 201 + Location for a new account; 200 + Location for the key's existing one. */
export function registerNewAccount(app: FastifyInstance, ctx: WfeContext): void {
  app.post('/acme/new-account', async (request, reply) => {
    const { payload, jwk } = await ctx.verifier.byJwk(request);
    const { account, created } = await ctx.ra.newAccount(
      jwk,
      payload,
      { ip: request.ip },
      acmeAuditContext(request, jwk),
    );
    return sendJson(
      reply,
      created ? 201 : 200,
      accountToJson(account, ctx.urls),
      ctx.urls.account(account.id),
    );
  });
}
