import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { type AcmeClient, createCsr, generateKey } from '@akamu/client';
import { type AuthorizationJson, type Identifier, pemToDer } from '@akamu/protocol';
import { NetworkGuard } from '../../src/va/network-guard.ts';
import { SystemHostResolver } from '../../src/va/resolver.ts';
import { reverseDnsName, TlsAlpn01Validator } from '../../src/va/tls-alpn-01.ts';
import { startTestCa, type TestCa } from '../helpers.ts';
import { type ChallengeCertOptions, TlsAlpnResponder } from '../support/tls-alpn-responder.ts';

/** Waits until the authorization is no longer pending and returns it, valid or invalid. */
async function settle(client: AcmeClient, url: string): Promise<AuthorizationJson> {
  await client.waitForAuthorization(url).catch(() => undefined);
  return client.getAuthorization(url);
}

/** RFC 8737 tls-alpn-01 (and RFC 8738 §6 for IP addresses) against a real node:tls responder on loopback. */
describe('tls-alpn-01', () => {
  let ca: TestCa;
  let responder: TlsAlpnResponder;
  before(async () => {
    responder = new TlsAlpnResponder();
    await responder.start();
    ca = await startTestCa({ va: { tls_alpn01_port: responder.port } });
  });
  after(async () => {
    await ca.close();
    await responder.stop();
  });

  /** Orders one identifier, answers its tls-alpn-01 challenge and returns the settled authorization. */
  async function validate(
    client: AcmeClient,
    identifier: Identifier,
    opts: ChallengeCertOptions = {},
  ): Promise<{ authz: AuthorizationJson; orderUrl: string }> {
    const { url, order } = await client.newOrder({ identifiers: [identifier] });
    const authzUrl = order.authorizations[0]!;
    const authz = await client.getAuthorization(authzUrl);
    const challenge = authz.challenges.find((c) => c.type === 'tls-alpn-01');
    assert.ok(challenge, `tls-alpn-01 offered for ${identifier.value}`);
    responder.set(identifier, client.keyAuthorization(challenge.token), opts);
    await client.respondChallenge(challenge.url);
    return { authz: await settle(client, authzUrl), orderUrl: url };
  }

  it('computes RFC 8738 §6 reverse names', () => {
    assert.equal(reverseDnsName('127.0.0.1'), '1.0.0.127.in-addr.arpa');
    assert.equal(
      reverseDnsName('2001:db8::1'),
      '1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa',
    );
  });

  it('validates a DNS name and issues its certificate', async () => {
    const client = await ca.account();
    const name = 'alpn.example.localhost';
    const { authz, orderUrl } = await validate(client, { type: 'dns', value: name });
    assert.equal(authz.status, 'valid', JSON.stringify(authz));
    assert.deepEqual(
      authz.challenges.map((c) => c.type),
      ['tls-alpn-01'],
    );
    assert.ok(responder.seenServernames.includes(name), 'SNI is the name');
    const ready = await client.waitForOrder(orderUrl, ['ready']);
    const finalized = await client.finalize(
      ready,
      createCsr({ key: generateKey('ec:P-256'), dnsNames: [name] }),
    );
    const valid = finalized.status === 'valid' ? finalized : await client.waitForOrder(orderUrl, ['valid']);
    const { pem } = await client.downloadCertificate(valid.certificate!);
    assert.equal(new X509Certificate(pemToDer(pem)[0]!).subjectAltName, `DNS:${name}`);
  });

  it('validates an IP address with the reverse-DNS SNI and an iPAddress SAN', async () => {
    const client = await ca.account();
    const { authz } = await validate(client, { type: 'ip', value: '127.0.0.1' });
    assert.equal(authz.status, 'valid', JSON.stringify(authz));
    assert.ok(responder.seenServernames.includes('1.0.0.127.in-addr.arpa'), 'SNI is the reverse name');
  });

  it('validates ::1 over IPv6 with the ip6.arpa SNI', async () => {
    // The same responder on the IPv6 loopback, same port: the validator connects to [::1]:port.
    const v6 = new TlsAlpnResponder();
    await v6.start('::1', responder.port);
    try {
      const client = await ca.account();
      const { url, order } = await client.newOrder({ identifiers: [{ type: 'ip', value: '::1' }] });
      const authzUrl = order.authorizations[0]!;
      const authz = await client.getAuthorization(authzUrl);
      assert.deepEqual(authz.identifier, { type: 'ip', value: '::1' });
      const challenge = authz.challenges.find((c) => c.type === 'tls-alpn-01')!;
      v6.set(authz.identifier, client.keyAuthorization(challenge.token));
      await client.respondChallenge(challenge.url);
      const settled = await settle(client, authzUrl);
      assert.equal(settled.status, 'valid', JSON.stringify(settled));
      // RFC 8738 §6: the nibbles of the address, reversed, under ip6.arpa.
      assert.ok(v6.seenServernames.includes(`1.${'0.'.repeat(31)}ip6.arpa`), v6.seenServernames.join(', '));
      const valid = await client.finalize(
        await client.waitForOrder(url, ['ready']),
        createCsr({ key: generateKey('ec:P-256'), ipAddresses: ['::1'] }),
      );
      const { pem } = await client.downloadCertificate(valid.certificate!);
      assert.equal(new X509Certificate(pemToDer(pem)[0]!).subjectAltName, 'IP Address:0:0:0:0:0:0:0:1');
    } finally {
      await v6.stop();
    }
  });

  it('is offered for DNS names and IPs, not for wildcards or .onion names (RFC 8737 §5)', () => {
    const v = new TlsAlpn01Validator({
      port: 443,
      resolver: new SystemHostResolver(),
      guard: new NetworkGuard(true),
    });
    assert.equal(v.supports({ type: 'dns', value: 'a.example' }, false), true);
    assert.equal(v.supports({ type: 'ip', value: '192.0.2.1' }, false), true);
    assert.equal(v.supports({ type: 'dns', value: 'a.example' }, true), false);
    assert.equal(v.supports({ type: 'dns', value: 'x.onion' }, false), false);
  });

  it('refuses a certificate whose acmeIdentifier is not critical', async () => {
    const client = await ca.account();
    const { authz } = await validate(
      client,
      { type: 'dns', value: 'noncritical.example.localhost' },
      { critical: false },
    );
    assert.equal(authz.status, 'invalid');
    assert.equal(
      authz.challenges.find((c) => c.type === 'tls-alpn-01')!.error?.type,
      'urn:ietf:params:acme:error:unauthorized',
    );
    assert.match(String(authz.challenges.find((c) => c.type === 'tls-alpn-01')!.error?.detail), /critical/);
  });

  it('refuses a wrong digest with incorrectResponse', async () => {
    const client = await ca.account();
    const { authz } = await validate(
      client,
      { type: 'dns', value: 'digest.example.localhost' },
      { digest: Buffer.alloc(32, 7) },
    );
    assert.equal(authz.status, 'invalid');
    const failed = authz.challenges.find((c) => c.type === 'tls-alpn-01')!;
    assert.equal(failed.error?.type, 'urn:ietf:params:acme:error:incorrectResponse');
  });

  it('refuses a certificate without the extension', async () => {
    const client = await ca.account();
    const { authz } = await validate(
      client,
      { type: 'dns', value: 'noext.example.localhost' },
      { omitExtension: true },
    );
    assert.equal(authz.status, 'invalid');
    assert.match(
      String(authz.challenges.find((c) => c.type === 'tls-alpn-01')!.error?.detail),
      /acmeIdentifier/,
    );
  });

  it('refuses a certificate with a second SAN', async () => {
    const client = await ca.account();
    const { authz } = await validate(
      client,
      { type: 'dns', value: 'twosans.example.localhost' },
      { extraDnsNames: ['other.example.localhost'] },
    );
    assert.equal(authz.status, 'invalid');
    assert.match(
      String(authz.challenges.find((c) => c.type === 'tls-alpn-01')!.error?.detail),
      /exactly one/,
    );
  });

  it('refuses a server that does not negotiate acme-tls/1 with a tls problem', async () => {
    const client = await ca.account();
    responder.negotiateAcme = false;
    try {
      const { authz } = await validate(client, { type: 'dns', value: 'noalpn.example.localhost' });
      assert.equal(authz.status, 'invalid');
      const failed = authz.challenges.find((c) => c.type === 'tls-alpn-01')!;
      assert.equal(failed.error?.type, 'urn:ietf:params:acme:error:tls');
      assert.match(String(failed.error?.detail), /acme-tls\/1/);
    } finally {
      responder.negotiateAcme = true;
    }
  });

  it('reports connection when nothing listens', async () => {
    const closed = await startTestCa({ va: { tls_alpn01_port: 1 } });
    try {
      const client = await closed.account();
      const { order } = await client.newOrder({
        identifiers: [{ type: 'dns', value: 'closed.example.localhost' }],
      });
      const authz = await client.getAuthorization(order.authorizations[0]!);
      const challenge = authz.challenges.find((c) => c.type === 'tls-alpn-01')!;
      await client.respondChallenge(challenge.url);
      const done = await settle(client, order.authorizations[0]!);
      assert.equal(done.status, 'invalid');
      assert.equal(
        done.challenges.find((c) => c.type === 'tls-alpn-01')!.error?.type,
        'urn:ietf:params:acme:error:connection',
      );
    } finally {
      await closed.close();
    }
  });

  it('refuses loopback when private networks are not allowed', async () => {
    const guarded = await startTestCa({
      va: { tls_alpn01_port: responder.port, allow_private_networks: false },
    });
    try {
      const client = await guarded.account();
      const identifier = { type: 'dns', value: 'guarded.example.localhost' };
      const { order } = await client.newOrder({ identifiers: [identifier] });
      const authz = await client.getAuthorization(order.authorizations[0]!);
      const challenge = authz.challenges.find((c) => c.type === 'tls-alpn-01')!;
      responder.set(identifier, client.keyAuthorization(challenge.token));
      await client.respondChallenge(challenge.url);
      const done = await settle(client, order.authorizations[0]!);
      assert.equal(done.status, 'invalid');
      assert.match(
        String(done.challenges.find((c) => c.type === 'tls-alpn-01')!.error?.detail),
        /private, loopback/,
      );
    } finally {
      await guarded.close();
    }
  });
});
