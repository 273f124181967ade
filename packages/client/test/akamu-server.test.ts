/**
 * The client against akamu's own server (packages/server, started in-process on a loopback port with
 * HTTPS and a real database): http-01 issuance, ARI renewal information and a renewal that `replaces`
 * the first certificate (RFC 9773), and a STAR order (RFC 8739) downloaded with and without
 * authentication, then canceled; tls-alpn-01, dns-01 (RFC 2136), dns-persist-01 and onion-csr-01
 * (RFC 9799) validated by akamu's own validators.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync, X509Certificate } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { TestDnsServer } from '../../../test/support/dns-server.ts';
import { startTestCa, type TestCa } from '../../server/test/helpers.ts';
import {
  AcmeProblemError,
  certId,
  createCsr,
  createOnionCsr,
  dnsPersist01Record,
  generateKey,
  OnionCsr01Solver,
  obtainCertificate,
  onionAddressFromKey,
  Rfc2136Solver,
  TlsAlpn01Solver,
  type TsigKey,
} from '../src/index.ts';

const LOCALHOST = [{ type: 'ip', value: '127.0.0.1' }];

describe('AcmeClient against akamu', { timeout: 120_000 }, () => {
  let ca: TestCa;
  before(async () => {
    ca = await startTestCa({ star: { allow_certificate_get: true } });
  });
  after(() => ca?.close());

  test('http-01 issuance, renewal information, and a renewal that replaces the certificate', async () => {
    const client = await ca.account();
    const first = await obtainCertificate(client, { identifiers: LOCALHOST, solvers: [ca.solver] });
    const cert = new X509Certificate(first.certificatePem);
    assert.equal(cert.subjectAltName, 'IP Address:127.0.0.1');
    const issuer = new X509Certificate(first.certificatePem.split(/(?=-----BEGIN CERTIFICATE-----)/)[1]!);
    assert.ok(cert.verify(issuer.publicKey), "the leaf is signed by the chain's intermediate");

    const info = await client.renewalInfo(first.certificatePem);
    assert.ok(info.suggestedWindow.start < info.suggestedWindow.end);
    assert.ok(info.suggestedWindow.start > new Date(cert.validFrom));
    assert.ok(info.suggestedWindow.end <= new Date(cert.validTo));
    assert.ok(info.retryAfter === undefined || info.retryAfter > new Date());
    // certId text is accepted as well as the certificate itself.
    const byId = await client.renewalInfo(certId(first.certificatePem));
    assert.deepEqual(byId.suggestedWindow, info.suggestedWindow);

    const renewed = await obtainCertificate(client, {
      identifiers: LOCALHOST,
      solvers: [ca.solver],
      replaces: certId(first.certificatePem),
    });
    const order = await client.getOrder(renewed.orderUrl);
    assert.equal(order.replaces, certId(first.certificatePem));
    assert.notEqual(certId(renewed.certificatePem), certId(first.certificatePem));
  });

  test('STAR: order with auto-renewal, rolling certificate with and without authentication, cancel', async () => {
    const client = await ca.account();
    const endDate = new Date(Date.now() + 3 * 86_400_000);
    const obtained = await obtainCertificate(client, {
      identifiers: LOCALHOST,
      solvers: [ca.solver],
      autoRenewal: { endDate, lifetime: 86_400, lifetimeAdjust: 60, allowCertificateGet: true },
    });
    const order = await client.getOrder(obtained.orderUrl);
    assert.equal(order['star-certificate'], obtained.certificateUrl);
    assert.equal(order['auto-renewal']?.lifetime, 86_400);
    assert.equal(order['auto-renewal']?.['allow-certificate-get'], true);

    const signed = await client.downloadStarCertificate(obtained.certificateUrl);
    const plain = await client.downloadStarCertificate(obtained.certificateUrl, { unauthenticated: true });
    assert.equal(plain.pem, signed.pem);
    assert.equal(signed.pem, obtained.certificatePem);
    const leaf = new X509Certificate(signed.pem);
    assert.equal(leaf.subjectAltName, 'IP Address:127.0.0.1');
    // Each certificate lives `lifetime` seconds, pre-dated by lifetime-adjust.
    assert.equal((Date.parse(leaf.validTo) - Date.parse(leaf.validFrom)) / 1000, 86_400 + 60);
    if (signed.certNotAfter) assert.equal(signed.certNotAfter.getTime(), Date.parse(leaf.validTo));

    const canceled = await client.cancelStarOrder(obtained.orderUrl);
    assert.equal(canceled.status, 'canceled');
    await assert.rejects(client.downloadStarCertificate(obtained.certificateUrl), (error: unknown) => {
      assert.ok(error instanceof AcmeProblemError);
      assert.ok(error.isType('autoRenewalCanceled'));
      assert.equal(error.status, 403);
      return true;
    });
  });
});

describe('challenge types against akamu: tls-alpn-01, dns-01, dns-persist-01, onion-csr-01', {
  timeout: 120_000,
}, () => {
  const TSIG: TsigKey = {
    name: 'akamu-update',
    algorithm: 'hmac-sha256',
    secret: Buffer.from('akamu-dns-update-secret-0123456'),
  };
  const alpn = new TlsAlpn01Solver({ port: 0, host: '127.0.0.1' });
  let dns: TestDnsServer;
  let ca: TestCa;
  before(async () => {
    dns = await TestDnsServer.start({
      tsig: { name: TSIG.name, algorithm: 'hmac-sha256', secret: TSIG.secret },
    });
    await alpn.start();
    ca = await startTestCa({
      va: { tls_alpn01_port: alpn.port },
      dns: { resolvers: [`${dns.host}:${dns.port}`] },
      dns_persist: { issuer_domain_names: ['ca.example'] },
    });
  });
  after(async () => {
    await ca?.close();
    await alpn.stop();
    await dns?.stop();
  });

  test('tls-alpn-01 for a DNS name and an IP address', async () => {
    dns.setA('alpn.akamu.test', ['127.0.0.1']);
    const client = await ca.account();
    const { certificatePem } = await obtainCertificate(client, {
      identifiers: [
        { type: 'dns', value: 'alpn.akamu.test' },
        { type: 'ip', value: '127.0.0.1' },
      ],
      solvers: [alpn],
    });
    assert.equal(
      new X509Certificate(certificatePem).subjectAltName,
      'DNS:alpn.akamu.test, IP Address:127.0.0.1',
    );
  });

  test('dns-01 with Rfc2136Solver for a name and its wildcard', async () => {
    const client = await ca.account();
    const solver = new Rfc2136Solver({
      server: `${dns.host}:${dns.port}`,
      tsig: TSIG,
      propagationTimeoutMs: 10_000,
    });
    const { certificatePem } = await obtainCertificate(client, {
      identifiers: [
        { type: 'dns', value: 'dns.akamu.test' },
        { type: 'dns', value: '*.dns.akamu.test' },
      ],
      solvers: [solver],
    });
    assert.equal(
      new X509Certificate(certificatePem).subjectAltName,
      'DNS:dns.akamu.test, DNS:*.dns.akamu.test',
    );
  });

  test('dns-persist-01 with the record from dnsPersist01Record', async () => {
    const client = await ca.account();
    const { url, order } = await client.newOrder({
      identifiers: [{ type: 'dns', value: 'persist.akamu.test' }],
    });
    const authz = await client.getAuthorization(order.authorizations[0]!);
    const challenge = authz.challenges.find((c) => c.type === 'dns-persist-01');
    assert.ok(challenge, `dns-persist-01 offered: ${authz.challenges.map((c) => c.type).join(', ')}`);
    const issuers = (challenge as unknown as { issuerDomainNames: string[] }).issuerDomainNames;
    assert.deepEqual(issuers, ['ca.example']);
    // akamu implements draft-02: its directory advertises accountHashPrefix for hashed account URIs.
    const accountHashPrefix = (await client.directory()).meta?.accountHashPrefix;
    assert.equal(typeof accountHashPrefix, 'string');
    const record = dnsPersist01Record({
      domain: authz.identifier,
      issuerDomainName: issuers[0]!,
      accountUrl: client.accountUrl!,
      accountHashPrefix: accountHashPrefix as string,
      thumbprint: client.thumbprint,
      persistUntil: new Date(Date.now() + 86_400_000),
    });
    dns.setTxt(record.name, [record.value]);
    await client.respondChallenge(challenge.url);
    await client.waitForAuthorization(order.authorizations[0]!);
    const ready = await client.waitForOrder(url, ['ready']);
    await client.finalize(
      ready,
      createCsr({ key: generateKey('ec:P-256'), dnsNames: ['persist.akamu.test'] }),
    );
    const valid = await client.waitForOrder(url, ['valid']);
    const { pem } = await client.downloadCertificate(valid.certificate!);
    assert.equal(new X509Certificate(pem).subjectAltName, 'DNS:persist.akamu.test');
  });

  test('onion-csr-01: a CSR signed by the hidden-service key with the CA nonce', async () => {
    const serviceKey = generateKeyPairSync('ed25519').privateKey;
    const onion = onionAddressFromKey(serviceKey);
    const client = await ca.account();
    const { url, order } = await client.newOrder({ identifiers: [{ type: 'dns', value: onion }] });
    const authz = await client.getAuthorization(order.authorizations[0]!);
    const challenge = authz.challenges.find((c) => c.type === 'onion-csr-01') as
      | ((typeof authz.challenges)[number] & { nonce: string })
      | undefined;
    assert.ok(challenge, `onion-csr-01 offered: ${authz.challenges.map((c) => c.type).join(', ')}`);
    const csr = createOnionCsr({ key: serviceKey, onionName: onion, caNonce: challenge.nonce });
    await client.respondChallenge(challenge.url, { csr: csr.toString('base64url') });
    await client.waitForAuthorization(order.authorizations[0]!);
    const ready = await client.waitForOrder(url, ['ready']);
    await client.finalize(ready, createCsr({ key: generateKey('ec:P-256'), dnsNames: [onion] }));
    const valid = await client.waitForOrder(url, ['valid']);
    const { pem } = await client.downloadCertificate(valid.certificate!);
    assert.equal(new X509Certificate(pem).subjectAltName, `DNS:${onion}`);
  });

  test('onion-csr-01 through obtainCertificate with OnionCsr01Solver (the CSR is the challenge payload)', async () => {
    const serviceKey = generateKeyPairSync('ed25519').privateKey;
    const onion = onionAddressFromKey(serviceKey);
    const solver = new OnionCsr01Solver({ keys: [generateKeyPairSync('ed25519').privateKey, serviceKey] });
    assert.ok(solver.addresses.includes(onion));
    const client = await ca.account();
    const { certificatePem } = await obtainCertificate(client, {
      identifiers: [
        { type: 'dns', value: onion },
        { type: 'dns', value: `www.${onion}` },
      ],
      solvers: [solver],
    });
    assert.equal(new X509Certificate(certificatePem).subjectAltName, `DNS:${onion}, DNS:www.${onion}`);
    // A name whose key the solver does not hold fails before anything is sent for it.
    const stranger = onionAddressFromKey(generateKeyPairSync('ed25519').publicKey);
    await assert.rejects(
      obtainCertificate(client, { identifiers: [{ type: 'dns', value: stranger }], solvers: [solver] }),
      /no hidden service key/,
    );
  });
});
