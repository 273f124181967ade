import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AcmeError } from '../errors.ts';
import type { Operator } from '../sa/admin-storage.ts';
import type { OperatorAuth } from './auth.ts';
import type { AdminContext, AdminRoute } from './context.ts';
import { buildOpenApi } from './openapi.ts';
import { AdminError } from './problems.ts';
import { ROUTE_ACCESS, roleAllows } from './roles.ts';
import { accountRoutes } from './routes/accounts.ts';
import { certificateRoutes } from './routes/certificates.ts';
import { eabKeyRoutes } from './routes/eab-keys.ts';
import { operatorRoutes } from './routes/operators.ts';
import { orderRoutes } from './routes/orders.ts';
import { systemRoutes } from './routes/system.ts';

/** Every admin route but the OpenAPI document; `extra` routes (e.g. the audit log) are added by app.ts. */
export function adminRoutes(extra: readonly AdminRoute[] = []): AdminRoute[] {
  return [
    ...accountRoutes,
    ...orderRoutes,
    ...certificateRoutes,
    ...eabKeyRoutes,
    ...operatorRoutes,
    ...systemRoutes,
    ...extra,
  ];
}

export const OPENAPI_URL = '/admin/openapi.json';

const registered = new WeakMap<FastifyInstance, string[]>();

/** "METHOD /admin/path" of every route the admin plugin registered on `app` (HEAD routes aside). */
export function registeredAdminRoutes(app: FastifyInstance): string[] {
  return [...(registered.get(app) ?? [])];
}

/**
 * The admin API (docs/admin-api.md) as an encapsulated Fastify plugin under /admin: JSON bodies, its own
 * problem documents, authentication on every route but the OpenAPI document, and the role table checked
 * before any handler runs.
 */
export function registerAdmin(
  app: FastifyInstance,
  ctx: AdminContext,
  auth: OperatorAuth,
  routes: readonly AdminRoute[] = adminRoutes(),
): void {
  for (const r of routes) {
    if (ROUTE_ACCESS[`${r.method} ${r.url}`] === undefined)
      throw new Error(`admin route ${r.method} ${r.url} has no entry in ROUTE_ACCESS`);
  }
  const openapi = buildOpenApi(
    [
      ...routes,
      {
        method: 'GET',
        url: OPENAPI_URL,
        tag: 'ca',
        summary: 'This OpenAPI 3.1 document',
        handler: async () => ({}),
      },
    ],
    '0.1.0',
  );
  const operators = new WeakMap<FastifyRequest, Operator>();

  const seen: string[] = [];
  registered.set(app, seen);
  app.register(
    async (admin) => {
      admin.addHook('onRoute', (route) => {
        for (const method of [route.method].flat())
          if (method !== 'HEAD') seen.push(`${method} ${route.url}`);
      });
      admin.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, body, done) => {
        if (body === '') return done(null, undefined);
        try {
          done(null, JSON.parse(body as string));
        } catch {
          done(new AdminError('badRequest', 'the request body is not valid JSON'));
        }
      });
      admin.setErrorHandler((err, request, reply) => sendAdminProblem(reply, toProblem(err, request)));
      admin.setNotFoundHandler((request, reply) =>
        sendAdminProblem(
          reply,
          new AdminError('notFound', `no admin route ${request.method} ${request.url}`),
        ),
      );
      admin.addHook('onRequest', async (request) => {
        const key = `${request.method} ${request.routeOptions.url}`;
        const access = ROUTE_ACCESS[key];
        if (access === undefined || access === 'public') return;
        const operator = await auth.authenticate(request);
        if (!roleAllows(key, operator.role)) {
          throw new AdminError(
            'forbidden',
            `the ${operator.role} role may not ${request.method} ${request.routeOptions.url}`,
          );
        }
        operators.set(request, operator);
      });

      admin.get(OPENAPI_URL.slice('/admin'.length), async () => openapi);
      for (const r of routes) {
        admin.route({
          method: r.method,
          url: r.url.slice('/admin'.length),
          handler: async (request, reply) => {
            const result = await r.handler(
              {
                operator: operators.get(request)!,
                audit: {
                  actor: `operator:${operators.get(request)?.id ?? 'anonymous'}`,
                  source: request.ip,
                  requestId: request.id,
                },
                params: request.params as Record<string, string>,
                query: request.query as Record<string, string | undefined>,
                body: request.body,
                request,
                reply,
              },
              ctx,
            );
            if (reply.sent || result === reply) return reply;
            return reply
              .code(r.status ?? 200)
              .type('application/json')
              .send(result);
          },
        });
      }
    },
    { prefix: '/admin' },
  );
}

type Problem = AdminError | AcmeError;

function toProblem(err: unknown, request: FastifyRequest): Problem {
  if (err instanceof AdminError || err instanceof AcmeError) return err;
  const fe = err as Partial<FastifyError>;
  const status = typeof fe.statusCode === 'number' ? fe.statusCode : 500;
  if (status >= 400 && status < 500) {
    return new AdminError(
      'badRequest',
      status === 413 ? 'the request body is too large' : (fe.message ?? 'bad request'),
      {
        status,
      },
    );
  }
  request.log.error({ err }, 'unexpected error in the admin API');
  return new AcmeError('serverInternal', 'the server experienced an internal error');
}

function sendAdminProblem(reply: FastifyReply, err: Problem): FastifyReply {
  if (err.retryAfter !== undefined) reply.header('Retry-After', String(err.retryAfter));
  if (err.status === 401) reply.header('WWW-Authenticate', 'Bearer realm="akamu-admin"');
  const problem = err instanceof AcmeError ? err.toProblem() : err.toProblem();
  return reply.code(err.status).type('application/problem+json').send(problem);
}
