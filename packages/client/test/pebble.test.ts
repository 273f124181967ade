/** The client against a real Pebble: accounts, key change, issuance over http-01, revocation. */
import assert from 'node:assert/strict';
import { type KeyObject, X509Certificate } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { pemToDer } from '@akamu/protocol';
import {
  AcmeClient,
  AcmeProblemError,
  AcmeStatusError,
  AcmeTimeoutError,
  createCsr,
  generateKey,
  Http01Solver,
  HttpTransport,
  obtainCertificate,
} from '../src/index.ts';
import { type Pebble, pebbleSkipReason, startPebble } from './pebble.ts';

const LOCALHOST = { type: 'ip', value: '127.0.0.1' } as const;

/** Pebble's certificate ID: the serial in lowercase hex without leading zero bytes. */
function serialOf(pem: string): string {
  return new X509Certificate(pem).serialNumber.toLowerCase().replace(/^(00)+/, '');
}

describe('AcmeClient against Pebble', { skip: pebbleSkipReason(), timeout: 120_000 }, () => {
  const solver = new Http01Solver({ port: 0, host: '127.0.0.1' });
  const clients: AcmeClient[] = [];
  let pebble: Pebble;

  function newClient(accountKey: KeyObject = generateKey('ec:P-256'), accountUrl?: string): AcmeClient {
    const client = new AcmeClient({
      directoryUrl: pebble.directoryUrl,
      accountKey,
      accountUrl,
      caBundle: pebble.caBundle,
    });
    clients.push(client);
    return client;
  }

  async function registeredClient(): Promise<AcmeClient> {
    const client = newClient();
    await client.newAccount({ termsOfServiceAgreed: true });
    return client;
  }

  before(async () => {
    await solver.start();
    pebble = await startPebble({
      httpPort: solver.port,
      env: { PEBBLE_ALTERNATE_ROOTS: '1', PEBBLE_WFE_ORDERS_PER_PAGE: '2', PEBBLE_AUTHZREUSE: '0' },
    });
  });

  after(async () => {
    for (const client of clients) client.close();
    await pebble?.stop();
    await solver.stop();
  });

  test('directory is fetched once and cached', async () => {
    const client = newClient();
    const dir = await client.directory();
    assert.match(dir.newAccount, /^https:\/\/127\.0\.0\.1:\d+\//);
    assert.equal(await client.directory(), dir);
    assert.equal(client.transport.stats.requests, 1);
  });

  test('newAccount creates, then finds the same account; onlyReturnExisting', async () => {
    const key = generateKey('ec:P-384');
    const client = newClient(key);
    const created = await client.newAccount({
      contact: ['mailto:ops@example.com'],
      termsOfServiceAgreed: true,
    });
    assert.equal(created.created, true);
    assert.equal(created.account.status, 'valid');
    assert.deepEqual(created.account.contact, ['mailto:ops@example.com']);
    assert.equal(client.accountUrl, created.url);

    const again = await newClient(key).newAccount({ termsOfServiceAgreed: true });
    assert.equal(again.created, false);
    assert.equal(again.url, created.url);

    const found = await newClient(key).newAccount({ onlyReturnExisting: true });
    assert.equal(found.created, false);
    assert.equal(found.url, created.url);

    await assert.rejects(newClient().newAccount({ onlyReturnExisting: true }), (error: unknown) => {
      assert.ok(error instanceof AcmeProblemError);
      assert.equal(error.type, 'urn:ietf:params:acme:error:accountDoesNotExist');
      assert.ok(error.isType('accountDoesNotExist'));
      assert.equal(error.status, 400);
      return true;
    });
  });

  test('every supported account key type that Pebble accepts signs valid JWS', async () => {
    // Pebble 2.4 has no EdDSA JWS; Ed25519/Ed448 signatures are checked in jws.test.ts.
    for (const spec of ['ec:P-256', 'ec:P-384', 'ec:P-521', 'rsa:2048'] as const) {
      const client = newClient(generateKey(spec));
      const { created, url } = await client.newAccount({ termsOfServiceAgreed: true });
      assert.equal(created, true, spec);
      assert.equal((await client.getAccount()).status, 'valid', spec);
      assert.equal(client.accountUrl, url);
    }
  });

  test('getAccount, updateAccount, deactivateAccount', async () => {
    const client = newClient();
    const { url } = await client.newAccount({
      contact: ['mailto:a@example.com'],
      termsOfServiceAgreed: true,
    });
    assert.deepEqual((await client.getAccount()).contact, ['mailto:a@example.com']);

    const updated = await client.updateAccount({ contact: ['mailto:b@example.com', 'mailto:c@example.com'] });
    assert.deepEqual(updated.contact, ['mailto:b@example.com', 'mailto:c@example.com']);
    assert.deepEqual((await client.getAccount()).contact, ['mailto:b@example.com', 'mailto:c@example.com']);

    // A client that only knows the URL (e.g. loaded from disk) works without newAccount.
    const reloaded = newClient(client.accountKey, url);
    assert.equal((await reloaded.getAccount()).status, 'valid');

    const deactivated = await client.deactivateAccount();
    assert.equal(deactivated.status, 'deactivated');
    await assert.rejects(client.getAccount(), (error: unknown) => {
      assert.ok(error instanceof AcmeProblemError);
      assert.ok(error.isType('unauthorized'), error.message);
      return true;
    });
  });

  test('keyChange rolls the account over to a new key (RFC 8555 §7.3.5)', async () => {
    const oldKey = generateKey('ec:P-256');
    const client = newClient(oldKey);
    const { url } = await client.newAccount({ termsOfServiceAgreed: true });
    const oldThumbprint = client.thumbprint;
    const newKey = generateKey('rsa:2048');

    await client.keyChange(newKey);
    assert.equal(client.accountKey, newKey);
    assert.notEqual(client.thumbprint, oldThumbprint);
    assert.equal((await client.getAccount()).status, 'valid');

    const byNewKey = await newClient(newKey).newAccount({ onlyReturnExisting: true });
    assert.equal(byNewKey.url, url);
    await assert.rejects(newClient(oldKey).newAccount({ onlyReturnExisting: true }), (error: unknown) => {
      assert.ok(error instanceof AcmeProblemError && error.isType('accountDoesNotExist'));
      return true;
    });
  });

  test('obtainCertificate: order, http-01, finalize, download', async () => {
    const client = await registeredClient();
    const result = await obtainCertificate(client, { identifiers: [LOCALHOST], solvers: [solver] });

    const [leafDer, intermediateDer] = pemToDer(result.certificatePem);
    assert.ok(leafDer && intermediateDer, 'leaf and intermediate');
    const leaf = new X509Certificate(leafDer);
    const intermediate = new X509Certificate(intermediateDer);
    assert.equal(leaf.subjectAltName, 'IP Address:127.0.0.1');
    assert.ok(leaf.checkPrivateKey(result.certificateKey));
    assert.equal(result.certificateKey.asymmetricKeyDetails?.namedCurve, 'prime256v1');
    assert.ok(leaf.verify(intermediate.publicKey));
    const root = new X509Certificate(await pebble.rootCertificate());
    assert.ok(intermediate.verify(root.publicKey));

    const order = await client.getOrder(result.orderUrl);
    assert.equal(order.status, 'valid');
    assert.equal(order.certificate, result.certificateUrl);

    const download = await client.downloadCertificate(result.certificateUrl);
    assert.equal(download.pem, result.certificatePem);
    assert.equal(download.alternates.length, 1);
    const alternate = await client.downloadCertificate(download.alternates[0]!);
    assert.equal(new X509Certificate(pemToDer(alternate.pem)[0]!).serialNumber, leaf.serialNumber);
    assert.equal((await pebble.certificateStatus(serialOf(result.certificatePem))).Status, 'Valid');
  });

  test('step by step: newOrder, authorization, challenge, finalize with own CSR; listOrders pages', async () => {
    const client = await registeredClient();
    const { url, order } = await client.newOrder({ identifiers: [LOCALHOST] });
    assert.equal(order.status, 'pending');
    assert.deepEqual(order.identifiers, [LOCALHOST]);
    assert.equal(order.authorizations.length, 1);

    const authzUrl = order.authorizations[0]!;
    const authz = await client.getAuthorization(authzUrl);
    assert.equal(authz.status, 'pending');
    const challenge = authz.challenges.find((c) => c.type === 'http-01');
    assert.ok(challenge);
    const keyAuthorization = client.keyAuthorization(challenge.token);
    assert.equal(keyAuthorization, `${challenge.token}.${client.thumbprint}`);

    await solver.present(authz.identifier, challenge, keyAuthorization);
    try {
      const responded = await client.respondChallenge(challenge.url);
      assert.ok(['pending', 'processing', 'valid'].includes(responded.status));
      assert.equal((await client.waitForAuthorization(authzUrl)).status, 'valid');
    } finally {
      await solver.cleanup(authz.identifier, challenge, keyAuthorization);
    }
    assert.equal((await client.getChallenge(challenge.url)).status, 'valid');

    const ready = await client.waitForOrder(url, ['ready']);
    const certKey = generateKey('rsa:2048');
    const finalized = await client.finalize(ready, createCsr({ key: certKey, ipAddresses: ['127.0.0.1'] }));
    assert.ok(['processing', 'valid'].includes(finalized.status));
    const valid = await client.waitForOrder(url, ['valid']);
    assert.ok(valid.certificate);
    const { pem } = await client.downloadCertificate(valid.certificate);
    assert.ok(new X509Certificate(pemToDer(pem)[0]!).checkPrivateKey(certKey));

    // Two more orders make three, over two pages of two (PEBBLE_WFE_ORDERS_PER_PAGE=2).
    const more = [
      await client.newOrder({ identifiers: [LOCALHOST] }),
      await client.newOrder({ identifiers: [LOCALHOST] }),
    ];
    const before = client.transport.stats.requests;
    const listed = await client.listOrders();
    assert.deepEqual(listed.toSorted(), [url, ...more.map((o) => o.url)].toSorted());
    assert.equal(client.transport.stats.requests - before, 3, 'account + two pages');
  });

  test('a failed validation surfaces the challenge problem; deactivated authorizations', async () => {
    const client = await registeredClient();
    const { order } = await client.newOrder({ identifiers: [LOCALHOST] });
    const authz = await client.getAuthorization(order.authorizations[0]!);
    const challenge = authz.challenges.find((c) => c.type === 'http-01')!;
    // Nothing presented: the solver answers 404.
    await client.respondChallenge(challenge.url);
    await assert.rejects(client.waitForAuthorization(order.authorizations[0]!), (error: unknown) => {
      assert.ok(error instanceof AcmeStatusError);
      assert.equal(error.resourceStatus, 'invalid');
      assert.equal(error.problem?.type, 'urn:ietf:params:acme:error:unauthorized');
      assert.match(error.problem?.detail ?? '', /404/);
      return true;
    });

    const second = await client.newOrder({ identifiers: [LOCALHOST] });
    const deactivated = await client.deactivateAuthorization(second.order.authorizations[0]!);
    assert.equal(deactivated.status, 'deactivated');
    await assert.rejects(client.waitForOrder(second.url, ['ready'], { timeoutMs: 5_000 }), AcmeStatusError);
  });

  test('waits time out, or stop when their signal aborts', async () => {
    const client = await registeredClient();
    const { url } = await client.newOrder({ identifiers: [LOCALHOST] });
    const started = performance.now();
    await assert.rejects(client.waitForOrder(url, ['ready'], { timeoutMs: 300 }), (error: unknown) => {
      assert.ok(error instanceof AcmeTimeoutError);
      assert.equal(error.timeoutMs, 300);
      return true;
    });
    const elapsed = performance.now() - started;
    assert.ok(elapsed >= 300 && elapsed < 2000, `${elapsed} ms`);

    const reason = new Error('shutting down');
    const controller = new AbortController();
    setTimeout(() => controller.abort(reason), 100);
    await assert.rejects(
      client.waitForOrder(url, ['ready'], { signal: controller.signal }),
      (e) => e === reason,
    );
    await assert.rejects(
      obtainCertificate(client, {
        identifiers: [LOCALHOST],
        solvers: [solver],
        signal: AbortSignal.abort(reason),
      }),
      (e) => e === reason,
    );
  });

  test('revokeCertificate with the account key, then again: alreadyRevoked', async () => {
    const client = await registeredClient();
    const { certificatePem } = await obtainCertificate(client, {
      identifiers: [LOCALHOST],
      solvers: [solver],
    });
    const der = pemToDer(certificatePem)[0]!;
    await client.revokeCertificate(der, { reason: 4 });
    const status = await pebble.certificateStatus(serialOf(certificatePem));
    assert.equal(status.Status, 'Revoked');
    assert.equal(status.Reason, 4);
    await assert.rejects(client.revokeCertificate(der), (error: unknown) => {
      assert.ok(error instanceof AcmeProblemError && error.isType('alreadyRevoked'), String(error));
      return true;
    });
  });

  test('revokeCertificate signed with the certificate key (jwk), by a client without an account', async () => {
    const owner = await registeredClient();
    const { certificatePem, certificateKey } = await obtainCertificate(owner, {
      identifiers: [LOCALHOST],
      solvers: [solver],
      certificateKey: generateKey('ec:P-384'),
    });
    const stranger = newClient();
    assert.equal(stranger.accountUrl, undefined);
    await stranger.revokeCertificate(pemToDer(certificatePem)[0]!, { certificateKey, reason: 1 });
    const status = await pebble.certificateStatus(serialOf(certificatePem));
    assert.equal(status.Status, 'Revoked');
    assert.equal(status.Reason, 1);
  });

  test('a badNonce answer is retried once with the nonce it carried', async () => {
    const client = await registeredClient();
    const dir = await client.directory();
    const nonce = await client.transport.takeNonce(dir.newNonce);
    client.transport.putNonce(nonce);
    await client.getAccount(); // spends it
    client.transport.putNonce(nonce); // replayed: Pebble answers badNonce
    const stats = { ...client.transport.stats };
    assert.equal((await client.getAccount()).status, 'valid');
    assert.equal(client.transport.stats.badNonceRetries, stats.badNonceRetries + 1);
    assert.equal(client.transport.stats.requests, stats.requests + 2);
    assert.equal(
      client.transport.stats.nonceFetches,
      stats.nonceFetches,
      'the retry used the error response nonce',
    );
  });

  test('concurrent issuances share one transport, one solver and the nonce pool', async () => {
    const transport = new HttpTransport({ caBundle: pebble.caBundle });
    try {
      const accounts = await Promise.all(
        Array.from({ length: 4 }, async () => {
          const client = new AcmeClient({
            directoryUrl: pebble.directoryUrl,
            accountKey: generateKey('ec:P-256'),
            transport,
          });
          await client.newAccount({ termsOfServiceAgreed: true });
          return client;
        }),
      );
      const results = await Promise.all(
        Array.from({ length: 12 }, (_, i) =>
          obtainCertificate(accounts[i % accounts.length]!, { identifiers: [LOCALHOST], solvers: [solver] }),
        ),
      );
      assert.equal(new Set(results.map((r) => serialOf(r.certificatePem))).size, 12);
      // Every POST answer refills the pool, so only the first burst had to HEAD newNonce.
      assert.ok(transport.stats.nonceFetches <= 4 + 12, `nonce fetches ${transport.stats.nonceFetches}`);
      assert.equal(transport.stats.badNonceRetries, 0);
    } finally {
      transport.close();
    }
  });
});

describe('AcmeClient against Pebble requiring external account binding', {
  skip: pebbleSkipReason(),
  timeout: 60_000,
}, () => {
  const macKey = Buffer.from('zWNDZM6eQGHWpSRTPal5eIUYFTu7EajVIoguysqZ9wG44nMEtx3MUAsUDkMTQ12W', 'base64url');
  const solver = new Http01Solver({ port: 0, host: '127.0.0.1' });
  const clients: AcmeClient[] = [];
  let pebble: Pebble;

  before(async () => {
    await solver.start();
    pebble = await startPebble({
      httpPort: solver.port,
      externalAccountMACKeys: { 'kid-1': macKey.toString('base64url') },
      env: { PEBBLE_AUTHZREUSE: '100' },
    });
  });

  after(async () => {
    for (const client of clients) client.close();
    await pebble?.stop();
    await solver.stop();
  });

  function newClient(): AcmeClient {
    const client = new AcmeClient({
      directoryUrl: pebble.directoryUrl,
      accountKey: generateKey('ec:P-256'),
      caBundle: pebble.caBundle,
    });
    clients.push(client);
    return client;
  }

  test('newAccount without EAB is refused; with EAB it is created', async () => {
    assert.equal((await newClient().directory()).meta?.externalAccountRequired, true);
    await assert.rejects(newClient().newAccount({ termsOfServiceAgreed: true }), (error: unknown) => {
      assert.ok(error instanceof AcmeProblemError && error.isType('externalAccountRequired'), String(error));
      return true;
    });
    for (const alg of ['HS256', 'HS512'] as const) {
      const client = newClient();
      const { created, account } = await client.newAccount({
        termsOfServiceAgreed: true,
        externalAccountBinding: { kid: 'kid-1', hmacKey: macKey, alg },
      });
      assert.equal(created, true);
      assert.equal(account.status, 'valid');
    }
    await assert.rejects(
      newClient().newAccount({
        termsOfServiceAgreed: true,
        externalAccountBinding: { kid: 'kid-1', hmacKey: Buffer.from('wrong key') },
      }),
      AcmeProblemError,
    );
  });

  test('obtainCertificate skips solving when the authorization is reused', async () => {
    const client = newClient();
    await client.newAccount({
      termsOfServiceAgreed: true,
      externalAccountBinding: { kid: 'kid-1', hmacKey: macKey },
    });
    await obtainCertificate(client, { identifiers: [LOCALHOST], solvers: [solver] });
    const { order } = await client.newOrder({ identifiers: [LOCALHOST] });
    assert.equal(order.status, 'ready', 'PEBBLE_AUTHZREUSE=100 reuses the valid authorization');
    const second = await obtainCertificate(client, { identifiers: [LOCALHOST], solvers: [] });
    assert.ok(
      new X509Certificate(pemToDer(second.certificatePem)[0]!).checkPrivateKey(second.certificateKey),
    );
  });
});

describe('AcmeClient against Pebble rejecting every nonce', {
  skip: pebbleSkipReason(),
  timeout: 60_000,
}, () => {
  let pebble: Pebble;
  let client: AcmeClient;

  before(async () => {
    pebble = await startPebble({ httpPort: 1, env: { PEBBLE_WFE_NONCEREJECT: '100' } });
    client = new AcmeClient({
      directoryUrl: pebble.directoryUrl,
      accountKey: generateKey('ec:P-256'),
      caBundle: pebble.caBundle,
    });
  });

  after(async () => {
    client?.close();
    await pebble?.stop();
  });

  test('badNonce is retried exactly once, then surfaces', async () => {
    await client.directory();
    await assert.rejects(client.newAccount({ termsOfServiceAgreed: true }), (error: unknown) => {
      assert.ok(error instanceof AcmeProblemError && error.isType('badNonce'), String(error));
      return true;
    });
    assert.deepEqual(client.transport.stats, {
      requests: 4,
      nonceFetches: 1,
      badNonceRetries: 1,
      connectionRetries: 0,
    });
  });
});
