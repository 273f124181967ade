import type { OperatorRole } from '../sa/admin-storage.ts';

/**
 * Who may call which admin route (docs/admin-api.md "Roles"): the one table. Every registered route must
 * have an entry (the plugin refuses to start otherwise) and the role-matrix test walks all of them.
 *
 * - administrator: everything.
 * - operations: issue-side actions (revoke, EAB keys, CRL regeneration, ARI override); reads everything.
 * - registration_officer: accounts, orders and certificates within its scope only.
 * - auditor: reads everything, including the audit log; changes nothing.
 */
export const ROLES = [
  'administrator',
  'operations',
  'registration_officer',
  'auditor',
] as const satisfies readonly OperatorRole[];

const ALL: readonly OperatorRole[] = ROLES;
const READERS: readonly OperatorRole[] = ['administrator', 'operations', 'auditor'];
const ISSUE_SIDE: readonly OperatorRole[] = ['administrator', 'operations'];
const ADMIN_ONLY: readonly OperatorRole[] = ['administrator'];
/** Scoped routes: a registration officer sees only what its scope covers. */
const SCOPED_READERS: readonly OperatorRole[] = ALL;

/** "METHOD /admin/path" (Fastify syntax) → the roles allowed, or 'public' (no credentials needed). */
export const ROUTE_ACCESS: Readonly<Record<string, readonly OperatorRole[] | 'public'>> = {
  'GET /admin/openapi.json': 'public',
  'GET /admin/me': ALL,

  'GET /admin/accounts': SCOPED_READERS,
  'GET /admin/accounts/:id': SCOPED_READERS,
  'POST /admin/accounts/:id/deactivate': ['administrator', 'registration_officer'],

  'GET /admin/orders': SCOPED_READERS,
  'GET /admin/orders/:id': SCOPED_READERS,

  'GET /admin/certificates': SCOPED_READERS,
  'GET /admin/certificates/:serial': SCOPED_READERS,
  'GET /admin/certificates/:serial/pem': SCOPED_READERS,
  'POST /admin/certificates/:serial/revoke': ['administrator', 'operations', 'registration_officer'],
  'PUT /admin/certificates/:serial/renewal-window': ISSUE_SIDE,

  'GET /admin/eab-keys': READERS,
  'GET /admin/eab-keys/:kid': READERS,
  'POST /admin/eab-keys': ISSUE_SIDE,
  'DELETE /admin/eab-keys/:kid': ISSUE_SIDE,

  'GET /admin/operators': ['administrator', 'auditor'],
  'GET /admin/operators/:id': ['administrator', 'auditor'],
  'POST /admin/operators': ADMIN_ONLY,
  'POST /admin/operators/:id/disable': ADMIN_ONLY,
  'POST /admin/operators/:id/enable': ADMIN_ONLY,
  'POST /admin/operators/:id/rotate-token': ADMIN_ONLY,

  'GET /admin/profiles': ALL,
  'GET /admin/ca': ALL,
  'POST /admin/crl/regenerate': ISSUE_SIDE,
  'GET /admin/stats': READERS,
  /** The audit log (registered when the server has the audit storage). */
  'GET /admin/audit': ['administrator', 'operations', 'auditor'],
};

/** Whether `role` may call the route `key`; false for a route missing from the table. */
export function roleAllows(key: string, role: OperatorRole): boolean {
  const access = ROUTE_ACCESS[key];
  if (access === undefined) return false;
  return access === 'public' || access.includes(role);
}

export function isRole(value: unknown): value is OperatorRole {
  return typeof value === 'string' && (ROLES as readonly string[]).includes(value);
}
