/**
 * HttpTransport limits and error mapping, against a local node:http server that misbehaves on
 * purpose (what Pebble cannot be made to do: huge or stalled responses, bare 502s).
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import {
  AcmeProblemError,
  AcmeTimeoutError,
  AcmeTransportError,
  generateKey,
  HttpTransport,
  JwsSigner,
} from '../src/index.ts';
import { type HttpResponse, links, location, retryAfterMs } from '../src/transport.ts';

describe('HttpTransport', () => {
  let server: Server;
  let base: string;
  let connections = 0;

  before(async () => {
    server = createServer((req, res) => {
      switch (req.url) {
        case '/problem':
          res.writeHead(403, { 'content-type': 'application/problem+json', 'replay-nonce': 'from-problem' });
          res.end(
            JSON.stringify({
              type: 'urn:ietf:params:acme:error:compound',
              detail: 'two things',
              subproblems: [
                { type: 'urn:ietf:params:acme:error:caa', identifier: { type: 'dns', value: 'a.example' } },
              ],
            }),
          );
          return;
        case '/bad-gateway':
          res.writeHead(502, { 'content-type': 'text/html' }).end('<h1>bad gateway</h1>');
          return;
        case '/huge':
          res
            .writeHead(200, { 'content-type': 'application/json', 'content-length': 2048 })
            .end('x'.repeat(2048));
          return;
        case '/huge-chunked':
          res.writeHead(200, { 'content-type': 'application/json' });
          for (let i = 0; i < 8; i++) res.write('y'.repeat(512));
          res.end();
          return;
        case '/stall':
          return; // never answers
        default:
          res
            .writeHead(200, { 'content-type': 'application/json', 'replay-nonce': `n-${req.url}` })
            .end('{}');
      }
    });
    server.on('connection', () => connections++);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  after(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  test('problem documents become AcmeProblemError with status, type and subproblems', async () => {
    const transport = new HttpTransport();
    await assert.rejects(transport.request('GET', `${base}/problem`), (error: unknown) => {
      assert.ok(error instanceof AcmeProblemError);
      assert.equal(error.code, 'ERR_ACME_PROBLEM');
      assert.equal(error.status, 403);
      assert.equal(error.type, 'urn:ietf:params:acme:error:compound');
      assert.ok(error.isType('compound'));
      assert.equal(error.subproblems.length, 1);
      assert.equal(error.subproblems[0]?.identifier?.value, 'a.example');
      assert.equal(error.url, `${base}/problem`);
      return true;
    });
    transport.close();
  });

  test('an HTTP error without a problem document is an AcmeTransportError', async () => {
    const transport = new HttpTransport();
    await assert.rejects(transport.request('GET', `${base}/bad-gateway`), (error: unknown) => {
      assert.ok(error instanceof AcmeTransportError);
      assert.equal(error.statusCode, 502);
      return true;
    });
    transport.close();
  });

  test('responses over maxResponseBytes are cut off, declared or streamed', async () => {
    const transport = new HttpTransport({ maxResponseBytes: 1024 });
    for (const path of ['/huge', '/huge-chunked']) {
      await assert.rejects(transport.request('GET', `${base}${path}`), /exceeds 1024 bytes/);
    }
    transport.close();
  });

  test('a stalled response times out with AcmeTimeoutError', async () => {
    const transport = new HttpTransport({ timeoutMs: 150 });
    const started = performance.now();
    await assert.rejects(transport.request('GET', `${base}/stall`), AcmeTimeoutError);
    assert.ok(performance.now() - started < 2000);
    transport.close();
  });

  test('an aborted signal rejects with its reason', async () => {
    const transport = new HttpTransport();
    const reason = new Error('stop');
    const controller = new AbortController();
    const pending = transport.request('GET', `${base}/stall`, { signal: controller.signal });
    setTimeout(() => controller.abort(reason), 20);
    await assert.rejects(pending, (error) => error === reason);
    transport.close();
  });

  test('keep-alive: sequential requests reuse one connection; Replay-Nonce headers fill the pool', async () => {
    const transport = new HttpTransport();
    const before = connections;
    for (let i = 0; i < 5; i++) await transport.request('GET', `${base}/ok${i}`);
    assert.equal(connections - before, 1);
    assert.equal(transport.pooledNonces, 5);
    assert.equal(await transport.takeNonce(`${base}/unused`), 'n-/ok4', 'newest first');
    assert.equal(transport.stats.nonceFetches, 0);
    transport.close();
  });

  test('request bodies over maxRequestBytes are refused before sending', async () => {
    const transport = new HttpTransport({ maxRequestBytes: 64 });
    transport.putNonce('n');
    await assert.rejects(
      transport.post(`${base}/ok`, { big: 'z'.repeat(100) }, new JwsSigner(generateKey('ec:P-256')), {
        nonceUrl: `${base}/n`,
      }),
      /request body exceeds 64 bytes/,
    );
    assert.equal(transport.stats.requests, 0);
    transport.close();
  });
});

function response(headers: HttpResponse['headers'], url = 'https://ca.example/acme/order/1'): HttpResponse {
  return { url, status: 200, headers, body: Buffer.alloc(0) };
}

test('links() resolves RFC 8288 Link targets by rel, across and within headers', () => {
  const res = response({
    link: '<https://ca.example/dir>;rel="index", </acme/orders/2>; rel=next, <alt/1>;rel="alternate", <alt/2>; title="x"; rel="alternate up"',
  });
  assert.deepEqual(links(res, 'next'), ['https://ca.example/acme/orders/2']);
  assert.deepEqual(links(res, 'alternate'), [
    'https://ca.example/acme/order/alt/1',
    'https://ca.example/acme/order/alt/2',
  ]);
  assert.deepEqual(links(res, 'index'), ['https://ca.example/dir']);
  assert.deepEqual(links(response({}), 'next'), []);
});

test('retryAfterMs() reads delay-seconds and HTTP-dates', () => {
  const now = Date.parse('2026-01-01T00:00:00Z');
  assert.equal(retryAfterMs(response({ 'retry-after': '3' }), now), 3000);
  assert.equal(retryAfterMs(response({ 'retry-after': 'Thu, 01 Jan 2026 00:00:10 GMT' }), now), 10_000);
  assert.equal(retryAfterMs(response({ 'retry-after': 'Wed, 31 Dec 2025 00:00:00 GMT' }), now), 0);
  assert.equal(retryAfterMs(response({ 'retry-after': 'soon' }), now), undefined);
  assert.equal(retryAfterMs(response({}), now), undefined);
});

test('location() resolves relative Location headers and requires one', () => {
  assert.equal(location(response({ location: '/acme/acct/7' })), 'https://ca.example/acme/acct/7');
  assert.throws(() => location(response({})), AcmeTransportError);
});
