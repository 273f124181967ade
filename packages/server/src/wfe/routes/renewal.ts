import type { FastifyInstance, FastifyReply } from 'fastify';
import type { CurrentStarCertificate, RenewalAuthority } from '../../ra/renewal-authority.ts';
import { assertOwner, sendJson, type WfeContext } from '../context.ts';

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
    return sendStarCertificate(reply, ctx, await renewals.starCertificate(request.params.id, account));
  });
  app.get<{ Params: { id: string } }>('/acme/star-cert/:id', async (request, reply) =>
    sendStarCertificate(reply, ctx, await renewals.starCertificate(request.params.id, undefined)),
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

/** RFC 8739 §3.5: the chain, with the leaf's validity in Cert-Not-Before / Cert-Not-After (HTTP-date). */
function sendStarCertificate(
  reply: FastifyReply,
  ctx: WfeContext,
  cert: CurrentStarCertificate,
): FastifyReply {
  reply.header('Cert-Not-Before', new Date(cert.notBefore).toUTCString());
  reply.header('Cert-Not-After', new Date(cert.notAfter).toUTCString());
  reply.header('Link', [`<${ctx.urls.directory}>;rel="index"`, `<${ctx.urls.issuer}>;rel="up"`]);
  return reply.type('application/pem-certificate-chain').send(cert.pem + ctx.chainPem);
}
