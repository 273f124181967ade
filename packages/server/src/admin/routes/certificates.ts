import { z } from 'zod';
import { AcmeError } from '../../errors.ts';
import type { CertificateWithNames } from '../../sa/admin-storage.ts';
import { scopeCoversNames } from '../auth.ts';
import {
  type AdminCall,
  type AdminContext,
  type AdminRoute,
  certificateView,
  instant,
  outOfScope,
  PAGE_QUERY,
  pageParams,
  parseWith,
  scopeFilter,
  serialParam,
} from '../context.ts';
import { AdminError, badRequest, notFound } from '../problems.ts';

const CERT_STATUSES = ['valid', 'revoked', 'expired'] as const;

/** The certificate named by serial in the URL, with its names, if the operator may see it. */
async function loadCertificate(call: AdminCall, ctx: AdminContext): Promise<CertificateWithNames> {
  const cert = await ctx.sa.getCertificateBySerial(serialParam(call.params.serial));
  if (!cert) throw notFound('certificate');
  const withNames = { ...cert, identifiers: await ctx.store.certificateIdentifiers(cert.orderId) };
  const op = call.operator;
  if (
    op.role === 'registration_officer' &&
    !scopeCoversNames(op.scope, cert.accountId, withNames.identifiers)
  )
    throw outOfScope('certificate');
  return withNames;
}

const revokeBody = z.strictObject({
  /** RFC 5280 §5.3.1 reason code; default 0 (unspecified). */
  reason: z.number().int().optional(),
});

const windowBody = z.strictObject({ start: instant, end: instant });

export const certificateRoutes: AdminRoute[] = [
  {
    method: 'GET',
    url: '/admin/certificates',
    tag: 'certificates',
    summary: 'Search certificates, newest first, by name, serial, account, status and expiry window',
    query: {
      ...PAGE_QUERY,
      name: {
        type: 'string',
        description: 'an identifier of the certificate, exactly (e.g. www.example.com)',
      },
      serial: { type: 'string', description: 'serial number in hex (colons allowed)' },
      account: { type: 'string', description: 'account id' },
      status: { type: 'string', description: 'status', enum: CERT_STATUSES },
      expiresAfter: { type: 'string', format: 'date-time', description: 'notAfter at or after this instant' },
      expiresBefore: { type: 'string', format: 'date-time', description: 'notAfter before this instant' },
    },
    async handler(call, ctx) {
      const q = call.query;
      if (q.status !== undefined && !(CERT_STATUSES as readonly string[]).includes(q.status))
        throw badRequest(`status must be one of ${CERT_STATUSES.join(', ')}`);
      const window = parseWith(
        z.object({ expiresAfter: instant.optional(), expiresBefore: instant.optional() }),
        { expiresAfter: q.expiresAfter, expiresBefore: q.expiresBefore },
        'query',
      );
      const now = ctx.clock.now();
      const page = await ctx.store.listCertificates({
        ...pageParams(q, ctx.config.admin.max_page_size),
        name: q.name?.toLowerCase(),
        serial: q.serial === undefined ? undefined : serialParam(q.serial),
        account: q.account,
        status: q.status as (typeof CERT_STATUSES)[number] | undefined,
        expiresAfter: window.expiresAfter,
        expiresBefore: window.expiresBefore,
        now,
        scope: scopeFilter(call.operator),
      });
      const op = call.operator;
      const items =
        op.role === 'registration_officer'
          ? page.items.filter((c) => scopeCoversNames(op.scope, c.accountId, c.identifiers))
          : page.items;
      return { items: items.map((c) => certificateView(c, now)), next: page.next ?? null };
    },
  },
  {
    method: 'GET',
    url: '/admin/certificates/:serial',
    tag: 'certificates',
    summary: 'Show one certificate',
    async handler(call, ctx) {
      return certificateView(await loadCertificate(call, ctx), ctx.clock.now());
    },
  },
  {
    method: 'GET',
    url: '/admin/certificates/:serial/pem',
    tag: 'certificates',
    summary: 'Download the certificate with its chain (PEM)',
    produces: 'application/pem-certificate-chain',
    async handler(call, ctx) {
      const cert = await loadCertificate(call, ctx);
      return call.reply
        .type('application/pem-certificate-chain')
        .header('Content-Disposition', `attachment; filename="${cert.serial}.pem"`)
        .send(`${cert.pem.trimEnd()}\n${ctx.ca.chainPem.trimEnd()}\n`);
    },
  },
  {
    method: 'POST',
    url: '/admin/certificates/:serial/revoke',
    tag: 'certificates',
    summary: 'Revoke a certificate with a reason (through the RA: CRLs and OCSP list it at once)',
    body: {
      type: 'object',
      additionalProperties: false,
      properties: {
        reason: { type: 'integer', enum: [0, 1, 3, 4, 5, 9], description: 'RFC 5280 §5.3.1 reason code' },
      },
    },
    async handler(call, ctx) {
      const body = parseWith(revokeBody, call.body, 'body');
      const cert = await loadCertificate(call, ctx);
      if (cert.status === 'revoked')
        throw new AcmeError('alreadyRevoked', 'the certificate is already revoked');
      const revoked = await ctx.ra.revokeBySerial(cert.serial, body.reason, call.audit);
      return certificateView({ ...revoked, identifiers: cert.identifiers }, ctx.clock.now());
    },
  },
  {
    method: 'PUT',
    url: '/admin/certificates/:serial/renewal-window',
    tag: 'certificates',
    summary: "Override the certificate's ARI suggested renewal window (RFC 9773 §4.2)",
    body: {
      type: 'object',
      additionalProperties: false,
      required: ['start', 'end'],
      properties: {
        start: { type: 'string', format: 'date-time' },
        end: { type: 'string', format: 'date-time' },
      },
    },
    async handler(call, ctx) {
      if (!ctx.renewals) throw new AdminError('unavailable', 'ARI is not available on this server');
      const body = parseWith(windowBody, call.body, 'body');
      const cert = await loadCertificate(call, ctx);
      await ctx.renewals.setRenewalWindow(cert.serial, body.start, body.end);
      return {
        serial: cert.serial,
        suggestedWindow: { start: new Date(body.start).toISOString(), end: new Date(body.end).toISOString() },
      };
    },
  },
];
