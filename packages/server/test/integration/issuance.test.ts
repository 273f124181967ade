import assert from 'node:assert/strict';
import { createPublicKey, X509Certificate } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { AcmeProblemError, createCsr, generateKey, Http01Solver, JwsSigner } from '@akamu/client';
import { pemToDer } from '@akamu/protocol';
import { startTestCa, type TestCa } from '../helpers.ts';

/** The RFC 8555 issuance flow end to end: real HTTPS server, real SQLite, real http-01 responder. */
describe('issuance', () => {
  let ca: TestCa;
  before(async () => {
    ca = await startTestCa();
  });
  after(() => ca.close());

  async function issue(client: Awaited<ReturnType<TestCa['account']>>, names: string[], ips: string[] = []) {
    const identifiers = [
      ...names.map((value) => ({ type: 'dns', value })),
      ...ips.map((value) => ({ type: 'ip', value })),
    ];
    const { url, order } = await client.newOrder({ identifiers });
    assert.equal(order.status, 'pending');
    for (const authzUrl of order.authorizations) {
      const authz = await client.getAuthorization(authzUrl);
      const challenge = authz.challenges.find((c) => c.type === 'http-01')!;
      await ca.solver.present(authz.identifier, challenge, client.keyAuthorization(challenge.token));
      await client.respondChallenge(challenge.url);
      const done = await client.waitForAuthorization(authzUrl);
      assert.equal(done.status, 'valid', JSON.stringify(done));
    }
    const ready = await client.waitForOrder(url, ['ready']);
    const key = generateKey('ec:P-256');
    const finalized = await client.finalize(ready, createCsr({ key, dnsNames: names, ipAddresses: ips }));
    const valid = finalized.status === 'valid' ? finalized : await client.waitForOrder(url, ['valid']);
    const { pem } = await client.downloadCertificate(valid.certificate!);
    return { pem, key, orderUrl: url, order: valid };
  }

  it('issues a certificate for two names that chains to the root', async () => {
    const client = await ca.account();
    const { pem, key } = await issue(client, ['www.example.localhost', 'api.example.localhost']);
    const [leafDer, issuerDer] = pemToDer(pem);
    assert.ok(leafDer && issuerDer, 'leaf and intermediate');
    const leaf = new X509Certificate(leafDer);
    const issuer = new X509Certificate(issuerDer);
    const root = new X509Certificate(ca.caBundle);
    assert.ok(leaf.verify(issuer.publicKey), 'signed by the intermediate');
    assert.ok(issuer.verify(root.publicKey), 'intermediate signed by the root');
    assert.equal(leaf.subjectAltName, 'DNS:www.example.localhost, DNS:api.example.localhost');
    assert.ok(leaf.publicKey.equals(createPublicKey(key)), 'certificate carries the CSR key');
    assert.match(leaf.serialNumber, /^[0-9A-F]{32,34}$/);
    const days = (Date.parse(leaf.validTo) - Date.parse(leaf.validFrom)) / 86_400_000;
    assert.ok(days > 89.9 && days < 90.1, `90 days, got ${days}`);
  });

  it('serves the PEM chain without rel="up", DER with rel="up" to the issuer (RFC 8555 §7.4.2)', async () => {
    const client = await ca.account();
    const { pem, order } = await issue(client, ['formats.example.localhost']);
    const [leafDer, issuerDer] = pemToDer(pem);
    const dir = await client.directory();
    const fetch = (url: string, accept: string) =>
      client.transport.post(url, '', new JwsSigner(client.accountKey), {
        nonceUrl: dir.newNonce,
        kid: client.accountUrl!,
        accept,
      });
    const links = (res: { headers: Record<string, string | string[] | undefined> }) =>
      [res.headers.link ?? []].flat().join(', ');

    // The chain is in the body: an "up" link would make clients that follow it (acmez) repeat the issuer.
    for (const accept of ['application/pem-certificate-chain', '*/*', 'application/pkix-cert;q=0.5, */*']) {
      const res = await fetch(order.certificate!, accept);
      assert.equal(res.headers['content-type'], 'application/pem-certificate-chain', accept);
      assert.equal(res.body.toString('utf8'), pem, accept);
      assert.doesNotMatch(links(res), /rel="up"/, accept);
      assert.match(links(res), /rel="index"/);
    }

    // One certificate (RFC 2585): the leaf alone, and where its issuer is.
    const der = await fetch(
      order.certificate!,
      'application/pkix-cert, application/pem-certificate-chain;q=0.9',
    );
    assert.equal(der.headers['content-type'], 'application/pkix-cert');
    assert.deepEqual(der.body, leafDer);
    const up = /<([^>]+)>;rel="up"/.exec(links(der))?.[1];
    assert.equal(up, new URL('/acme/issuer', ca.directoryUrl).href);

    // The issuer answers POST-as-GET (how a client follows "up") and GET, in either format.
    const issuerByPost = await fetch(up!, 'application/pkix-cert');
    assert.equal(issuerByPost.headers['content-type'], 'application/pkix-cert');
    assert.deepEqual(issuerByPost.body, issuerDer);
    assert.ok(new X509Certificate(leafDer!).verify(new X509Certificate(issuerByPost.body).publicKey));
    const chainByPost = await fetch(up!, 'application/pem-certificate-chain');
    assert.equal(chainByPost.body.toString('utf8'), pem.slice(pem.indexOf('-----BEGIN', 1)));
    const chainByGet = await client.transport.request('GET', up!, { accept: '*/*' });
    assert.equal(chainByGet.headers['content-type'], 'application/pem-certificate-chain');
    assert.equal(chainByGet.body.toString('utf8'), chainByPost.body.toString('utf8'));
    const derByGet = await client.transport.request('GET', up!, { accept: 'application/pkix-cert' });
    assert.deepEqual(derByGet.body, issuerDer);

    // POST-as-GET needs an account like every other resource.
    const stranger = ca.client();
    await assert.rejects(
      stranger.transport.post(up!, '', new JwsSigner(stranger.accountKey), {
        nonceUrl: dir.newNonce,
        kid: new URL('/acme/account/nobody', ca.directoryUrl).href,
      }),
      (e: unknown) => e instanceof AcmeProblemError && e.isType('accountDoesNotExist'),
    );
  });

  it('issues concurrently: signatures checked on pool threads while other requests are in flight', async () => {
    const clients = await Promise.all(Array.from({ length: 6 }, () => ca.account()));
    const results = await Promise.all(
      clients.map((client, i) => issue(client, [`concurrent-${i}.example.localhost`])),
    );
    for (const [i, { pem }] of results.entries()) {
      const leaf = new X509Certificate(pemToDer(pem)[0]!);
      assert.equal(leaf.subjectAltName, `DNS:concurrent-${i}.example.localhost`);
    }
  });

  it('issues for an IP identifier (RFC 8738)', async () => {
    const client = await ca.account();
    const { pem } = await issue(client, [], ['127.0.0.1']);
    const leaf = new X509Certificate(pemToDer(pem)[0]!);
    assert.equal(leaf.subjectAltName, 'IP Address:127.0.0.1');
  });

  it('issues for ::1 over IPv6: http-01 fetched from http://[::1]:port/', async () => {
    // The solver's tokens, answered on the IPv6 loopback at the port the validator uses.
    const v6 = new Http01Solver({ port: ca.solver.port, host: '::1' });
    await v6.start();
    try {
      const client = await ca.account();
      const { url, order } = await client.newOrder({ identifiers: [{ type: 'ip', value: '0:0::1' }] });
      assert.deepEqual(order.identifiers, [{ type: 'ip', value: '::1' }], 'RFC 5952 canonical form');
      const authz = await client.getAuthorization(order.authorizations[0]!);
      const challenge = authz.challenges.find((c) => c.type === 'http-01')!;
      await v6.present(authz.identifier, challenge, client.keyAuthorization(challenge.token));
      await client.respondChallenge(challenge.url);
      assert.equal((await client.waitForAuthorization(order.authorizations[0]!)).status, 'valid');
      const ready = await client.waitForOrder(url, ['ready']);
      const valid = await client.finalize(
        ready,
        createCsr({ key: generateKey('ec:P-256'), ipAddresses: ['::1'] }),
      );
      const { pem } = await client.downloadCertificate(valid.certificate!);
      assert.equal(new X509Certificate(pemToDer(pem)[0]!).subjectAltName, 'IP Address:0:0:0:0:0:0:0:1');
    } finally {
      await v6.stop();
    }
  });

  it('reuses a valid authorization of the same account, not of another', async () => {
    const client = await ca.account();
    const first = await issue(client, ['reuse.example.localhost']);
    const again = await client.newOrder({ identifiers: [{ type: 'dns', value: 'reuse.example.localhost' }] });
    assert.equal(again.order.status, 'ready');
    assert.deepEqual(again.order.authorizations, first.order.authorizations);
    const other = await ca.account();
    const theirs = await other.newOrder({ identifiers: [{ type: 'dns', value: 'reuse.example.localhost' }] });
    assert.equal(theirs.order.status, 'pending');
    assert.notDeepEqual(theirs.order.authorizations, first.order.authorizations);
  });

  it('answers an authorization poll when the validation running in this process ends', async () => {
    const client = await ca.account();
    const { order } = await client.newOrder({
      identifiers: [{ type: 'dns', value: 'hold.example.localhost' }],
    });
    const authz = await client.getAuthorization(order.authorizations[0]!);
    const challenge = authz.challenges.find((c) => c.type === 'http-01')!;
    await ca.solver.present(authz.identifier, challenge, client.keyAuthorization(challenge.token));
    const answered = await client.respondChallenge(challenge.url);
    assert.equal(answered.status, 'processing', 'the challenge answer does not wait for validation');
    const polled = await client.getAuthorization(order.authorizations[0]!);
    assert.equal(polled.status, 'valid', 'one poll is enough: it was held until the validation ended');
    const validated = polled.challenges.find((c) => c.type === 'http-01')!;
    assert.equal(validated.status, 'valid');
    assert.ok(validated.validated);
  });

  it('records a failed http-01 validation with its error and makes the order invalid', async () => {
    const client = await ca.account();
    const { url, order } = await client.newOrder({
      identifiers: [{ type: 'dns', value: 'nobody.example.localhost' }],
    });
    const authz = await client.getAuthorization(order.authorizations[0]!);
    const challenge = authz.challenges.find((c) => c.type === 'http-01')!;
    await client.respondChallenge(challenge.url); // nothing presented: the responder answers 404
    await assert.rejects(client.waitForAuthorization(order.authorizations[0]!), /invalid/);
    const failed = await client.getAuthorization(order.authorizations[0]!);
    assert.equal(failed.status, 'invalid');
    const err = failed.challenges.find((c) => c.type === 'http-01')!.error!;
    assert.equal(err.type, 'urn:ietf:params:acme:error:unauthorized');
    assert.deepEqual(err.identifier, { type: 'dns', value: 'nobody.example.localhost' });
    assert.equal((await client.getOrder(url)).status, 'invalid');
  });

  it('refuses bad identifiers with one subproblem each', async () => {
    const client = await ca.account();
    const err = await client
      .newOrder({
        identifiers: [
          { type: 'dns', value: 'ok.example.localhost' },
          { type: 'dns', value: 'bad_name.example' },
          { type: 'email', value: 'a@b.c' },
        ],
      })
      .catch((e) => e);
    assert.ok(err instanceof AcmeProblemError);
    assert.equal(err.type, 'urn:ietf:params:acme:error:compound');
    const subs = err.problem.subproblems!;
    assert.deepEqual(
      subs
        .map((s) => [s.type.split(':').at(-1), s.identifier?.value])
        .sort((a, b) => String(a[1]).localeCompare(String(b[1]))),
      [
        ['unsupportedIdentifier', 'a@b.c'],
        ['rejectedIdentifier', 'bad_name.example'],
      ],
    );
  });

  it('never offers http-01 for a wildcard (RFC 8555 §7.1.3)', async () => {
    const client = await ca.account();
    const result = await client
      .newOrder({ identifiers: [{ type: 'dns', value: '*.wild.example.localhost' }] })
      .then(async ({ order }) =>
        (await client.getAuthorization(order.authorizations[0]!)).challenges.map((c) => c.type),
      )
      .catch((e: AcmeProblemError) => e.type);
    if (Array.isArray(result)) assert.ok(!result.includes('http-01'), `offered: ${result.join(', ')}`);
    else
      assert.equal(
        result,
        'urn:ietf:params:acme:error:rejectedIdentifier',
        'no challenge type can validate it',
      );
  });

  it('refuses to finalize an order that is not ready, and CSRs that do not match', async () => {
    const client = await ca.account();
    const { order } = await client.newOrder({
      identifiers: [{ type: 'dns', value: 'early.example.localhost' }],
    });
    const key = generateKey('ec:P-256');
    const early = await client
      .finalize(order, createCsr({ key, dnsNames: ['early.example.localhost'] }))
      .catch((e) => e);
    assert.equal(early.type, 'urn:ietf:params:acme:error:orderNotReady');
    assert.equal(early.status, 403);

    const { order: ready } = await issueUntilReady(client, 'csr.example.localhost');
    const extra = await client
      .finalize(ready, createCsr({ key, dnsNames: ['csr.example.localhost', 'other.example.localhost'] }))
      .catch((e) => e);
    assert.equal(extra.type, 'urn:ietf:params:acme:error:badCSR');
    const accountKey = await client
      .finalize(ready, createCsr({ key: client.accountKey, dnsNames: ['csr.example.localhost'] }))
      .catch((e) => e);
    assert.equal(accountKey.type, 'urn:ietf:params:acme:error:badCSR');
    const weak = await client
      .finalize(ready, createCsr({ key: generateKey('ec:P-521'), dnsNames: ['csr.example.localhost'] }))
      .then(() => 'accepted')
      .catch((e) => e.type);
    assert.equal(weak, 'accepted', 'P-521 is an accepted key');
  });

  async function issueUntilReady(client: Awaited<ReturnType<TestCa['account']>>, name: string) {
    const { url, order } = await client.newOrder({ identifiers: [{ type: 'dns', value: name }] });
    const authz = await client.getAuthorization(order.authorizations[0]!);
    const challenge = authz.challenges.find((c) => c.type === 'http-01')!;
    await ca.solver.present(authz.identifier, challenge, client.keyAuthorization(challenge.token));
    await client.respondChallenge(challenge.url);
    await client.waitForAuthorization(order.authorizations[0]!);
    return { url, order: await client.waitForOrder(url, ['ready']) };
  }

  it('revokes with the account key, the certificate key, or an authorized account; never twice', async () => {
    const holder = await ca.account();
    const a = await issue(holder, ['revoke-a.example.localhost']);
    await holder.revokeCertificate(pemToDer(a.pem)[0]!, { reason: 4 });
    const twice = await holder.revokeCertificate(pemToDer(a.pem)[0]!).catch((e) => e);
    assert.equal(twice.type, 'urn:ietf:params:acme:error:alreadyRevoked');

    const b = await issue(holder, ['revoke-b.example.localhost']);
    const stranger = await ca.account();
    const refused = await stranger.revokeCertificate(pemToDer(b.pem)[0]!).catch((e) => e);
    assert.equal(refused.type, 'urn:ietf:params:acme:error:unauthorized');
    const badReason = await holder.revokeCertificate(pemToDer(b.pem)[0]!, { reason: 7 }).catch((e) => e);
    assert.equal(badReason.type, 'urn:ietf:params:acme:error:badRevocationReason');
    await stranger.revokeCertificate(pemToDer(b.pem)[0]!, { certificateKey: b.key, reason: 1 });

    const c = await issue(holder, ['revoke-c.example.localhost']);
    const authorized = await ca.account();
    await issueUntilReady(authorized, 'revoke-c.example.localhost');
    await authorized.revokeCertificate(pemToDer(c.pem)[0]!);
    const cert = await ca.server.storage.getCertificateBySerial(
      new X509Certificate(pemToDer(c.pem)[0]!).serialNumber.toLowerCase(),
    );
    assert.equal(cert?.status, 'revoked');
  });

  it('lists the account orders with pagination', async () => {
    const small = await startTestCa({ acme: { orders_page_size: 2 } });
    try {
      const client = await small.account();
      const urls: string[] = [];
      for (let i = 0; i < 5; i++) {
        urls.push(
          (await client.newOrder({ identifiers: [{ type: 'dns', value: `page${i}.example.localhost` }] }))
            .url,
        );
      }
      assert.deepEqual(await client.listOrders(), urls);
    } finally {
      await small.close();
    }
  });

  it('deactivates an authorization', async () => {
    const client = await ca.account();
    const { url, order } = await client.newOrder({
      identifiers: [{ type: 'dns', value: 'deact.example.localhost' }],
    });
    const authz = await client.deactivateAuthorization(order.authorizations[0]!);
    assert.equal(authz.status, 'deactivated');
    assert.equal((await client.getOrder(url)).status, 'invalid');
  });
});
