import type { FastifyInstance } from 'fastify';
import { malformed, notFound } from '../../errors.ts';
import { acmeAuditContext } from '../audit-context.ts';
import { assertOwner, sendJson, type WfeContext } from '../context.ts';
import { authorizationToJson, challengeToJson } from '../render.ts';

/** RFC 8555 §7.5: authorization (POST-as-GET, deactivation) and challenge (respond, POST-as-GET). */
export function registerAuthz(app: FastifyInstance, ctx: WfeContext): void {
  app.post<{ Params: { id: string } }>('/acme/authz/:id', async (request, reply) => {
    const { account, payload } = await ctx.verifier.byAccount(request);
    let authz = await ctx.sa.getAuthorization(request.params.id);
    if (!authz) throw notFound('authorization');
    assertOwner(account, authz.accountId, 'authorization');
    // A poll while a challenge is being validated is answered when the validation ends (or after the
    // hold). A pending authorization with a challenge no longer pending was read while its outcome was
    // being committed (the authorization and its challenges are two reads): read it again.
    if (
      payload === undefined &&
      authz.status === 'pending' &&
      authz.challenges.some((c) => c.status !== 'pending')
    ) {
      authz =
        (await ctx.ra.awaitValidation(authz.id, ctx.pollHoldMs)) ??
        (await ctx.sa.getAuthorization(authz.id)) ??
        authz;
    }
    const updated = await ctx.ra.updateAuthorization(authz, payload, acmeAuditContext(request, { account }));
    return sendJson(
      reply,
      200,
      authorizationToJson(updated, ctx.clock.now(), ctx.urls, (c) => ctx.ra.challengeFields(c)),
      ctx.urls.authz(authz.id),
    );
  });

  app.post<{ Params: { id: string } }>('/acme/chall/:id', async (request, reply) => {
    const { account, payload } = await ctx.verifier.byAccount(request);
    const found = await ctx.sa.getChallenge(request.params.id);
    if (!found) throw notFound('challenge');
    assertOwner(account, found.authorization.accountId, 'challenge');
    // RFC 8555 §7.5.1: an empty object answers the challenge; POST-as-GET (no payload) reads it.
    const authz =
      payload === undefined
        ? found.authorization
        : await ctx.ra.respondChallenge(
            account,
            found.authorization,
            found.challenge.id,
            challengeResponse(payload),
            acmeAuditContext(request, { account }),
          );
    const challenge = authz.challenges.find((c) => c.id === found.challenge.id)!;
    // RFC 8555 §8.2: tell the client when to look again (lego waits 5 s without it).
    if (challenge.status === 'processing') reply.header('Retry-After', String(ctx.retryAfterSeconds));
    reply.header('Link', [`<${ctx.urls.directory}>;rel="index"`, `<${ctx.urls.authz(authz.id)}>;rel="up"`]);
    return sendJson(
      reply,
      200,
      challengeToJson(challenge, ctx.urls, (c) => ctx.ra.challengeFields(c)),
    );
  });
}

/** RFC 8555 §7.5.1: the response is a JSON object (empty, or with the fields its challenge type defines). */
function challengeResponse(payload: unknown): Record<string, unknown> {
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) {
    throw malformed('the challenge response must be a JSON object');
  }
  return payload as Record<string, unknown>;
}
