import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import https from 'node:https';
import { after, before, describe, it } from 'node:test';
import { generateKey, JwsSigner } from '@akamu/client';
import { b64u } from '@akamu/protocol';
import { startTestCa, type TestCa } from '../helpers.ts';

interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  json: () => Record<string, unknown>;
}

/** Bad input of every kind gets an RFC 7807 problem with the right type and status: never a 500 or a hang. */
describe('robustness', () => {
  let ca: TestCa;
  let signer: JwsSigner;
  let kid: string;
  before(async () => {
    ca = await startTestCa();
    const client = await ca.account();
    signer = new JwsSigner(client.accountKey);
    kid = client.accountUrl!;
  });
  after(() => ca.close());

  const url = (path: string) => new URL(path, ca.directoryUrl).href;

  function raw(
    method: string,
    target: string,
    body?: string | Buffer,
    contentType = 'application/jose+json',
  ): Promise<RawResponse> {
    return new Promise((resolve, reject) => {
      const req = https.request(
        target,
        {
          method,
          ca: ca.caBundle,
          headers: body === undefined ? {} : { 'content-type': contentType },
          timeout: 20_000,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c) => chunks.push(c));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString();
            resolve({
              status: res.statusCode!,
              headers: res.headers,
              body: text,
              json: () => JSON.parse(text),
            });
          });
        },
      );
      req.on('error', reject);
      req.on('timeout', () => req.destroy(new Error('timeout')));
      if (body !== undefined) req.write(body);
      req.end();
    });
  }

  async function nonce(): Promise<string> {
    const r = await raw('HEAD', url('/acme/new-nonce'));
    return r.headers['replay-nonce'] as string;
  }

  async function signed(path: string, payload: object | '', header: Record<string, unknown> = {}) {
    const h = { nonce: await nonce(), url: url(path), kid, ...header };
    return JSON.stringify(signer.sign(h, payload === '' ? '' : b64u(JSON.stringify(payload))));
  }

  function assertProblem(r: RawResponse, type: string, status: number) {
    assert.equal(r.status, status, r.body);
    assert.match(String(r.headers['content-type']), /^application\/problem\+json/);
    assert.equal(r.json().type, `urn:ietf:params:acme:error:${type}`, r.body);
    assert.ok(r.headers['replay-nonce'], 'every response carries a fresh nonce');
  }

  it('serves new-nonce as HEAD 200 and GET 204, not cacheable', async () => {
    const head = await raw('HEAD', url('/acme/new-nonce'));
    assert.equal(head.status, 200);
    assert.equal(head.headers['cache-control'], 'no-store');
    assert.match(String(head.headers.link), /rel="index"/);
    const get = await raw('GET', url('/acme/new-nonce'));
    assert.equal(get.status, 204);
    assert.notEqual(get.headers['replay-nonce'], head.headers['replay-nonce']);
  });

  it('refuses other content types (415), oversized bodies (413) and non-JSON (400)', async () => {
    assertProblem(await raw('POST', url('/acme/new-order'), '{}', 'application/json'), 'malformed', 415);
    assertProblem(
      await raw('POST', url('/acme/new-order'), Buffer.alloc(10 * 1024 * 1024, 0x61)),
      'malformed',
      413,
    );
    assertProblem(await raw('POST', url('/acme/new-order'), '{"protected":"x'), 'malformed', 400);
    assertProblem(await raw('POST', url('/acme/new-order'), '[]'), 'malformed', 400);
    assertProblem(await raw('POST', url('/acme/new-order'), '{}'), 'malformed', 400);
  });

  it('refuses truncated and general-serialization JWS', async () => {
    const good = JSON.parse(await signed('/acme/new-order', { identifiers: [] }));
    assertProblem(
      await raw(
        'POST',
        url('/acme/new-order'),
        JSON.stringify({ ...good, protected: good.protected.slice(0, 10) }),
      ),
      'malformed',
      400,
    );
    assertProblem(
      await raw(
        'POST',
        url('/acme/new-order'),
        JSON.stringify({ ...good, signature: good.signature.slice(0, 20) }),
      ),
      'malformed',
      400,
    );
    assertProblem(
      await raw(
        'POST',
        url('/acme/new-order'),
        JSON.stringify({
          payload: good.payload,
          signatures: [{ protected: good.protected, signature: good.signature }],
        }),
      ),
      'malformed',
      400,
    );
    assertProblem(
      await raw('POST', url('/acme/new-order'), JSON.stringify({ ...good, header: { kid } })),
      'malformed',
      400,
    );
  });

  it('refuses MAC algorithms and "none" with badSignatureAlgorithm listing the accepted ones', async () => {
    for (const alg of ['none', 'HS256', 'RS1']) {
      const prot = b64u(JSON.stringify({ alg, nonce: await nonce(), url: url('/acme/new-order'), kid }));
      const r = await raw(
        'POST',
        url('/acme/new-order'),
        JSON.stringify({ protected: prot, payload: b64u('{}'), signature: '' }),
      );
      assertProblem(r, 'badSignatureAlgorithm', 400);
      assert.deepEqual(r.json().algorithms, [
        'RS256',
        'PS256',
        'ES256',
        'ES384',
        'ES512',
        'EdDSA',
        'ML-DSA-44',
        'ML-DSA-65',
        'ML-DSA-87',
      ]);
    }
  });

  it('requires exactly one of jwk and kid, and the request URL in "url"', async () => {
    assertProblem(
      await raw('POST', url('/acme/new-order'), await signed('/acme/new-order', {}, { jwk: signer.jwk })),
      'malformed',
      400,
    );
    assertProblem(
      await raw('POST', url('/acme/new-order'), await signed('/acme/new-order', {}, { kid: undefined })),
      'malformed',
      400,
    );
    assertProblem(
      await raw(
        'POST',
        url('/acme/new-order'),
        await signed('/acme/new-order', {}, { url: url('/acme/new-account') }),
      ),
      'unauthorized',
      403,
    );
    assertProblem(
      await raw(
        'POST',
        url('/acme/new-order'),
        await signed('/acme/new-order', {}, { kid: url('/acme/account/nosuchaccount') }),
      ),
      'accountDoesNotExist',
      400,
    );
  });

  it('refuses a bad signature, a missing nonce, a reused nonce and a forged nonce (badNonce)', async () => {
    const good = JSON.parse(
      await signed('/acme/new-order', { identifiers: [{ type: 'dns', value: 'n.example.localhost' }] }),
    );
    const other = JSON.parse(
      await signed('/acme/new-order', { identifiers: [{ type: 'dns', value: 'm.example.localhost' }] }),
    );
    assertProblem(
      await raw('POST', url('/acme/new-order'), JSON.stringify({ ...good, signature: other.signature })),
      'malformed',
      400,
    );
    assertProblem(
      await raw('POST', url('/acme/new-order'), await signed('/acme/new-order', {}, { nonce: undefined })),
      'badNonce',
      400,
    );
    const first = await raw('POST', url('/acme/new-order'), JSON.stringify(good));
    assert.equal(first.status, 201, first.body);
    assertProblem(await raw('POST', url('/acme/new-order'), JSON.stringify(good)), 'badNonce', 400);
    const forged = b64u(randomBytes(32));
    assertProblem(
      await raw('POST', url('/acme/new-order'), await signed('/acme/new-order', {}, { nonce: forged })),
      'badNonce',
      400,
    );
  });

  it('checks signatures on pool threads under concurrency: good ones pass, swapped ones are refused', async () => {
    const bodies = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        signed('/acme/new-order', { identifiers: [{ type: 'dns', value: `p${i}.example.localhost` }] }),
      ),
    );
    const parsed = bodies.map((b) => JSON.parse(b));
    // Odd requests carry the signature of their neighbour: valid base64url of the right size, wrong data.
    const sent = parsed.map((jws, i) => (i % 2 === 0 ? jws : { ...jws, signature: parsed[i - 1].signature }));
    const answers = await Promise.all(
      sent.map((jws) => raw('POST', url('/acme/new-order'), JSON.stringify(jws))),
    );
    for (const [i, answer] of answers.entries()) {
      if (i % 2 === 0) assert.equal(answer.status, 201, answer.body);
      else assertProblem(answer, 'malformed', 400);
    }
  });

  it('accepts a nonce issued before a restart, exactly once', async () => {
    const n = await nonce();
    await ca.restart();
    const body = await signed('/acme/account/' + kid.split('/').at(-1), '', { nonce: n });
    const first = await raw('POST', kid, body);
    assert.equal(first.status, 200, first.body);
    assertProblem(await raw('POST', kid, body), 'badNonce', 400);
  });

  it('answers a CSR of garbage with badCSR and unknown resources with 404 problems', async () => {
    const order = await raw(
      'POST',
      url('/acme/new-order'),
      await signed('/acme/new-order', { identifiers: [{ type: 'dns', value: 'g.example.localhost' }] }),
    );
    const finalize = order.json().finalize as string;
    const path = new URL(finalize).pathname;
    assertProblem(
      await raw('POST', finalize, await signed(path, { csr: b64u(randomBytes(200)) })),
      'orderNotReady',
      403,
    );
    assertProblem(
      await raw('POST', url('/acme/order/nope'), await signed('/acme/order/nope', '')),
      'malformed',
      404,
    );
    assertProblem(await raw('GET', url('/acme/no-such-thing')), 'malformed', 404);
    assertProblem(await raw('GET', url('/acme/new-order')), 'malformed', 404);
  });

  it('never answers 500 to randomly corrupted requests', async () => {
    const paths = [
      '/acme/new-account',
      '/acme/new-order',
      '/acme/revoke-cert',
      '/acme/key-change',
      '/acme/account/x',
    ];
    for (let i = 0; i < 60; i++) {
      const path = paths[i % paths.length]!;
      const body = Buffer.from(
        await signed(path, {
          identifiers: [{ type: 'dns', value: 'f.example.localhost' }],
          csr: 'AAAA',
          certificate: 'AAAA',
        }),
      );
      for (let j = 0; j < 1 + (i % 4); j++)
        body[Math.floor(Math.random() * body.length)] = Math.floor(Math.random() * 256);
      const r = await raw('POST', url(path), body);
      assert.ok(r.status >= 200 && r.status < 500, `${path}: ${r.status} ${r.body}`);
      if (r.status >= 400) assert.match(String(r.headers['content-type']), /problem\+json/);
    }
  });

  it('rejects account keys that are too weak or of the wrong kind', async () => {
    const weak = new JwsSigner(generateKey('rsa:2048'));
    const jwk = { ...weak.jwk, n: b64u(randomBytes(128)) }; // 1024-bit modulus
    const prot = b64u(
      JSON.stringify({ alg: 'RS256', nonce: await nonce(), url: url('/acme/new-account'), jwk }),
    );
    const r = await raw(
      'POST',
      url('/acme/new-account'),
      JSON.stringify({ protected: prot, payload: b64u('{}'), signature: b64u(randomBytes(128)) }),
    );
    assertProblem(r, 'badPublicKey', 400);
  });
});
