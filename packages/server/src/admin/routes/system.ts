import { createHash, X509Certificate } from 'node:crypto';
import { derToPem } from '@akamu/protocol';
import { isCompositeKeyType } from '../../ca/composite.ts';
import { isExternalSigner, issuerKeyType } from '../../ca/key-type.ts';
import { FULL_CRL } from '../../revocation/crl-service.ts';
import { type AdminRoute, iso } from '../context.ts';
import { AdminError } from '../problems.ts';

function certificateInfo(der: Buffer): Record<string, unknown> {
  const c = new X509Certificate(der);
  return {
    subject: c.subject,
    issuer: c.issuer,
    serial: c.serialNumber.toLowerCase(),
    notBefore: new Date(c.validFrom).toISOString(),
    notAfter: new Date(c.validTo).toISOString(),
    fingerprintSha256: createHash('sha256').update(der).digest('hex').toUpperCase(),
    fingerprintSha1: createHash('sha1').update(der).digest('hex').toUpperCase(),
    pem: derToPem(der),
  };
}

export const systemRoutes: AdminRoute[] = [
  {
    method: 'GET',
    url: '/admin/profiles',
    tag: 'ca',
    summary: 'The configured issuance profiles',
    async handler(_call, ctx) {
      const def = ctx.config.acme.default_profile || null;
      return {
        defaultProfile: def,
        items: ctx.profiles.ids().map((id) => {
          const p = ctx.profiles.get(id)!;
          return {
            id,
            description: p.description,
            validitySeconds: Math.round(p.validity / 1000),
            keyUsages: p.keyUsages,
            extendedKeyUsages: p.extendedKeyUsages,
            allowedKeyTypes: p.allowedKeyTypes,
            identifierTypes: p.identifierTypes,
            challengeTypes: p.challengeTypes,
            authorizationMode: p.authorizationMode,
          };
        }),
      };
    },
  },
  {
    method: 'GET',
    url: '/admin/ca',
    tag: 'ca',
    summary: 'The issuing CA: key type, chain (issuer first, then the root) and fingerprints',
    async handler(_call, ctx) {
      const key = ctx.ca.issuerKey;
      const externalSigner = isExternalSigner(key);
      const keyType =
        issuerKeyType(key) ?? (externalSigner ? key.algorithm.name : String(key.asymmetricKeyType));
      const chain = ctx.ca.chainDer.map(certificateInfo);
      return {
        name: ctx.config.ca.name,
        keyType,
        // EXPERIMENTAL composite ML-DSA (ca.experimental_composite): no mainstream client verifies the chain.
        experimental: isCompositeKeyType(keyType),
        externalSigner,
        chain,
        root: ctx.ca.rootCertDer ? certificateInfo(ctx.ca.rootCertDer) : null,
      };
    },
  },
  {
    method: 'POST',
    url: '/admin/crl/regenerate',
    tag: 'ca',
    summary: 'Build and sign new CRLs now (every shard); returns the complete CRL’s number and times',
    async handler(_call, ctx) {
      const crls = ctx.revocation.crls;
      const before = (await crls.get(FULL_CRL))?.crlNumber ?? 0;
      crls.revoked(); // marks the CRLs stale: the next get() waits for a build that covers now
      const built = await crls.get(FULL_CRL);
      if (!built) throw new AdminError('unavailable', 'no CRL could be built');
      return {
        crlNumber: built.crlNumber,
        previousCrlNumber: before,
        thisUpdate: iso(built.thisUpdate),
        nextUpdate: iso(built.nextUpdate),
        entries: built.entries,
        shards: crls.shards,
      };
    },
  },
  {
    method: 'GET',
    url: '/admin/stats',
    tag: 'ca',
    summary: 'Counts by status: accounts, orders (stored status), certificates, EAB keys, operators by role',
    async handler(_call, ctx) {
      return ctx.store.statistics(ctx.clock.now());
    },
  },
];
