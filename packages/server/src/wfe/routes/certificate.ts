import type { FastifyInstance } from 'fastify';
import { notFound } from '../../errors.ts';
import { assertOwner, type WfeContext } from '../context.ts';

/** RFC 8555 §7.4.2: the leaf followed by its chain, application/pem-certificate-chain; Link rel="up" to the issuer. */
export function registerCertificate(app: FastifyInstance, ctx: WfeContext): void {
  app.post<{ Params: { id: string } }>('/acme/cert/:id', async (request, reply) => {
    const { account } = await ctx.verifier.byAccount(request);
    const cert = await ctx.sa.getCertificate(request.params.id);
    if (!cert) throw notFound('certificate');
    assertOwner(account, cert.accountId, 'certificate');
    reply.header('Link', [`<${ctx.urls.directory}>;rel="index"`, `<${ctx.urls.issuer}>;rel="up"`]);
    return reply.type('application/pem-certificate-chain').send(cert.pem + ctx.chainPem);
  });

  app.get('/acme/issuer', async (_request, reply) =>
    reply.type('application/pem-certificate-chain').send(ctx.chainPem),
  );
}
