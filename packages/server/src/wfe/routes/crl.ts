import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AcmeError } from '../../errors.ts';
import { type BuiltCrl, type CrlService, FULL_CRL } from '../../revocation/crl-service.ts';

/**
 * RFC 5280 §5 over HTTP (RFC 5280 §4.2.1.13: a DER CRL, application/pkix-crl): GET /ca/crl is the complete
 * CRL; GET /ca/crl/<n> is shard n when crl.shards > 1. Served from memory; Last-Modified is thisUpdate,
 * Expires is nextUpdate, the ETag names the CRL number, and caches revalidate (a revocation changes the
 * CRL at once).
 */
export function registerCrl(app: FastifyInstance, crls: CrlService): void {
  app.get('/ca/crl', async (request, reply) => send(request, reply, await crls.get(FULL_CRL)));
  app.get<{ Params: { shard: string } }>('/ca/crl/:shard', async (request, reply) => {
    const { shard } = request.params;
    const n = /^(0|[1-9]\d{0,3})$/.test(shard) ? Number(shard) : -1;
    const crl = await crls.get(n);
    if (!crl) {
      const range = crls.shards > 1 ? `0 to ${crls.shards - 1}` : 'none: crl.shards is 1';
      throw new AcmeError('malformed', `no CRL shard "${shard}" (shards: ${range})`, { status: 404 });
    }
    return send(request, reply, crl);
  });
}

function send(request: FastifyRequest, reply: FastifyReply, crl: BuiltCrl | undefined): FastifyReply {
  if (!crl) throw new AcmeError('serverInternal', 'the CRL is not available');
  reply
    .header('ETag', crl.etag)
    .header('Last-Modified', new Date(crl.thisUpdate).toUTCString())
    .header('Expires', new Date(crl.nextUpdate).toUTCString())
    .header('Cache-Control', 'public, no-cache');
  if (request.headers['if-none-match'] === crl.etag) return reply.code(304).send();
  return reply.type('application/pkix-crl').send(crl.der);
}
