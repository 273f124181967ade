import type { FastifyInstance } from 'fastify';
import { acmeAuditContext } from '../audit-context.ts';
import type { WfeContext } from '../context.ts';

/** RFC 8555 §7.6: signed by an account (kid) or by the certificate's own key (jwk); 200 with no body. */
export function registerRevokeCert(app: FastifyInstance, ctx: WfeContext): void {
  app.post('/acme/revoke-cert', async (request, reply) => {
    const verified = await ctx.verifier.byEither(request);
    await ctx.ra.revoke(
      'account' in verified ? { account: verified.account } : { certificateKey: verified.key },
      verified.payload,
      acmeAuditContext(request, 'account' in verified ? { account: verified.account } : verified.jwk),
    );
    return reply.code(200).send();
  });
}
