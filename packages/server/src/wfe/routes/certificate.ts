import { pemToDer } from '@akamu/protocol';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { notFound } from '../../errors.ts';
import { certificateFormat, DER_CERT_TYPE, PEM_CHAIN_TYPE } from '../certificate-format.ts';
import { assertOwner, type WfeContext } from '../context.ts';

/**
 * RFC 8555 §7.4.2: the certificate (POST-as-GET by its account), and its issuer (`/acme/issuer`, GET or
 * POST-as-GET by any account), each as a PEM chain or, when the client asks, one DER certificate
 * (wfe/certificate-format.ts).
 */
export function registerCertificate(app: FastifyInstance, ctx: WfeContext): void {
  app.post<{ Params: { id: string } }>('/acme/cert/:id', async (request, reply) => {
    const { account } = await ctx.verifier.byAccount(request);
    const cert = await ctx.sa.getCertificate(request.params.id);
    if (!cert) throw notFound('certificate');
    assertOwner(account, cert.accountId, 'certificate');
    return sendCertificate(request, reply, ctx, cert.pem);
  });

  // The issuing CA's certificate: the first of the chain served after every leaf.
  const issuerDer = pemToDer(ctx.chainPem)[0];
  const sendIssuer = (request: FastifyRequest, reply: FastifyReply) => {
    reply.header('Link', `<${ctx.urls.directory}>;rel="index"`);
    if (issuerDer && certificateFormat(request.headers.accept) === 'der')
      return reply.type(DER_CERT_TYPE).send(issuerDer);
    return reply.type(PEM_CHAIN_TYPE).send(ctx.chainPem);
  };
  app.get('/acme/issuer', async (request, reply) => sendIssuer(request, reply));
  // RFC 8555 §6.3: a client that follows the Link rel="up" fetches it like every other resource.
  app.post('/acme/issuer', async (request, reply) => {
    await ctx.verifier.byAccount(request);
    return sendIssuer(request, reply);
  });
}

/** A leaf in the format the request asks for: the PEM chain, or DER with Link rel="up" to its issuer. */
export function sendCertificate(
  request: FastifyRequest,
  reply: FastifyReply,
  ctx: WfeContext,
  leafPem: string,
): FastifyReply {
  const index = `<${ctx.urls.directory}>;rel="index"`;
  if (certificateFormat(request.headers.accept) === 'der') {
    reply.header('Link', [index, `<${ctx.urls.issuer}>;rel="up"`]);
    return reply.type(DER_CERT_TYPE).send(pemToDer(leafPem)[0]);
  }
  reply.header('Link', index);
  return reply.type(PEM_CHAIN_TYPE).send(leafPem + ctx.chainPem);
}
