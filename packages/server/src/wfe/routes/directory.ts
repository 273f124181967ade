import type { DirectoryJson } from '@akamu/protocol';
import type { FastifyInstance } from 'fastify';
import type { WfeContext } from '../context.ts';

/** RFC 8555 §7.1.1 directory, and §7.2 new-nonce (HEAD 200, GET 204, never cached). */
export function registerDirectory(app: FastifyInstance, ctx: WfeContext): void {
  app.get('/acme/directory', async (_req, reply) => reply.type('application/json').send(directoryJson(ctx)));
  app.route({
    method: 'HEAD',
    url: '/acme/new-nonce',
    // Content-Length: 0 lets HTTP/1.1 clients keep the connection (without it Node's client closes it).
    handler: async (_req, reply) =>
      reply.code(200).header('Cache-Control', 'no-store').header('Content-Length', '0').send(),
  });
  app.get('/acme/new-nonce', { exposeHeadRoute: false }, async (_req, reply) =>
    reply.code(204).header('Cache-Control', 'no-store').send(),
  );
}

/** The directory object (per-profile directories, profile-directory.ts, replace newOrder and meta.profiles). */
export function directoryJson(ctx: WfeContext): DirectoryJson {
  const { urls } = ctx;
  const dir: DirectoryJson = {
    newNonce: urls.newNonce,
    newAccount: urls.newAccount,
    newOrder: urls.newOrder,
    // RFC 8555 §7.4.1 pre-authorization.
    newAuthz: urls.newAuthz,
    revokeCert: urls.revokeCert,
    keyChange: urls.keyChange,
    ...(ctx.renewals ? { renewalInfo: urls.renewalInfo } : {}),
    meta: ctx.meta,
  };
  return dir;
}
