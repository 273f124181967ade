import type { AdminRoute } from './context.ts';
import { ADMIN_PROBLEMS } from './problems.ts';
import { ROUTE_ACCESS } from './roles.ts';

/**
 * The OpenAPI 3.1 document of the admin API, generated from the route definitions (their paths, query
 * parameters, bodies and statuses) and the role table, so it cannot drift from what is served.
 */
export function buildOpenApi(routes: readonly AdminRoute[], version: string): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const r of routes) {
    const path = r.url.replace(/:(\w+)/g, '{$1}');
    const access = ROUTE_ACCESS[`${r.method} ${r.url}`];
    const pathParams = [...r.url.matchAll(/:(\w+)/g)].map((m) => ({
      name: m[1],
      in: 'path',
      required: true,
      schema: { type: 'string' },
    }));
    const queryParams = Object.entries(r.query ?? {}).map(([name, q]) => ({
      name,
      in: 'query',
      required: false,
      description: q.description,
      schema: {
        type: q.type,
        ...(q.enum ? { enum: q.enum } : {}),
        ...(q.format ? { format: q.format } : {}),
      },
    }));
    const status = String(r.status ?? 200);
    const produces = r.produces ?? 'application/json';
    const op: Record<string, unknown> = {
      operationId: `${r.method.toLowerCase()}${path.replace(/[{}]/g, '').replace(/[/.-](\w)/g, (_m, c: string) => c.toUpperCase())}`,
      tags: [r.tag],
      summary: r.summary,
      description: access === 'public' ? 'No credentials needed.' : `Roles: ${(access ?? []).join(', ')}.`,
      parameters: [...pathParams, ...queryParams],
      responses: {
        [status]:
          status === '204'
            ? { description: 'done' }
            : {
                description: 'success',
                content: {
                  [produces]: {
                    schema: produces === 'application/json' ? { type: 'object' } : { type: 'string' },
                  },
                },
              },
        default: { $ref: '#/components/responses/Problem' },
      },
      ...(access === 'public' ? { security: [] } : {}),
    };
    if (r.body) {
      op.requestBody = { required: false, content: { 'application/json': { schema: r.body } } };
    }
    paths[path] ??= {};
    paths[path][r.method.toLowerCase()] = op;
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'akamu admin API',
      version,
      description:
        'Operate the akamu CA (docs/admin-api.md). Authenticate with `Authorization: Bearer <token>` or a client certificate registered to an operator.',
    },
    servers: [{ url: '/' }],
    security: [{ bearerToken: [] }, { clientCertificate: [] }],
    tags: ['accounts', 'orders', 'certificates', 'eab', 'operators', 'ca', 'audit'].map((name) => ({ name })),
    paths,
    components: {
      securitySchemes: {
        bearerToken: { type: 'http', scheme: 'bearer', description: 'an operator API token' },
        clientCertificate: {
          type: 'mutualTLS',
          description: 'a client certificate registered to an operator',
        },
      },
      responses: {
        Problem: {
          description: `An RFC 7807 problem document; admin types: ${Object.keys(ADMIN_PROBLEMS)
            .map((t) => `urn:akamu:admin:${t}`)
            .join(', ')}; ACME types where the RA refused.`,
          content: {
            'application/problem+json': {
              schema: {
                type: 'object',
                required: ['type', 'status'],
                properties: {
                  type: { type: 'string' },
                  detail: { type: 'string' },
                  status: { type: 'integer' },
                },
              },
            },
          },
        },
      },
    },
  };
}
