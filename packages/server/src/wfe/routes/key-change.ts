import type { FastifyInstance } from 'fastify';
import { acmeAuditContext } from '../audit-context.ts';
import { sendJson, type WfeContext } from '../context.ts';
import { accountToJson } from '../render.ts';

/** RFC 8555 §7.3.5: outer JWS by the account's key, inner JWS by the new key; 409 if the new key is taken. */
export function registerKeyChange(app: FastifyInstance, ctx: WfeContext): void {
  app.post('/acme/key-change', async (request, reply) => {
    const { account, payload, jws, key } = await ctx.verifier.byAccount(request);
    const inner = ctx.verifier.verifyInner(payload, jws.header.url);
    await ctx.ra.changeKey(account, inner, key, acmeAuditContext(request, { account }));
    const updated = (await ctx.sa.getAccount(account.id)) ?? account;
    return sendJson(reply, 200, accountToJson(updated, ctx.urls), ctx.urls.account(account.id));
  });
}
