/**
 * The bench's calibration server, `akamu-floor`: what one issuance costs in akamu's stack (Node, Fastify,
 * node:crypto, HTTPS with keep-alive) with akamu's own primitives and nothing else. It answers the same
 * flow as any ACME server (RFC 8555 §7.1: nonce, account, order, authorization, http-01, finalize,
 * download), does the work the protocol requires of every server — verify every JWS signature, make and
 * redeem a nonce per request, fetch the http-01 key authorization over HTTP (akamu's own validator, with
 * its keep-alive connections), parse the CSR and verify its signature, sign the certificate — and keeps
 * everything in memory: no database, no audit log, no policy, no logging, no metrics.
 *
 * It is not a CA anyone should run: its nonces and accounts vanish with the process and it checks only
 * what the bench's flow needs. It exists so that `npm run bench` can show how much of akamu's CPU per
 * issuance is the stack itself, which no storage or feature work can remove (docs/benchmarks.md, "The
 * floor").
 *
 * Usage: node bench/floor-server.ts <work dir> <http-01 port>; prints the directory URL and root.
 */
import { type KeyObject, randomBytes } from 'node:crypto';
import path from 'node:path';
import { derToPem, type Identifier } from '@akamu/protocol';
import Fastify, { type FastifyReply, type FastifyRequest } from 'fastify';
import { issueServerCertificate, loadOrCreateCa } from '../packages/server/src/ca/ca-store.ts';
import { CertificateIssuer, newSerial } from '../packages/server/src/ca/certificate-issuer.ts';
import { parseCsr } from '../packages/server/src/ca/csr.ts';
import { AcmeError } from '../packages/server/src/errors.ts';
import { Http01Validator } from '../packages/server/src/va/http-01.ts';
import { NetworkGuard } from '../packages/server/src/va/network-guard.ts';
import { SystemHostResolver } from '../packages/server/src/va/resolver.ts';
import {
  type FlattenedJws,
  importJwk,
  parseFlattenedJws,
  verifyJwsSignature,
} from '../packages/server/src/wfe/jws.ts';
import { sendProblem } from '../packages/server/src/wfe/problem.ts';

const [workDir, http01PortText] = process.argv.slice(2);
if (!workDir || !http01PortText) throw new Error('usage: floor-server.ts <work dir> <http-01 port>');
const http01Port = Number(http01PortText);

const ca = await loadOrCreateCa({
  dir: path.join(workDir, 'ca'),
  keyType: 'ec:P-256',
  commonNamePrefix: 'floor',
});
const tls = issueServerCertificate(ca, ['localhost', '127.0.0.1'], 30, 'ec:P-256');
const issuer = new CertificateIssuer({ issuerKey: ca.issuerKey, issuerCertDer: ca.issuerCertDer });
const http01 = new Http01Validator({
  port: http01Port,
  resolver: new SystemHostResolver(),
  guard: new NetworkGuard(true),
});

interface Authz {
  identifier: { type: string; value: string };
  status: 'pending' | 'valid' | 'invalid';
  token: string;
  accountId: string;
  thumbprint: string;
}
interface Order {
  accountId: string;
  identifiers: { type: string; value: string }[];
  authzIds: string[];
  status: 'pending' | 'ready' | 'valid' | 'invalid';
  certId?: string;
}

const nonces = new Set<string>();
const accounts = new Map<string, { key: KeyObject; thumbprint: string }>();
const authzs = new Map<string, Authz>();
const orders = new Map<string, Order>();
const certs = new Map<string, string>();
const newId = () => randomBytes(12).toString('base64url');

const app = Fastify({
  exposeHeadRoutes: false,
  logger: false,
  bodyLimit: 64 * 1024,
  https: { key: tls.keyPem, cert: tls.certChainPem },
});
app.addContentTypeParser('application/jose+json', { parseAs: 'string' }, (_req, body, done) => {
  try {
    done(null, JSON.parse(body as string));
  } catch (e) {
    done(e as Error, undefined);
  }
});

let base = '';
const url = (p: string) => `${base}${p}`;

function nonce(reply: FastifyReply): FastifyReply {
  const n = randomBytes(16).toString('base64url');
  nonces.add(n);
  return reply.header('Replay-Nonce', n).header('Cache-Control', 'no-store');
}

/** RFC 8555 §6.2–6.5, the checks every server makes: url, nonce, key, signature. */
function verified(req: FastifyRequest): {
  jws: FlattenedJws;
  accountId?: string;
  jwk?: ReturnType<typeof importJwk>;
} {
  const jws = parseFlattenedJws(req.body);
  if (jws.header.url !== url(req.url)) throw new AcmeError('unauthorized', 'url mismatch');
  if (!jws.header.nonce || !nonces.delete(jws.header.nonce)) throw new AcmeError('badNonce', 'bad nonce');
  if (jws.header.jwk) {
    const jwk = importJwk(jws.header.jwk, jws.header.alg);
    if (!verifyJwsSignature(jws, jwk.key)) throw new AcmeError('malformed', 'bad signature');
    return { jws, jwk };
  }
  const accountId = jws.header.kid?.slice(url('/acct/').length) ?? '';
  const account = accounts.get(accountId);
  if (!account) throw new AcmeError('accountDoesNotExist', 'no such account');
  if (!verifyJwsSignature(jws, account.key)) throw new AcmeError('malformed', 'bad signature');
  return { jws, accountId };
}

type Handler = (
  v: ReturnType<typeof verified>,
  id: string,
  reply: FastifyReply,
) => unknown | Promise<unknown>;
function post(route: string, handler: Handler): void {
  app.post<{ Params: { id?: string } }>(route, async (req, reply) => {
    nonce(reply);
    try {
      return await handler(verified(req), req.params.id ?? '', reply);
    } catch (e) {
      return sendProblem(
        reply,
        e instanceof AcmeError ? e : new AcmeError('malformed', (e as Error).message),
      );
    }
  });
}

const authzJson = (id: string, a: Authz) => ({
  identifier: a.identifier,
  status: a.status,
  expires: new Date(Date.now() + 86_400_000).toISOString(),
  challenges: [{ type: 'http-01', url: url(`/chall/${id}`), token: a.token, status: a.status }],
});
const orderJson = (id: string, o: Order) => ({
  status: o.status,
  identifiers: o.identifiers,
  authorizations: o.authzIds.map((a) => url(`/authz/${a}`)),
  finalize: url(`/finalize/${id}`),
  ...(o.certId ? { certificate: url(`/cert/${o.certId}`) } : {}),
});

app.get('/dir', async () => ({
  newNonce: url('/nonce'),
  newAccount: url('/acct'),
  newOrder: url('/order'),
  revokeCert: url('/revoke'),
  keyChange: url('/key-change'),
}));
app.get('/nonce', async (_req, reply) => nonce(reply).code(204).send());
app.head('/nonce', async (_req, reply) => nonce(reply).code(200).send());

post('/acct', (v, _id, reply) => {
  if (!v.jwk) throw new AcmeError('malformed', 'new-account needs a jwk');
  const id = newId();
  accounts.set(id, { key: v.jwk.key, thumbprint: v.jwk.thumbprint });
  return reply
    .code(201)
    .header('Location', url(`/acct/${id}`))
    .send({ status: 'valid', orders: url(`/acct/${id}/orders`) });
});

post('/order', (v, _id, reply) => {
  const { identifiers } = v.jws.payload as { identifiers: { type: string; value: string }[] };
  const account = accounts.get(v.accountId!)!;
  const authzIds = identifiers.map((identifier) => {
    const id = newId();
    authzs.set(id, {
      identifier,
      status: 'pending',
      token: randomBytes(32).toString('base64url'),
      accountId: v.accountId!,
      thumbprint: account.thumbprint,
    });
    return id;
  });
  const id = newId();
  const order: Order = { accountId: v.accountId!, identifiers, authzIds, status: 'pending' };
  orders.set(id, order);
  return reply
    .code(201)
    .header('Location', url(`/order/${id}`))
    .send(orderJson(id, order));
});

post('/authz/:id', (_v, id) => {
  const a = authzs.get(id);
  if (!a) throw new AcmeError('malformed', 'no such authorization', { status: 404 });
  return authzJson(id, a);
});

post('/chall/:id', async (_v, id) => {
  const a = authzs.get(id);
  if (!a) throw new AcmeError('malformed', 'no such challenge', { status: 404 });
  // RFC 8555 §8.3 with akamu's validator, before the answer (so one authorization poll sees it valid).
  const failed = await http01.validate({
    identifier: a.identifier as Identifier,
    wildcard: false,
    challengeType: 'http-01',
    token: a.token,
    keyAuthorization: `${a.token}.${a.thumbprint}`,
    accountId: a.accountId,
    accountUrl: url(`/acct/${a.accountId}`),
    signal: AbortSignal.timeout(10_000),
  });
  a.status = failed && 'type' in failed ? 'invalid' : 'valid';
  for (const o of orders.values()) if (o.authzIds.includes(id) && a.status === 'valid') o.status = 'ready';
  return authzJson(id, a).challenges[0];
});

post('/finalize/:id', (v, id) => {
  const o = orders.get(id);
  if (o?.status !== 'ready') throw new AcmeError('orderNotReady', 'order not ready');
  const csr = parseCsr(Buffer.from((v.jws.payload as { csr: string }).csr, 'base64url'));
  if (!csr.signatureValid) throw new AcmeError('badCSR', 'bad CSR signature');
  const wanted = o.identifiers.map((i) => i.value).sort();
  const asked = [...csr.dnsNames, ...csr.ipAddresses].sort();
  if (wanted.join() !== asked.join()) throw new AcmeError('badCSR', 'names differ');
  const now = Date.now();
  const der = issuer.issue({
    serial: newSerial(),
    spki: csr.spki,
    dnsNames: csr.dnsNames,
    ipAddresses: csr.ipAddresses,
    notBefore: new Date(now),
    notAfter: new Date(now + 90 * 86_400_000),
  });
  const certId = newId();
  certs.set(certId, derToPem(der) + ca.chainPem);
  o.status = 'valid';
  o.certId = certId;
  return orderJson(id, o);
});

post('/cert/:id', (_v, id, reply) => {
  const pem = certs.get(id);
  if (!pem) throw new AcmeError('malformed', 'no such certificate', { status: 404 });
  return reply.type('application/pem-certificate-chain').send(pem);
});

await app.listen({ host: '127.0.0.1', port: 0 });
const { port } = app.server.address() as { port: number };
base = `https://localhost:${port}`;
console.log(`directory: ${url('/dir')}`);
console.log(`root certificate: ${ca.rootCertPath}`);
for (const signal of ['SIGTERM', 'SIGINT'] as const)
  process.once(signal, () => void app.close().then(() => process.exit(0)));
