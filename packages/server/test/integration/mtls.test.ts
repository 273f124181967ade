/**
 * Mutual TLS end to end (docs/tls.md): real handshakes on loopback with client certificates built by
 * akamu's CA code, verified by the server against its trust anchors and rules; refusals as `unauthorized`
 * problems; revocation of an akamu-issued client certificate through the ACME API; certificates forwarded by
 * a trusted reverse proxy (nginx, Envoy) and ignored from any other peer; the identity as clientIdentity()
 * sees it and as the EAB endpoint uses it.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import http2 from 'node:http2';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { AcmeClient, generateKey, Http01Solver, obtainCertificate } from '@akamu/client';
import { pemToDer } from '@akamu/protocol';
import { currentBackend, provisionDatabase } from '../../../../test/support/databases.ts';
import { EKU_SERVER_AUTH } from '../../src/ca/certificate-issuer.ts';
import { type AkamuServer, type ConfigInput, createServer } from '../../src/index.ts';
import { clientIdentity } from '../../src/wfe/client-identity.ts';
import { httpsGet, type Issued, makeClient, makeIntermediate, makeRoot, writePem } from './tls-support.ts';

const UNAUTHORIZED = 'urn:ietf:params:acme:error:unauthorized';
const EAB_SECRET = Buffer.alloc(32, 7).toString('base64url');

interface MtlsCa {
  server: AkamuServer;
  base: string;
  ca: string;
  solver: Http01Solver;
  close(): Promise<void>;
}

/** The real server with an extra GET /test/whoami that returns clientIdentity(request). */
async function startMtlsCa(dir: string, config: ConfigInput): Promise<MtlsCa> {
  const dataDir = mkdtempSync(path.join(dir, 'data-'));
  const database = await provisionDatabase(currentBackend());
  const solver = new Http01Solver({ port: 0, host: '127.0.0.1' });
  await solver.start();
  const server = await createServer({
    ...config,
    data_dir: dataDir,
    ...(database.url ? { database: { url: database.url } } : {}),
    server: { port: 0, log_level: 'silent' },
    va: { http01_port: solver.port },
  });
  server.app.get('/test/whoami', async (request, reply) => {
    const id = clientIdentity(request);
    return reply
      .type('application/json')
      .send(JSON.stringify(id ? { ...id, der: id.der.toString('base64') } : null));
  });
  const directory = await server.listen();
  return {
    server,
    base: new URL(directory).origin,
    ca: server.rootCertPem,
    solver,
    async close() {
      await server.close();
      await solver.stop();
      await database.drop();
    },
  };
}

function assertRefused(r: { status: number; json: () => Record<string, unknown> }, detail: RegExp): void {
  assert.equal(r.status, 403);
  const problem = r.json();
  assert.equal(problem.type, UNAUTHORIZED);
  assert.match(String(problem.detail), detail);
}

describe('mutual TLS', { timeout: 120_000 }, () => {
  let dir: string;
  // akamu's issuing CA is operator-supplied (root → issuer) so the tests know the trust anchor up front.
  let root: Issued;
  let issuer: Issued;
  let untrustedRoot: Issued;
  let optional: MtlsCa;

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'akamu-mtls-'));
    root = makeRoot('mTLS Test Root');
    issuer = makeIntermediate(root, 'mTLS Test Issuer');
    untrustedRoot = makeRoot('Untrusted Root');
    const rootFile = writePem(path.join(dir, 'root.pem'), root.pem);
    optional = await startMtlsCa(dir, {
      ca: {
        issuer_key_file: writePem(path.join(dir, 'issuer.key'), issuer.keyPem),
        issuer_cert_file: writePem(path.join(dir, 'issuer.pem'), issuer.pem + root.pem),
      },
      tls: {
        client_auth: 'optional',
        client_ca_files: [rootFile],
        client_max_chain_depth: 1,
        forwarded_cert_proxies: ['127.0.0.1'],
      },
      eab: { master_secret: EAB_SECRET, trusted_proxies: [] },
      profiles: {
        client: { description: 'mTLS client certificates', extended_key_usages: ['clientAuth'] },
      },
    });
  });

  after(async () => {
    await optional?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const whoami = (o: Parameters<typeof httpsGet>[1] = { ca: '' }) =>
    httpsGet(`${optional.base}/test/whoami`, { ...o, ca: optional.ca });

  test('a trusted client certificate is verified and exposed through clientIdentity()', async () => {
    const client = makeClient(issuer, { commonName: 'ops-1', dnsNames: ['ops.example.test'] });
    const r = await whoami({ ca: '', client });
    assert.equal(r.status, 200, r.body);
    const id = r.json();
    assert.equal(id.source, 'tls');
    assert.equal(id.commonName, 'ops-1');
    assert.match(String(id.subject), /CN=ops-1/);
    assert.deepEqual((id.sans as Record<string, string[]>).dns, ['ops.example.test']);
    const fingerprint = new (await import('node:crypto')).X509Certificate(client.der).fingerprint256;
    assert.equal(id.fingerprintSha256, fingerprint.replaceAll(':', '').toLowerCase());
    assert.equal(id.der, client.der.toString('base64'));
  });

  test('without a client certificate (optional) the request is anonymous', async () => {
    const r = await whoami();
    assert.equal(r.status, 200);
    assert.equal(r.body, 'null');
    const dir = await httpsGet(`${optional.base}/acme/directory`, { ca: optional.ca });
    assert.equal(dir.status, 200);
  });

  test('refuses a certificate from an untrusted CA', async () => {
    assertRefused(
      await whoami({ ca: '', client: makeClient(untrustedRoot) }),
      /does not chain to a trusted CA/,
    );
  });

  test('refuses an expired client certificate', async () => {
    const client = makeClient(issuer, {
      notBefore: new Date(Date.now() - 10 * 86_400_000),
      notAfter: new Date(Date.now() - 86_400_000),
    });
    assertRefused(await whoami({ ca: '', client }), /expired/);
  });

  test('refuses a chain deeper than client_max_chain_depth (forwarded chain: every intermediate counted)', async () => {
    const a = makeIntermediate(root, 'Intermediate A');
    const b = makeIntermediate(a, 'Intermediate B');
    const deep = makeClient(b);
    assertRefused(
      await whoami({ ca: '', headers: { 'X-SSL-Client-Cert': encodeURIComponent(deep.chainPem) } }),
      /more than 1 intermediate/,
    );
    // One intermediate is within the limit, forwarded or in the handshake.
    const shallow = makeClient(a);
    const forwarded = await whoami({
      ca: '',
      headers: { 'X-SSL-Client-Cert': encodeURIComponent(shallow.chainPem) },
    });
    assert.equal(forwarded.status, 200, forwarded.body);
    assert.equal((await whoami({ ca: '', client: shallow })).status, 200);
  });

  test('refuses a 1024-bit RSA client certificate', async () => {
    // The client's own OpenSSL refuses to load a 1024-bit key at its default security level.
    const weak = makeClient(issuer, { keyType: 'rsa-1024' });
    assertRefused(await whoami({ ca: '', client: weak, ciphers: 'DEFAULT@SECLEVEL=0' }), /1024-bit RSA/);
    assert.equal((await whoami({ ca: '', client: makeClient(issuer, { keyType: 'rsa:2048' }) })).status, 200);
  });

  test('refuses a certificate whose extendedKeyUsage excludes clientAuth', async () => {
    const client = makeClient(issuer, { extendedKeyUsages: [EKU_SERVER_AUTH] });
    assertRefused(await whoami({ ca: '', client }), /TLS client authentication/);
  });

  test('refuses an ML-DSA client certificate unless client_allow_pq', async () => {
    assertRefused(
      await whoami({ ca: '', client: makeClient(issuer, { keyType: 'ml-dsa-65' }) }),
      /ml-dsa-65 key, which is not accepted/,
    );
  });

  test('refuses a client certificate akamu issued and then revoked (its own revocation status)', async () => {
    const acme = new AcmeClient({
      directoryUrl: `${optional.base}/acme/directory`,
      accountKey: generateKey('ec:P-256'),
      caBundle: optional.ca,
      timeoutMs: 10_000,
    });
    try {
      await acme.newAccount({ contact: ['mailto:ops@example.com'], termsOfServiceAgreed: true });
      const got = await obtainCertificate(acme, {
        identifiers: [{ type: 'dns', value: 'agent.example.localhost' }],
        solvers: [optional.solver],
        profile: 'client',
      });
      const ders = pemToDer(got.certificatePem);
      const client: Issued = {
        key: got.certificateKey,
        der: ders[0]!,
        pem: got.certificatePem,
        keyPem: got.certificateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
        chainPem: got.certificatePem,
      };
      const before = await whoami({ ca: '', client });
      assert.equal(before.status, 200, before.body);
      assert.equal(before.json().commonName, 'agent.example.localhost');
      await acme.revokeCertificate(client.der, { reason: 1 });
      assertRefused(await whoami({ ca: '', client }), /revoked/);
    } finally {
      acme.close();
    }
  });

  test('the EAB endpoint derives the key of the certificate principal (subject CN)', async () => {
    const client = makeClient(issuer, { commonName: 'team-blue' });
    const r = await httpsGet(`${optional.base}/acme/eab`, { ca: optional.ca, client });
    assert.equal(r.status, 200, r.body);
    const expected = await optional.server.eab!.derivedKeyFor('team-blue');
    assert.deepEqual(r.json(), { kid: expected.kid, hmac_key: expected.hmacKey });
    // Without a certificate, from a peer that is not a trusted proxy: refused as before.
    assert.equal((await httpsGet(`${optional.base}/acme/eab`, { ca: optional.ca })).status, 403);
  });

  test('accepts a certificate forwarded by a trusted proxy (nginx X-SSL-Client-Cert, Envoy XFCC)', async () => {
    const client = makeClient(issuer, { commonName: 'behind-nginx' });
    const nginx = await whoami({
      ca: '',
      headers: { 'X-SSL-Client-Cert': encodeURIComponent(client.chainPem) },
    });
    assert.equal(nginx.status, 200, nginx.body);
    assert.equal(nginx.json().source, 'forwarded');
    assert.equal(nginx.json().commonName, 'behind-nginx');

    const deep = makeClient(makeIntermediate(root, 'Proxy Intermediate'), { commonName: 'behind-envoy' });
    const xfcc = `By=spiffe://proxy;Hash=00;Cert="${encodeURIComponent(deep.pem)}";Chain="${encodeURIComponent(deep.chainPem)}";Subject="CN=behind-envoy"`;
    const envoy = await whoami({ ca: '', headers: { 'X-Forwarded-Client-Cert': xfcc } });
    assert.equal(envoy.status, 200, envoy.body);
    assert.equal(envoy.json().commonName, 'behind-envoy');

    const bad = makeClient(untrustedRoot);
    assertRefused(
      await whoami({ ca: '', headers: { 'X-SSL-Client-Cert': encodeURIComponent(bad.pem) } }),
      /does not chain/,
    );
    assertRefused(
      await whoami({ ca: '', headers: { 'X-SSL-Client-Cert': 'not%20a%20certificate' } }),
      /malformed/,
    );
  });

  test('ignores forwarded certificates from a peer that is not a configured proxy', async () => {
    const client = makeClient(issuer, { commonName: 'spoofed' });
    const r = await httpsGet(`${optional.base}/test/whoami`, {
      ca: optional.ca,
      headers: { 'X-SSL-Client-Cert': encodeURIComponent(client.chainPem) },
      localAddress: '127.0.0.2',
    });
    assert.equal(r.status, 200, r.body);
    assert.equal(r.body, 'null');
  });
});

describe('mutual TLS required', { timeout: 60_000 }, () => {
  let dir: string;
  let root: Issued;
  let required: MtlsCa;

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'akamu-mtls-req-'));
    root = makeRoot('Client Root');
    required = await startMtlsCa(dir, {
      tls: {
        client_auth: 'required',
        client_ca_files: [writePem(path.join(dir, 'clients.pem'), root.pem)],
        client_allow_pq: true,
        client_max_chain_depth: 0,
      },
    });
  });

  after(async () => {
    await required?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('refuses a request without a client certificate; CA files stay public', async () => {
    assertRefused(
      await httpsGet(`${required.base}/acme/directory`, { ca: required.ca }),
      /client certificate is required/,
    );
    const rootPem = await httpsGet(`${required.base}/ca/root.pem`, { ca: required.ca });
    assert.equal(rootPem.status, 200);
  });

  test('refuses a handshake chain with an intermediate when client_max_chain_depth = 0', async () => {
    const client = makeClient(makeIntermediate(root, 'Client Intermediate'));
    assertRefused(
      await httpsGet(`${required.base}/test/whoami`, { ca: required.ca, client }),
      /more than 0 intermediate/,
    );
  });

  test('an HTTP/2 session presents its client certificate once for all its streams', async () => {
    const client = makeClient(root, { commonName: 'h2-agent' });
    const session = http2.connect(required.base, {
      ca: required.ca,
      servername: 'localhost',
      key: client.keyPem,
      cert: client.chainPem,
    });
    try {
      await new Promise<void>((resolve, reject) => {
        session.once('connect', () => resolve());
        session.once('error', reject);
      });
      assert.equal(session.alpnProtocol, 'h2');
      for (let i = 0; i < 2; i++) {
        const body = await new Promise<string>((resolve, reject) => {
          const req = session.request({ ':path': '/test/whoami' });
          let data = '';
          req.setEncoding('utf8');
          req.on('data', (c: string) => {
            data += c;
          });
          req.on('end', () => resolve(data));
          req.on('error', reject);
        });
        assert.equal((JSON.parse(body) as { commonName: string }).commonName, 'h2-agent');
      }
    } finally {
      session.close();
    }
  });

  test('accepts a trusted client certificate, ML-DSA-65 included with client_allow_pq', async () => {
    for (const keyType of ['ec:P-384', 'ed25519', 'ml-dsa-65'] as const) {
      const client = makeClient(root, { commonName: `agent-${keyType}`, keyType });
      const r = await httpsGet(`${required.base}/test/whoami`, { ca: required.ca, client });
      assert.equal(r.status, 200, `${keyType}: ${r.body}`);
      assert.equal(r.json().commonName, `agent-${keyType}`);
      assert.equal(r.protocol, 'TLSv1.3');
    }
  });
});
