import { sign, verify, X509Certificate } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { CaMaterial } from './ca/ca-store.ts';
import { certificateSpki, compositeVerify } from './ca/composite.ts';
import { isExternalSigner } from './ca/key-type.ts';
import type { StorageAuthority } from './sa/storage-authority.ts';

/** The result of one readiness check: undefined when it passed, else what failed. */
type Check = () => Promise<string | undefined>;

/**
 * `/healthz` (the process answers) and `/readyz` (the database answers and the issuing CA key signs).
 * Not ACME resources: no nonce, small bodies; a failed readiness check is a 503 problem naming it.
 */
export function registerHealth(
  app: FastifyInstance,
  deps: { sa: Pick<StorageAuthority, 'ping'>; ca: CaMaterial },
): void {
  const checks: Record<string, Check> = {
    database: async () => {
      try {
        await deps.sa.ping();
        return undefined;
      } catch (e) {
        return `the database is unreachable: ${(e as Error).message}`;
      }
    },
    ca_key: async () => caKeyProblem(deps.ca),
  };
  app.get('/healthz', { config: { acme: false } }, async (_request, reply) =>
    reply.header('Cache-Control', 'no-store').send({ status: 'ok' }),
  );
  app.get('/readyz', { config: { acme: false } }, async (request, reply) => {
    reply.header('Cache-Control', 'no-store');
    for (const [name, check] of Object.entries(checks)) {
      const failure = await check();
      if (failure === undefined) continue;
      request.log.warn({ check: name }, failure);
      return reply.code(503).type('application/problem+json').send({
        type: 'about:blank',
        title: 'Service Unavailable',
        status: 503,
        detail: failure,
        check: name,
      });
    }
    return reply.send({ status: 'ready' });
  });
}

const KEY_MISMATCH = 'the CA key does not match the issuing certificate';

/** Signs a small message with the issuing CA's key and verifies it with its certificate's public key. */
export function caKeyProblem(ca: Pick<CaMaterial, 'issuerKey' | 'issuerCertDer'>): string | undefined {
  try {
    const message = Buffer.from(`akamu readiness ${Date.now()}`);
    if (isExternalSigner(ca.issuerKey)) {
      // The only external signer is the EXPERIMENTAL composite ML-DSA key, which node:crypto cannot verify.
      const spki = certificateSpki(ca.issuerCertDer);
      return compositeVerify(spki, message, ca.issuerKey.sign(message)) ? undefined : KEY_MISMATCH;
    }
    const kind = ca.issuerKey.asymmetricKeyType;
    // EdDSA and ML-DSA (FIPS 204, pure) sign the message itself; OpenSSL refuses a digest for them.
    const digest =
      kind === 'ed25519' || kind === 'ed448' || String(kind).startsWith('ml-dsa-') ? null : 'sha256';
    const signature = sign(digest, message, ca.issuerKey);
    const publicKey = new X509Certificate(ca.issuerCertDer).publicKey;
    return verify(digest, message, publicKey, signature) ? undefined : KEY_MISMATCH;
  } catch (e) {
    return `the CA key cannot sign: ${(e as Error).message}`;
  }
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** false: not an ACME resource (no Replay-Nonce, no Link rel="index"); wfe/acme-plugin.ts. */
    acme?: boolean;
  }
}
