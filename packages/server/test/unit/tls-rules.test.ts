/**
 * The pure parts of TLS and mutual TLS: forwarded-certificate headers (nginx, Envoy XFCC), subject
 * alternative names, key type names, the group filter, the [tls] schema's cross-checks, and chain rules
 * applied to forwarded chains (RFC 5280 §6.1) with real certificates from akamu's CA code.
 */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { describe, test } from 'node:test';
import { ConfigError, parseConfig } from '../../src/config.ts';
import { forwardedChain } from '../../src/tls/client-auth.ts';
import {
  clientKeyTypeOf,
  parseSubjectAltName,
  verifyClientChain,
} from '../../src/tls/client-certificates.ts';
import { acceptedClientKeyTypes } from '../../src/tls/tls-config.ts';
import { CIPHER_SUITES, usableGroups } from '../../src/tls/tls-policy.ts';
import { makeClient, makeIntermediate, makeRoot } from '../integration/tls-support.ts';

const root = makeRoot('Unit Root');
const inter = makeIntermediate(root, 'Unit Intermediate');
const rules = {
  anchors: [new X509Certificate(root.der)],
  maxIntermediates: 1,
  minRsaBits: 2048,
  keyTypes: new Set(['ec:P-256'] as const),
};

describe('forwarded client certificate headers', () => {
  const leaf = makeClient(inter);
  test('nginx X-SSL-Client-Cert: URL-encoded PEM chain', () => {
    const ders = forwardedChain({ 'x-ssl-client-cert': encodeURIComponent(leaf.chainPem) });
    assert.ok(Array.isArray(ders));
    assert.equal(ders.length, 2);
    assert.ok(ders[0]!.equals(leaf.der));
  });
  test('Envoy XFCC: the last element, Cert and Chain, quoted values with ; and ,', () => {
    const other = makeClient(inter, { commonName: 'first-hop' });
    const header = [
      `By=spiffe://a;Cert="${encodeURIComponent(other.pem)}";Subject="CN=a, O=x;y"`,
      `By=spiffe://b;Hash=ab;Cert="${encodeURIComponent(leaf.pem)}";Chain="${encodeURIComponent(leaf.chainPem)}"`,
    ].join(',');
    const ders = forwardedChain({ 'x-forwarded-client-cert': header });
    assert.ok(Array.isArray(ders));
    assert.equal(ders.length, 2, 'the leaf repeated in Chain is counted once');
    assert.ok(ders[0]!.equals(leaf.der));
  });
  test('absent, empty, and malformed headers', () => {
    assert.equal(forwardedChain({}), undefined);
    assert.equal(forwardedChain({ 'x-ssl-client-cert': '' }), undefined);
    assert.equal(forwardedChain({ 'x-ssl-client-cert': 'garbage' }), null);
    assert.equal(forwardedChain({ 'x-ssl-client-cert': '%E0%A4%A' }), null);
    assert.equal(forwardedChain({ 'x-forwarded-client-cert': 'By=spiffe://x;Hash=00' }), undefined);
    assert.equal(forwardedChain({ 'x-forwarded-client-cert': 'Cert="nope"' }), null);
  });
});

describe('client certificate rules', () => {
  test('a forwarded chain is verified end to end, counting intermediates', async () => {
    const ok = makeClient(inter, { commonName: 'svc', dnsNames: ['svc.example.test'] });
    const v = await verifyClientChain(ok.der, [inter.der], rules, Date.now(), 'forwarded');
    assert.ok(v.ok, JSON.stringify(v));
    if (v.ok) {
      assert.equal(v.identity.commonName, 'svc');
      assert.deepEqual(v.identity.sans.dns, ['svc.example.test']);
      assert.equal(v.identity.source, 'forwarded');
    }
    const missing = await verifyClientChain(ok.der, [], rules, Date.now(), 'forwarded');
    assert.ok(!missing.ok && /does not chain/.test(missing.reason));
    const deeper = makeIntermediate(inter, 'Deeper');
    const deep = makeClient(deeper);
    const tooDeep = await verifyClientChain(
      deep.der,
      [deeper.der, inter.der],
      rules,
      Date.now(),
      'forwarded',
    );
    assert.ok(!tooDeep.ok && /more than 1 intermediate/.test(tooDeep.reason));
  });
  test('validity is judged by the given clock', async () => {
    const c = makeClient(inter);
    const later = await verifyClientChain(
      c.der,
      [inter.der],
      rules,
      Date.now() + 40 * 86_400_000,
      'forwarded',
    );
    assert.ok(!later.ok && /expired/.test(later.reason));
  });
  test('revocation is asked only for certificates our issuer signed', async () => {
    const c = makeClient(inter);
    const asked: string[] = [];
    const r = {
      ...rules,
      isRevoked: async (serial: string) => {
        asked.push(serial);
        return true;
      },
      issuedByUs: (leaf: X509Certificate) => leaf.checkIssued(new X509Certificate(inter.der)),
    };
    const v = await verifyClientChain(c.der, [inter.der], r, Date.now(), 'forwarded');
    assert.ok(!v.ok && /revoked/.test(v.reason));
    assert.deepEqual(asked, [new X509Certificate(c.der).serialNumber.toLowerCase()]);
    const direct = makeClient(root);
    asked.length = 0;
    assert.ok((await verifyClientChain(direct.der, [], r, Date.now(), 'forwarded')).ok);
    assert.deepEqual(asked, []);
  });
  test('key type names', () => {
    assert.equal(clientKeyTypeOf(makeClient(root, { keyType: 'ec:P-384' }).key), 'ec:P-384');
    assert.equal(clientKeyTypeOf(makeClient(root, { keyType: 'ed25519' }).key), 'ed25519');
    assert.equal(clientKeyTypeOf(makeClient(root, { keyType: 'ml-dsa-44' }).key), 'ml-dsa-44');
  });
  test('subjectAltName text with quoted values', () => {
    assert.deepEqual(
      parseSubjectAltName('DNS:a.example, IP Address:192.0.2.1, email:x@y.example, URI:"spiffe://t/a,b"'),
      {
        dns: ['a.example'],
        ip: ['192.0.2.1'],
        email: ['x@y.example'],
        uri: ['spiffe://t/a,b'],
      },
    );
  });
});

describe('[tls] configuration', () => {
  test('defaults: TLS 1.2+, hybrid group first, HTTP/2, no client certificates', () => {
    const { tls } = parseConfig({});
    assert.equal(tls.min_version, 'TLSv1.2');
    assert.deepEqual(tls.groups, ['X25519MLKEM768', 'X25519', 'P-256', 'P-384']);
    assert.equal(tls.auto_validity, 30 * 86_400_000);
    assert.equal(tls.http2, true);
    assert.equal(tls.client_auth, 'none');
    assert.ok(!acceptedClientKeyTypes(tls).has('ml-dsa-65'));
    assert.ok(acceptedClientKeyTypes(parseConfig({ tls: { client_allow_pq: true } }).tls).has('ml-dsa-65'));
  });
  test('client_auth and forwarded proxies need trust anchors; ML-DSA needs client_allow_pq', () => {
    assert.throws(() => parseConfig({ tls: { client_auth: 'required' } }), ConfigError);
    assert.throws(() => parseConfig({ tls: { forwarded_cert_proxies: ['10.0.0.1'] } }), /client_ca_files/);
    assert.throws(() => parseConfig({ tls: { client_key_types: ['ml-dsa-65'] } }), /client_allow_pq/);
    assert.throws(
      () => parseConfig({ tls: { forwarded_cert_proxies: ['not-an-ip'], client_ca_files: ['x'] } }),
      /CIDR/,
    );
    assert.throws(() => parseConfig({ tls: { min_version: 'TLSv1.1' } }), /min_version/);
  });
  test('the suites are AEAD only, and unknown groups are filtered out', () => {
    for (const suite of CIPHER_SUITES.split(':')) assert.match(suite, /GCM|CHACHA20[-_]POLY1305/);
    const { usable, unsupported } = usableGroups(['X25519MLKEM768', 'X25519', 'NoSuchGroup']);
    assert.deepEqual(usable, ['X25519MLKEM768', 'X25519']);
    assert.deepEqual(unsupported, ['NoSuchGroup']);
  });
});
