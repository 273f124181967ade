/**
 * Certificate profiles (draft-ietf-acme-profiles), trust_authenticated mode and per-profile directories,
 * against the real server: HTTPS, SQLite, http-01 responder, @akamu/client.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { AcmeClient, generateKey, Http01Solver, obtainCertificate } from '@akamu/client';
import type { DirectoryJson } from '@akamu/protocol';
import * as asn1x509 from '@peculiar/asn1-x509';
import { decodeCertificate, extensionValue } from '../ca/support.ts';
import { startTestCa, type TestCa } from '../helpers.ts';
import { finalizeOrder, problemOf, validateHttp01 } from './issuance-policy-support.ts';

const DAY = 86_400_000;

const PROFILES = {
  tls: { description: 'TLS servers, 7 days', validity: '7d', allowed_key_types: ['ec'] },
  client: {
    description: 'mTLS clients',
    key_usages: ['digitalSignature'],
    extended_key_usages: ['clientAuth', '1.3.6.1.4.1.55555.1'],
    identifier_types: ['dns'],
    allow_names: ['client.localhost'],
    crl_url: 'http://crl.example/akamu.crl',
    ocsp_url: 'http://ocsp.example/',
  },
  internal: {
    description: 'Internal services, no challenge',
    authorization_mode: 'trust_authenticated',
    allow_names: ['internal.localhost'],
  },
  'http-only': { description: 'http-01 only', challenge_types: ['http-01'] },
} as const;

describe('certificate profiles (draft-ietf-acme-profiles)', () => {
  let ca: TestCa;
  before(async () => {
    ca = await startTestCa({ profiles: structuredClone(PROFILES) as never });
  });
  after(() => ca.close());

  it('lists every profile with its description in meta.profiles', async () => {
    const dir = await (await ca.client()).directory();
    assert.deepEqual(dir.meta?.profiles, {
      tls: 'TLS servers, 7 days',
      client: 'mTLS clients',
      internal: 'Internal services, no challenge',
      'http-only': 'http-01 only',
    });
  });

  it('echoes the profile on the order and applies its validity and key types at finalize', async () => {
    const client = await ca.account();
    const names = ['web.tls.localhost'];
    const { url, order } = await client.newOrder({
      identifiers: [{ type: 'dns', value: names[0]! }],
      profile: 'tls',
    });
    assert.equal(order.profile, 'tls');
    assert.equal((await client.getOrder(url)).profile, 'tls', 'stored with the order');
    for (const authz of order.authorizations) await validateHttp01(ca, client, authz);

    const rsa = await problemOf(finalizeOrder(client, url, order, names, 'rsa:2048'));
    assert.equal(rsa.type, 'urn:ietf:params:acme:error:badPublicKey');
    assert.match(rsa.problem.detail ?? '', /accepts ec keys/);

    const { leaf, order: valid } = await finalizeOrder(client, url, order, names, 'ec:P-384');
    assert.equal(valid.profile, 'tls');
    const days = (Date.parse(leaf.validTo) - Date.parse(leaf.validFrom)) / DAY;
    assert.ok(days > 6.9 && days < 7.1, `7 days, got ${days}`);
  });

  it('refuses a notAfter beyond the profile validity', async () => {
    const client = await ca.account();
    const err = await problemOf(
      client.newOrder({
        identifiers: [{ type: 'dns', value: 'long.tls.localhost' }],
        profile: 'tls',
        notAfter: new Date(Date.now() + 30 * DAY).toISOString(),
      }),
    );
    assert.equal(err.type, 'urn:ietf:params:acme:error:malformed');
    assert.match(err.problem.detail ?? '', /7 days/);
  });

  it('answers invalidProfile for a profile the CA does not offer', async () => {
    const client = await ca.account();
    const err = await problemOf(
      client.newOrder({ identifiers: [{ type: 'dns', value: 'x.localhost' }], profile: 'nonexistent' }),
    );
    assert.equal(err.type, 'urn:ietf:params:acme:error:invalidProfile');
    assert.equal(err.status, 400);
    assert.match(err.problem.detail ?? '', /"nonexistent" is not offered/);
  });

  it('writes the profile key usages, EKUs and CRL/OCSP URLs', async () => {
    const client = await ca.account();
    const names = ['svc.client.localhost'];
    const { url, order } = await client.newOrder({
      identifiers: [{ type: 'dns', value: names[0]! }],
      profile: 'client',
    });
    for (const authz of order.authorizations) await validateHttp01(ca, client, authz);
    const { der } = await finalizeOrder(client, url, order, names, 'rsa:2048');
    const cert = decodeCertificate(der);
    const ku = extensionValue(cert, '2.5.29.15', asn1x509.KeyUsage);
    assert.equal(ku.toJSON().join(','), 'digitalSignature', 'no keyEncipherment even for RSA');
    const eku = extensionValue(cert, '2.5.29.37', asn1x509.ExtendedKeyUsage);
    assert.deepEqual([...eku], ['1.3.6.1.5.5.7.3.2', '1.3.6.1.4.1.55555.1']);
    const crl = extensionValue(cert, '2.5.29.31', asn1x509.CRLDistributionPoints);
    assert.equal(
      crl[0]?.distributionPoint?.fullName?.[0]?.uniformResourceIdentifier,
      'http://crl.example/akamu.crl',
    );
    const aia = extensionValue(cert, '1.3.6.1.5.5.7.1.1', asn1x509.AuthorityInfoAccessSyntax);
    assert.equal(aia[0]?.accessMethod, '1.3.6.1.5.5.7.48.1');
    assert.equal(aia[0]?.accessLocation.uniformResourceIdentifier, 'http://ocsp.example/');
  });

  it("refuses identifiers outside the profile's lists and types, one subproblem each", async () => {
    const client = await ca.account();
    const err = await problemOf(
      client.newOrder({
        profile: 'client',
        identifiers: [
          { type: 'dns', value: 'ok.client.localhost' },
          { type: 'dns', value: 'www.other.localhost' },
          { type: 'ip', value: '127.0.0.1' },
        ],
      }),
    );
    assert.equal(err.type, 'urn:ietf:params:acme:error:compound');
    assert.deepEqual(
      err.problem.subproblems?.map((s) => [s.type.split(':').at(-1), s.identifier?.value]),
      [
        ['rejectedIdentifier', 'www.other.localhost'],
        ['unsupportedIdentifier', '127.0.0.1'],
      ],
    );
  });

  it('offers only the challenge types the profile allows', async () => {
    const client = await ca.account();
    const { order } = await client.newOrder({
      identifiers: [{ type: 'dns', value: 'a.http.localhost' }],
      profile: 'http-only',
    });
    const authz = await client.getAuthorization(order.authorizations[0]!);
    assert.deepEqual(
      authz.challenges.map((c) => c.type),
      ['http-01'],
    );
  });

  it('without a profile, orders carry none and keep the CA defaults', async () => {
    const client = await ca.account();
    const { url, order } = await client.newOrder({
      identifiers: [{ type: 'dns', value: 'plain.localhost' }],
    });
    assert.equal(order.profile, undefined);
    for (const authz of order.authorizations) await validateHttp01(ca, client, authz);
    const { leaf } = await finalizeOrder(client, url, order, ['plain.localhost']);
    const days = (Date.parse(leaf.validTo) - Date.parse(leaf.validFrom)) / DAY;
    assert.ok(days > 89.9 && days < 90.1, `90 days, got ${days}`);
  });

  describe('trust_authenticated mode', () => {
    it('creates the authorizations valid without a challenge; the order is ready at once', async () => {
      const client = await ca.account();
      const names = ['api.internal.localhost', 'db.internal.localhost'];
      const { url, order } = await client.newOrder({
        identifiers: names.map((value) => ({ type: 'dns', value })),
        profile: 'internal',
      });
      assert.equal(order.status, 'ready');
      for (const authzUrl of order.authorizations) {
        const authz = await client.getAuthorization(authzUrl);
        assert.equal(authz.status, 'valid');
        assert.deepEqual(authz.challenges, []);
      }
      const { leaf } = await finalizeOrder(client, url, order, names);
      assert.equal(leaf.subjectAltName, 'DNS:api.internal.localhost, DNS:db.internal.localhost');
    });

    it('still applies the profile allow list', async () => {
      const client = await ca.account();
      const err = await problemOf(
        client.newOrder({
          identifiers: [{ type: 'dns', value: 'www.example.localhost' }],
          profile: 'internal',
        }),
      );
      assert.equal(err.type, 'urn:ietf:params:acme:error:rejectedIdentifier');
      assert.match(err.problem.detail ?? '', /not allowed by profile "internal"/);
    });

    it("does not let a trusted authorization revoke another account's certificate", async () => {
      const holder = await ca.account();
      const names = ['shared.internal.localhost'];
      const issued = await holder.newOrder({
        identifiers: [{ type: 'dns', value: names[0]! }],
        profile: 'internal',
      });
      const { der } = await finalizeOrder(holder, issued.url, issued.order, names);
      const other = await ca.account();
      const own = await other.newOrder({
        identifiers: [{ type: 'dns', value: names[0]! }],
        profile: 'internal',
      });
      assert.equal(own.order.status, 'ready', 'the other account holds a valid (trusted) authorization');
      const err = await problemOf(other.revokeCertificate(der));
      assert.equal(err.type, 'urn:ietf:params:acme:error:unauthorized');
      await holder.revokeCertificate(der);
    });

    it('never lets a trusted authorization satisfy an order that needs a challenge', async () => {
      const client = await ca.account();
      const identifiers = [{ type: 'dns', value: 'reuse.internal.localhost' }];
      const trusted = await client.newOrder({ identifiers, profile: 'internal' });
      assert.equal(trusted.order.status, 'ready');
      const challenged = await client.newOrder({ identifiers });
      assert.equal(challenged.order.status, 'pending');
      assert.notDeepEqual(challenged.order.authorizations, trusted.order.authorizations);
      const authz = await client.getAuthorization(challenged.order.authorizations[0]!);
      assert.equal(authz.status, 'pending');
      assert.ok(authz.challenges.some((c) => c.type === 'http-01'));
    });
  });

  describe('per-profile directories', () => {
    function profileClient(id: string): AcmeClient {
      return new AcmeClient({
        directoryUrl: new URL(`/acme/profile/${id}/directory`, ca.directoryUrl).href,
        accountKey: generateKey('ec:P-256'),
        caBundle: ca.caBundle,
      });
    }

    it('serves a directory whose newOrder implies the profile and shares every other resource', async () => {
      const client = profileClient('internal');
      const dir: DirectoryJson = await client.directory();
      const main = await (await ca.client()).directory();
      assert.equal(dir.newOrder, new URL('/acme/profile/internal/new-order', ca.directoryUrl).href);
      assert.equal(dir.newAccount, main.newAccount);
      assert.equal(dir.newNonce, main.newNonce);
      assert.equal(dir.revokeCert, main.revokeCert);
      assert.deepEqual(dir.meta?.profiles, { internal: 'Internal services, no challenge' });
      client.close();
    });

    it('issues through the per-profile directory with a client that never sends "profile"', async () => {
      const client = profileClient('internal');
      await client.newAccount({ termsOfServiceAgreed: true });
      const solver = new Http01Solver({ port: 0 });
      const { certificatePem, orderUrl } = await obtainCertificate(client, {
        identifiers: [{ type: 'dns', value: 'ci.internal.localhost' }],
        solvers: [solver],
      });
      assert.match(certificatePem, /BEGIN CERTIFICATE/);
      const order = await client.getOrder(orderUrl);
      assert.equal(order.profile, 'internal');
      assert.equal(order.status, 'valid');
      client.close();
    });

    it('refuses a different profile in the payload and unknown profile directories', async () => {
      const client = profileClient('internal');
      await client.newAccount({ termsOfServiceAgreed: true });
      const err = await problemOf(
        client.newOrder({ identifiers: [{ type: 'dns', value: 'x.internal.localhost' }], profile: 'tls' }),
      );
      assert.equal(err.type, 'urn:ietf:params:acme:error:invalidProfile');
      client.close();
      const missing = profileClient('nope');
      const notFound = await problemOf(missing.directory());
      assert.equal(notFound.status, 404);
      missing.close();
    });
  });
});

describe('acme.default_profile', () => {
  let ca: TestCa;
  before(async () => {
    ca = await startTestCa({
      acme: { default_profile: 'short' },
      profiles: { short: { description: 'one day', validity: '1d' }, long: { validity: '30d' } },
    });
  });
  after(() => ca.close());

  it('applies to orders that name no profile and is echoed on them', async () => {
    const client = await ca.account();
    const { url, order } = await client.newOrder({ identifiers: [{ type: 'dns', value: 'd.localhost' }] });
    assert.equal(order.profile, 'short');
    for (const authz of order.authorizations) await validateHttp01(ca, client, authz);
    const { leaf } = await finalizeOrder(client, url, order, ['d.localhost']);
    const days = (Date.parse(leaf.validTo) - Date.parse(leaf.validFrom)) / DAY;
    assert.ok(days > 0.9 && days < 1.1, `1 day, got ${days}`);
    const other = await client.newOrder({
      identifiers: [{ type: 'dns', value: 'd.localhost' }],
      profile: 'long',
    });
    assert.equal(other.order.profile, 'long');
  });
});
