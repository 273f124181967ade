import { writeFileSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import { ConfigError } from '../config.ts';
import type { AdminStorage } from '../sa/admin-storage.ts';
import { clientIdentity } from '../wfe/client-identity.ts';
import { type CertificateIdentity, OperatorAuth, OperatorRegistry, peerCertificateIdentity } from './auth.ts';
import type { AdminContext } from './context.ts';
import { adminRoutes, registerAdmin } from './plugin.ts';
import { type AuditQueryFn, auditRoutes } from './routes/audit.ts';

/**
 * The certificate identity of a request: the one the TLS client-authentication hook verified
 * (wfe/client-identity.ts), else the verified peer certificate of the TLS socket.
 */
export const defaultCertificateIdentity: CertificateIdentity = (request) => {
  const id = clientIdentity(request);
  return id ? { fingerprint256: id.fingerprintSha256 } : peerCertificateIdentity(request);
};

/**
 * Wires the admin API into the server when `[admin] enabled` (app.ts calls this): operator
 * authentication, the bootstrap token file, the routes (with the audit log when its query is given).
 */
export async function setUpAdmin(
  app: FastifyInstance,
  ctx: Omit<AdminContext, 'operators' | 'store'> & { store: AdminStorage | undefined },
  opts: { auditQuery?: AuditQueryFn | undefined; certificateIdentity?: CertificateIdentity | undefined } = {},
): Promise<void> {
  const { store } = ctx;
  if (!store)
    throw new ConfigError('[admin] enabled needs the built-in SQL storage (not an embedder storage)');
  const operators = new OperatorRegistry(store, ctx.clock);
  const file = ctx.config.admin.bootstrap_token_file;
  if (file) {
    const first = await operators.bootstrap();
    // Written only when this start created the administrator; the token is never stored in clear.
    if (first) writeFileSync(file, `${first.token}\n`, { mode: 0o600 });
  }
  const auth = new OperatorAuth({
    store,
    clock: ctx.clock,
    maxFailedLogins: ctx.config.admin.max_failed_logins,
    lockoutMs: ctx.config.admin.lockout,
    certificateIdentity: opts.certificateIdentity ?? defaultCertificateIdentity,
  });
  registerAdmin(
    app,
    { ...ctx, store, operators },
    auth,
    adminRoutes(opts.auditQuery ? auditRoutes(opts.auditQuery) : []),
  );
}
