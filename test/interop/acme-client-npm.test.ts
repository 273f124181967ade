/**
 * acme-client (the npm package most Node.js projects use to talk ACME, pinned as a devDependency)
 * against a real `akamu serve`: account creation and lookup, `auto()` over http-01 for two names, a
 * hand-driven order over tls-alpn-01 answered with acme-client's own RFC 8737 certificate, key rollover
 * (RFC 8555 §7.3.5) after which only the new key works, revocation and alreadyRevoked, deactivation.
 */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { Agent } from 'node:https';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createSecureContext, createServer, type Server } from 'node:tls';
import * as acme from 'acme-client';
import { type AkamuProcess, freePort, requireTool } from '../helpers/akamu-process.ts';
import { opensslVerifyFullChain } from '../helpers/openssl.ts';
import { startWebrootInterop, type WebrootInterop } from '../helpers/webroot-server.ts';

const NAMES = ['shop.npm.example.localhost', 'cdn.npm.example.localhost'];
const ALPN_NAME = 'alpn.npm.example.localhost';

const skip = requireTool('openssl') ? false : 'openssl not installed: apt-get install openssl';

describe('acme-client (npm) against akamu', { timeout: 180_000 }, () => {
  let fixture: WebrootInterop;
  let akamu: AkamuProcess;
  let alpnServer: Server;
  /** The tls-alpn-01 answer the responder serves, per SNI name. */
  const alpnCertificates = new Map<string, { key: Buffer; cert: Buffer }>();
  let accountKey: Buffer;
  let client: acme.Client;
  const issued: string[] = [];

  before(async () => {
    if (skip) return;
    const alpnPort = await freePort();
    fixture = await startWebrootInterop('acme-client', { va: { tls_alpn01_port: alpnPort } });
    akamu = fixture.akamu;
    // acme-client talks HTTPS through its own axios instance: trust akamu's root there.
    acme.axios.defaults.httpsAgent = new Agent({ ca: await readFile(akamu.rootCertPath) });
    alpnServer = createServer({
      ALPNProtocols: ['acme-tls/1'],
      SNICallback: (name, done) => {
        const answer = alpnCertificates.get(name);
        done(
          answer ? null : new Error(`no tls-alpn-01 answer for ${name}`),
          answer && createSecureContext(answer),
        );
      },
    });
    await new Promise<void>((done) => alpnServer.listen(alpnPort, '127.0.0.1', done));
    accountKey = await acme.crypto.createPrivateEcdsaKey('P-256');
    client = new acme.Client({
      directoryUrl: akamu.directoryUrl,
      accountKey,
      backoffMin: 100,
      backoffMax: 1_000,
    });
  });

  after(async () => {
    alpnServer?.close();
    await fixture?.stop();
  });

  /** The chain verifies against akamu's root; returns the leaf. */
  async function checkChain(pem: string, label: string): Promise<X509Certificate> {
    const file = join(fixture.dir, `${label}.pem`);
    await writeFile(file, pem);
    return new X509Certificate(await opensslVerifyFullChain(akamu.rootCertPath, file, fixture.dir, label));
  }

  test('creates an account, and finds it again by its key', { skip }, async () => {
    const account = await client.createAccount({
      termsOfServiceAgreed: true,
      contact: ['mailto:admin@example.com'],
    });
    assert.equal(account.status, 'valid');
    const url = client.getAccountUrl();
    assert.match(url, /\/acme\/account\//);
    const again = new acme.Client({ directoryUrl: akamu.directoryUrl, accountKey });
    await again.createAccount({ onlyReturnExisting: true });
    assert.equal(again.getAccountUrl(), url);
  });

  test('auto() gets a certificate for two names over http-01', { skip }, async () => {
    const [, csr] = await acme.crypto.createCsr(
      { commonName: NAMES[0], altNames: NAMES },
      await acme.crypto.createPrivateEcdsaKey('P-256'),
    );
    const chain = await client.auto({
      csr,
      termsOfServiceAgreed: true,
      challengePriority: ['http-01'],
      // Its own pre-check fetches http://<name>/ on port 80, where nothing listens in a test.
      skipChallengeVerification: true,
      challengeCreateFn: async (_authz, challenge, keyAuthorization) => {
        await writeFile(join(fixture.webroot.challengeDir, challenge.token), keyAuthorization);
      },
      challengeRemoveFn: async (_authz, challenge) => {
        await rm(join(fixture.webroot.challengeDir, challenge.token), { force: true });
      },
    });
    const leaf = await checkChain(chain, 'auto');
    assert.equal(leaf.subjectAltName, NAMES.map((n) => `DNS:${n}`).join(', '));
    issued.push(chain);
  });

  test('a hand-driven order validates over tls-alpn-01 with acme-client’s RFC 8737 certificate', {
    skip,
  }, async () => {
    const order = await client.createOrder({ identifiers: [{ type: 'dns', value: ALPN_NAME }] });
    const [authz] = await client.getAuthorizations(order);
    assert.ok(authz);
    // acme-client's types list only http-01 and dns-01; its crypto module answers tls-alpn-01 all the same.
    const challenge = authz.challenges.find((c) => (c.type as string) === 'tls-alpn-01');
    assert.ok(challenge, 'tls-alpn-01 is offered');
    const keyAuthorization = await client.getChallengeKeyAuthorization(challenge);
    const [key, cert] = await acme.crypto.createAlpnCertificate(authz, keyAuthorization);
    alpnCertificates.set(ALPN_NAME, { key, cert });
    await client.completeChallenge(challenge);
    await client.waitForValidStatus(challenge);
    const [, csr] = await acme.crypto.createCsr({ altNames: [ALPN_NAME] });
    const finalized = await client.finalizeOrder(order, csr);
    const chain = await client.getCertificate(await client.waitForValidStatus(finalized));
    assert.equal((await checkChain(chain, 'alpn')).subjectAltName, `DNS:${ALPN_NAME}`);
    issued.push(chain);
  });

  test('rolls the account key over; only the new key works afterwards', { skip }, async () => {
    const url = client.getAccountUrl();
    const newKey = await acme.crypto.createPrivateRsaKey(2048);
    await client.updateAccountKey(newKey);
    const withNew = new acme.Client({ directoryUrl: akamu.directoryUrl, accountKey: newKey });
    await withNew.createAccount({ onlyReturnExisting: true });
    assert.equal(withNew.getAccountUrl(), url, 'the new key finds the same account');
    const withOld = new acme.Client({ directoryUrl: akamu.directoryUrl, accountKey });
    await assert.rejects(
      withOld.createAccount({ onlyReturnExisting: true }),
      /no account exists with this key/,
    );
    client = withNew;
    const updated = await client.updateAccount({ contact: ['mailto:ops@example.com'] });
    assert.deepEqual(updated.contact, ['mailto:ops@example.com']);
  });

  test('revokes a certificate; a second revocation fails with alreadyRevoked', { skip }, async () => {
    assert.equal(issued.length, 2, 'both issuances must have succeeded first');
    await client.revokeCertificate(issued[0]!, { reason: 4 });
    await assert.rejects(client.revokeCertificate(issued[0]!, { reason: 4 }), /already revoked/);
  });

  test('deactivates the account, which then cannot order', { skip }, async () => {
    const account = await client.updateAccount({ status: 'deactivated' });
    assert.equal(account.status, 'deactivated');
    await assert.rejects(
      client.createOrder({ identifiers: [{ type: 'dns', value: NAMES[0]! }] }),
      /deactivated/,
    );
  });
});
