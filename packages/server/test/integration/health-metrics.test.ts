import assert from 'node:assert/strict';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type AcmeClient, createCsr, generateKey, JwsSigner } from '@akamu/client';
import { b64u, pemToDer } from '@akamu/protocol';
import { currentBackend } from '../../../../test/support/databases.ts';
import { caKeyProblem } from '../../src/health.ts';
import { createServer } from '../../src/index.ts';
import { startTestCa, type TestCa } from '../helpers.ts';

/**
 * /healthz, /readyz, /metrics (Prometheus text format) and the structured logs with request ids and
 * redacted secrets (docs/operations.md "Health, metrics and logs"), against the real server.
 */

/** One sample value of the Prometheus text exposition, or undefined when the series is absent. */
function sample(text: string, series: string): number | undefined {
  for (const line of text.split('\n')) {
    if (line.startsWith(`${series} `)) return Number(line.slice(series.length + 1));
  }
  return undefined;
}

async function issue(ca: TestCa, client: AcmeClient, name: string) {
  const { url, order } = await client.newOrder({ identifiers: [{ type: 'dns', value: name }] });
  const authz = await client.getAuthorization(order.authorizations[0]!);
  const challenge = authz.challenges.find((c) => c.type === 'http-01')!;
  await ca.solver.present(authz.identifier, challenge, client.keyAuthorization(challenge.token));
  await client.respondChallenge(challenge.url);
  assert.equal((await client.waitForAuthorization(order.authorizations[0]!)).status, 'valid');
  const ready = await client.waitForOrder(url, ['ready']);
  const finalized = await client.finalize(
    ready,
    createCsr({ key: generateKey('ec:P-256'), dnsNames: [name] }),
  );
  const valid = finalized.status === 'valid' ? finalized : await client.waitForOrder(url, ['valid']);
  return (await client.downloadCertificate(valid.certificate!)).pem;
}

describe('health and readiness', () => {
  let ca: TestCa;
  before(async () => {
    ca = await startTestCa();
  });
  after(() => ca.close());

  it('/healthz and /readyz answer small JSON without ACME headers', async () => {
    const health = await ca.server.app.inject({ method: 'GET', url: '/healthz' });
    assert.equal(health.statusCode, 200);
    assert.deepEqual(health.json(), { status: 'ok' });
    assert.equal(health.headers['replay-nonce'], undefined, 'no nonce on a health check');
    const ready = await ca.server.app.inject({ method: 'GET', url: '/readyz' });
    assert.equal(ready.statusCode, 200);
    assert.deepEqual(ready.json(), { status: 'ready' });
    assert.equal(ready.headers['replay-nonce'], undefined);
    // ACME resources still carry their nonce.
    const dir = await ca.server.app.inject({ method: 'GET', url: '/acme/directory' });
    assert.ok(dir.headers['replay-nonce']);
  });

  it('the CA key check signs and verifies, and names a key that does not match its certificate', () => {
    assert.equal(caKeyProblem(ca.server.ca), undefined);
    const other = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    assert.match(
      caKeyProblem({ issuerKey: other, issuerCertDer: ca.server.ca.issuerCertDer }) ?? '',
      /does not match/,
    );
  });

  it('/readyz is a 503 problem naming the database when the database is gone', async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'akamu-readyz-'));
    const server = await createServer({ data_dir: dataDir, server: { port: 0, log_level: 'silent' } });
    try {
      await server.storage.close();
      const res = await server.app.inject({ method: 'GET', url: '/readyz' });
      assert.equal(res.statusCode, 503);
      assert.equal(res.headers['content-type'], 'application/problem+json; charset=utf-8');
      const body = res.json();
      assert.equal(body.status, 503);
      assert.equal(body.check, 'database');
      assert.match(body.detail, /database is unreachable/);
    } finally {
      await server.app.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

describe('metrics', () => {
  let ca: TestCa;
  const hmacKey = randomBytes(32);
  before(async () => {
    ca = await startTestCa({ eab: { keys: { 'metrics-key': { hmac_key: b64u(hmacKey) } } } });
  });
  after(() => ca.close());

  const scrape = async () => {
    const res = await ca.server.app.inject({ method: 'GET', url: '/metrics' });
    assert.equal(res.statusCode, 200);
    assert.match(String(res.headers['content-type']), /^text\/plain; version=0\.0\.4/);
    assert.equal(res.headers['replay-nonce'], undefined);
    return res.body;
  };

  it('counts requests by route pattern, issuances, validations, revocations, nonces and EAB keys', async () => {
    const client = ca.client();
    await client.newAccount({
      termsOfServiceAgreed: true,
      externalAccountBinding: { kid: 'metrics-key', hmacKey },
    });
    const pem = await issue(ca, client, 'metrics.example.localhost');
    // A validation that fails: nothing answers the challenge.
    const { order } = await client.newOrder({
      identifiers: [{ type: 'dns', value: 'nothing.example.localhost' }],
    });
    const authz = await client.getAuthorization(order.authorizations[0]!);
    await client.respondChallenge(authz.challenges.find((c) => c.type === 'http-01')!.url);
    await assert.rejects(client.waitForAuthorization(order.authorizations[0]!), {
      resourceStatus: 'invalid',
    });
    await client.revokeCertificate(pemToDer(pem)[0]!);
    await ca.server.app.inject({ method: 'GET', url: '/no/such/thing/abc123' });

    const text = await scrape();
    assert.equal(sample(text, 'akamu_certificates_issued_total'), 1);
    assert.equal(sample(text, 'akamu_validations_total{type="http-01",outcome="valid"}'), 1);
    assert.equal(sample(text, 'akamu_validations_total{type="http-01",outcome="invalid"}'), 1);
    assert.equal(sample(text, 'akamu_revocations_total'), 1);
    assert.equal(sample(text, 'akamu_eab_keys_consumed_total'), 1);
    assert.equal(
      sample(text, 'akamu_http_requests_total{route="/acme/new-order",method="POST",status="201"}'),
      2,
    );
    assert.equal(
      sample(text, 'akamu_http_requests_total{route="/acme/order/:id/finalize",method="POST",status="200"}'),
      1,
    );
    assert.equal(sample(text, 'akamu_http_requests_total{route="unmatched",method="GET",status="404"}'), 1);
    assert.doesNotMatch(text, /abc123/, 'raw URLs never become labels');
    assert.ok(
      (sample(text, 'akamu_http_request_duration_seconds_count{route="/acme/new-order",method="POST"}') ??
        0) >= 2,
    );
    const accepted = sample(text, 'akamu_nonce_redemptions_total{outcome="accepted"}') ?? 0;
    assert.ok(accepted >= 10, `nonces redeemed: ${accepted}`);
    assert.ok((sample(text, 'akamu_nonces_issued_total') ?? 0) >= accepted);
    assert.equal(sample(text, 'akamu_rate_limit_refusals_total'), undefined, 'no refusals yet');
    assert.match(text, /^akamu_process_cpu_seconds_total /m, 'process metrics');
    // The database pool where the driver tells it (PostgreSQL, MariaDB).
    if (currentBackend() !== 'sqlite') {
      assert.ok(sample(text, 'akamu_db_pool_connections{state="idle"}') !== undefined, text);
      assert.ok(sample(text, 'akamu_db_pool_connections{state="in_use"}') !== undefined);
    }
  });

  it('counts a refused nonce', async () => {
    const before = sample(await scrape(), 'akamu_nonce_redemptions_total{outcome="refused"}') ?? 0;
    const dir = await ca.client().directory();
    const nonce = (await ca.server.app.inject({ method: 'HEAD', url: '/acme/new-nonce' })).headers[
      'replay-nonce'
    ] as string;
    const signer = new JwsSigner(generateKey('ec:P-256'));
    const jws = signer.sign(
      { alg: signer.alg, jwk: signer.jwk, nonce, url: dir.newAccount },
      b64u(JSON.stringify({ termsOfServiceAgreed: true })),
    );
    const post = () =>
      ca.server.app.inject({
        method: 'POST',
        url: '/acme/new-account',
        headers: { 'content-type': 'application/jose+json', host: new URL(dir.newAccount).host },
        payload: JSON.stringify(jws),
      });
    assert.equal((await post()).statusCode, 201);
    const replayed = await post();
    assert.equal(replayed.statusCode, 400);
    assert.equal(replayed.json().type, 'urn:ietf:params:acme:error:badNonce');
    const after = sample(await scrape(), 'akamu_nonce_redemptions_total{outcome="refused"}') ?? 0;
    assert.equal(after, before + 1);
  });
});

describe('metrics configuration', () => {
  it('[metrics] enabled = false serves no metrics; path moves them', async () => {
    const off = await startTestCa({ metrics: { enabled: false } });
    const moved = await startTestCa({ metrics: { path: '/internal/prometheus' } });
    try {
      assert.equal((await off.server.app.inject({ method: 'GET', url: '/metrics' })).statusCode, 404);
      assert.equal((await moved.server.app.inject({ method: 'GET', url: '/metrics' })).statusCode, 404);
      const res = await moved.server.app.inject({ method: 'GET', url: '/internal/prometheus' });
      assert.equal(res.statusCode, 200);
      assert.match(res.body, /akamu_http_requests_total/);
    } finally {
      await off.close();
      await moved.close();
    }
  });
});

describe('structured logs', () => {
  const lines: Record<string, unknown>[] = [];
  const raw: string[] = [];
  let ca: TestCa;
  const hmacKey = randomBytes(32);
  before(async () => {
    const stream = {
      write(line: string) {
        raw.push(line);
        lines.push(JSON.parse(line));
      },
    };
    ca = await startTestCa(
      {
        eab: { keys: { 'log-key': { hmac_key: b64u(hmacKey) } } },
        server: { trusted_proxies: ['127.0.0.1', '::1'] },
      },
      { logger: { level: 'trace', stream } },
    );
  });
  after(() => ca.close());

  it('every request is logged as JSON with its request id, echoed in X-Request-Id', async () => {
    const res = await ca.server.app.inject({ method: 'GET', url: '/healthz', remoteAddress: '10.1.2.3' });
    const id = res.headers['x-request-id'];
    assert.match(String(id), /^[0-9a-f-]{36}$/, 'a generated UUID');
    const mine = lines.filter((l) => l.reqId === id);
    assert.ok(mine.some((l) => l.msg === 'incoming request'));
    assert.ok(mine.some((l) => l.msg === 'request completed'));
  });

  it('takes X-Request-Id from a trusted proxy only', async () => {
    const trusted = await ca.server.app.inject({
      method: 'GET',
      url: '/healthz',
      headers: { 'x-request-id': 'proxy-id-1' },
      remoteAddress: '127.0.0.1',
    });
    assert.equal(trusted.headers['x-request-id'], 'proxy-id-1');
    assert.ok(lines.some((l) => l.reqId === 'proxy-id-1'));
    const untrusted = await ca.server.app.inject({
      method: 'GET',
      url: '/healthz',
      headers: { 'x-request-id': 'forged-id' },
      remoteAddress: '192.0.2.7',
    });
    assert.notEqual(untrusted.headers['x-request-id'], 'forged-id');
    assert.ok(!lines.some((l) => l.reqId === 'forged-id'));
    const malformed = await ca.server.app.inject({
      method: 'GET',
      url: '/healthz',
      headers: { 'x-request-id': 'bad id\nwith newline' },
      remoteAddress: '127.0.0.1',
    });
    assert.match(String(malformed.headers['x-request-id']), /^[0-9a-f-]{36}$/);
  });

  it('never writes secrets: Authorization, JWS signatures, EAB MAC keys, tokens', async () => {
    // A real EAB registration at trace level.
    const client = ca.client();
    await client.newAccount({
      termsOfServiceAgreed: true,
      externalAccountBinding: { kid: 'log-key', hmacKey },
    });
    // What a handler might log: the redaction applies to every log call.
    ca.server.app.log.info(
      {
        headers: { authorization: 'Bearer s3cr3t-bearer' },
        body: {
          protected: 'p',
          payload: {
            externalAccountBinding: { protected: 'q', payload: 'r', signature: 'eab-signature-value' },
          },
          signature: 'jws-signature-value',
        },
        key: { hmac_key: 'mac-key-value', hmacKey: 'mac-key-camel' },
        token: 'admin-token-value',
      },
      'logging a request body',
    );
    const text = raw.join('');
    for (const secret of [
      's3cr3t-bearer',
      'jws-signature-value',
      'eab-signature-value',
      'mac-key-value',
      'mac-key-camel',
      'admin-token-value',
      b64u(hmacKey),
    ]) {
      assert.ok(!text.includes(secret), `the log contains ${secret}`);
    }
    const logged = lines.find((l) => l.msg === 'logging a request body') as unknown as {
      headers: { authorization: string };
      body: {
        protected: string;
        signature: string;
        payload: { externalAccountBinding: { signature: string } };
      };
      key: { hmac_key: string };
      token: string;
    };
    assert.equal(logged.headers.authorization, '[Redacted]');
    assert.equal(logged.body.signature, '[Redacted]');
    assert.equal(logged.body.payload.externalAccountBinding.signature, '[Redacted]');
    assert.equal(logged.body.protected, 'p', 'what is not secret stays');
    assert.equal(logged.key.hmac_key, '[Redacted]');
    assert.equal(logged.token, '[Redacted]');
  });
});
