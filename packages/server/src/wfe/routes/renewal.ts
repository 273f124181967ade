import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { CurrentStarCertificate, RenewalAuthority } from '../../ra/renewal-authority.ts';
import { assertOwner, sendJson, type WfeContext } from '../context.ts';
import { sendCertificate } from './certificate.ts';

/**
 * RFC 9773 renewal information (unauthenticated GET), RFC 8739 star-certificate (POST-as-GET, and GET
 * when the order allowed it) and RFC 9115 delegations (POST-as-GET).
 */
export function registerRenewal(app: FastifyInstance, ctx: WfeContext, renewals: RenewalAuthority): void {
  app.get<{ Params: { certId: string } }>('/acme/renewal-info/:certId', async (request, reply) => {
    const { body, retryAfterSeconds } = await renewals.renewalInfo(request.params.certId);
    reply.header('Retry-After', String(retryAfterSeconds));
    return sendJson(reply, 200, body);
  });

  app.post<{ Params: { id: string } }>('/acme/star-cert/:id', async (request, reply) => {
    const { account } = await ctx.verifier.byAccount(request);
    return sendStarCertificate(
      request,
      reply,
      ctx,
      await renewals.starCertificate(request.params.id, account),
    );
  });
  app.get<{ Params: { id: string } }>('/acme/star-cert/:id', async (request, reply) =>
    sendStarCertificate(request, reply, ctx, await renewals.starCertificate(request.params.id, undefined)),
  );

  app.post<{ Params: { id: string } }>('/acme/account/:id/delegations', async (request, reply) => {
    const { account } = await ctx.verifier.byAccount(request);
    assertOwner(account, request.params.id, 'delegations list');
    const list = await renewals.listDelegations(account);
    return sendJson(reply, 200, { delegations: list.map((d) => ctx.urls.delegation(d.id)) });
  });

  app.post<{ Params: { id: string } }>('/acme/delegation/:id', async (request, reply) => {
    const { account } = await ctx.verifier.byAccount(request);
    const d = await renewals.getDelegation(account, request.params.id);
    const body: Record<string, unknown> = { 'csr-template': d.csrTemplate };
    if (d.cnameMap) body['cname-map'] = d.cnameMap;
    return sendJson(reply, 200, body, ctx.urls.delegation(d.id));
  });
}

/**
 * RFC 8739 §3.5: the current certificate as /acme/cert serves one (wfe/certificate-format.ts), with the
 * leaf's validity in Cert-Not-Before / Cert-Not-After (HTTP-date).
 */
function sendStarCertificate(
  request: FastifyRequest,
  reply: FastifyReply,
  ctx: WfeContext,
  cert: CurrentStarCertificate,
): FastifyReply {
  reply.header('Cert-Not-Before', new Date(cert.notBefore).toUTCString());
  reply.header('Cert-Not-After', new Date(cert.notAfter).toUTCString());
  return sendCertificate(request, reply, ctx, cert.pem);
}
