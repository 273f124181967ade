import type { FastifyInstance } from 'fastify';
import { AcmeError } from '../errors.ts';
import { RateLimitedError } from '../ra/rate-limits.ts';
import type { WfeContext } from './context.ts';
import { sendProblem, toAcmeError } from './problem.ts';
import { registerAccount } from './routes/account.ts';
import { registerAuthz } from './routes/authz.ts';
import { registerCertificate } from './routes/certificate.ts';
import { registerDirectory } from './routes/directory.ts';
import { registerKeyChange } from './routes/key-change.ts';
import { registerNewAccount } from './routes/new-account.ts';
import { registerNewAuthz } from './routes/new-authz.ts';
import { registerNewOrder } from './routes/new-order.ts';
import { registerOrder } from './routes/order.ts';
import { registerProfileDirectories } from './routes/profile-directory.ts';
import { registerRenewal } from './routes/renewal.ts';
import { registerRevokeCert } from './routes/revoke-cert.ts';

/**
 * The ACME web front end: HTTP only. Bodies are accepted only as application/jose+json (415 otherwise)
 * up to the body limit (413); every response carries a fresh Replay-Nonce (RFC 8555 §6.5) and
 * Link rel="index" to the directory (§7.1); every error is a problem document.
 */
export function registerAcme(app: FastifyInstance, ctx: WfeContext): void {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/jose+json', { parseAs: 'string' }, (_req, body, done) => {
    try {
      done(null, JSON.parse(body as string));
    } catch {
      done(new AcmeError('malformed', 'the request body is not valid JSON'));
    }
  });

  app.addHook('onSend', (request, reply, payload, done) => {
    // Health and metrics endpoints (config.acme === false) are not ACME resources: no nonce, no links.
    if (request.routeOptions.config?.acme === false) return done(null, payload);
    reply.header('Replay-Nonce', ctx.nonces.issue());
    if (!reply.hasHeader('Link')) reply.header('Link', `<${ctx.urls.directory}>;rel="index"`);
    if (!reply.hasHeader('Cache-Control')) reply.header('Cache-Control', 'no-store');
    done(null, payload);
  });

  app.setErrorHandler((err, request, reply) => {
    // RFC 8555 §6.6: a rateLimited problem links the CA's rate-limit policy.
    if (err instanceof RateLimitedError && err.policyUrl) {
      reply.header('Link', [`<${err.policyUrl}>;rel="help"`, `<${ctx.urls.directory}>;rel="index"`]);
    }
    return sendProblem(reply, toAcmeError(err, request));
  });
  app.setNotFoundHandler((request, reply) =>
    sendProblem(
      reply,
      new AcmeError('malformed', `no resource at ${request.method} ${request.url}`, { status: 404 }),
    ),
  );

  registerDirectory(app, ctx);
  registerNewAccount(app, ctx);
  registerAccount(app, ctx);
  registerKeyChange(app, ctx);
  registerNewOrder(app, ctx);
  registerOrder(app, ctx);
  registerAuthz(app, ctx);
  registerCertificate(app, ctx);
  registerRevokeCert(app, ctx);
  registerNewAuthz(app, ctx);
  registerProfileDirectories(app, ctx);
  if (ctx.renewals) registerRenewal(app, ctx, ctx.renewals);
}
