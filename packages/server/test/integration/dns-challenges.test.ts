import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import dgram from 'node:dgram';
import { after, before, describe, test } from 'node:test';
import {
  type AcmeClient,
  AcmeProblemError,
  type ChallengeSolver,
  createCsr,
  generateKey,
  obtainCertificate,
} from '@akamu/client';
import { dns01TxtValue, dnsPersistAccountUri, type Identifier } from '@akamu/protocol';
import dnsPacket from 'dns-packet';
import { TestDnsServer } from '../../../../test/support/dns-server.ts';
import { startTestCa, type TestCa } from '../helpers.ts';

const URN = 'urn:ietf:params:acme:error:';

/** A dns-01 solver that publishes through the test DNS server (several values per name, as for *.x and x). */
function dns01Solver(dns: TestDnsServer): ChallengeSolver {
  const published = new Map<string, string[]>();
  return {
    type: 'dns-01',
    async present(identifier, _challenge, keyAuthorization) {
      const name = `_acme-challenge.${identifier.value}`;
      const values = [...(published.get(name) ?? []), dns01TxtValue(keyAuthorization)];
      published.set(name, values);
      dns.setTxt(name, values);
    },
    async cleanup(identifier, _challenge, keyAuthorization) {
      dns.removeTxt(`_acme-challenge.${identifier.value}`, dns01TxtValue(keyAuthorization));
    },
  };
}

/** A solver for a challenge whose record the test has already published (dns-persist-01). */
const alreadyPublished = (type: string): ChallengeSolver => ({
  type,
  present: async () => {},
  cleanup: async () => {},
});

function sans(pem: string): string[] {
  return (new X509Certificate(pem).subjectAltName ?? '').split(', ').sort();
}

/** The first authorization of a fresh order for one identifier, and its challenge of a type. */
async function pendingChallenge(client: AcmeClient, identifier: Identifier, type: string) {
  const { order } = await client.newOrder({ identifiers: [identifier] });
  const authzUrl = order.authorizations[0]!;
  const authz = await client.getAuthorization(authzUrl);
  const challenge = authz.challenges.find((c) => c.type === type);
  assert.ok(challenge, `${type} is offered for ${identifier.value}: ${authz.challenges.map((c) => c.type)}`);
  return { authzUrl, authz, challenge };
}

/** Responds to the challenge and returns the authorization once decided (valid or invalid). */
async function decide(client: AcmeClient, authzUrl: string, challengeUrl: string) {
  await client.respondChallenge(challengeUrl);
  try {
    await client.waitForAuthorization(authzUrl, { timeoutMs: 20_000 });
  } catch {
    // invalid: read below
  }
  return client.getAuthorization(authzUrl);
}

/** Sends an RFC 2136 UPDATE adding a TXT record made of the given character-strings. */
async function updateTxt(dns: TestDnsServer, zone: string, name: string, strings: string[]): Promise<void> {
  const msg = dnsPacket.encode({
    type: 'query',
    id: 4242,
    flags: 5 << 11,
    questions: [{ name: zone, type: 'SOA', class: 'IN' }],
    authorities: [{ name, type: 'TXT', class: 'IN', ttl: 60, data: strings }],
  });
  const socket = dgram.createSocket('udp4');
  try {
    const reply = await new Promise<Buffer>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no answer to the update')), 5000);
      socket.once('message', (m) => {
        clearTimeout(timer);
        resolve(m);
      });
      socket.send(msg, dns.port, dns.host);
    });
    assert.equal((dnsPacket.decode(reply) as { rcode?: string }).rcode, 'NOERROR');
  } finally {
    socket.close();
  }
}

describe('dns-01 (RFC 8555 §8.4) against a real DNS server', () => {
  let dns: TestDnsServer;
  let ca: TestCa;
  let client: AcmeClient;
  before(async () => {
    dns = await TestDnsServer.start();
    ca = await startTestCa({ dns: { resolvers: [`${dns.host}:${dns.port}`], timeout: '2s', tries: 1 } });
    client = await ca.account();
  });
  after(async () => {
    await ca.close();
    await dns.stop();
  });

  test('issues for a plain name validated by a TXT record', async () => {
    const r = await obtainCertificate(client, {
      identifiers: [{ type: 'dns', value: 'www.plain.test' }],
      solvers: [dns01Solver(dns)],
    });
    assert.deepEqual(sans(r.certificatePem), ['DNS:www.plain.test']);
  });

  test('issues a wildcard certificate; the wildcard authorization offers only DNS challenges', async () => {
    const { order } = await client.newOrder({ identifiers: [{ type: 'dns', value: '*.wild.test' }] });
    const authz = await client.getAuthorization(order.authorizations[0]!);
    assert.deepEqual(authz.identifier, { type: 'dns', value: 'wild.test' });
    assert.equal(authz.wildcard, true);
    assert.deepEqual(
      authz.challenges.map((c) => c.type),
      ['dns-01'],
    );
    const r = await obtainCertificate(client, {
      identifiers: [
        { type: 'dns', value: '*.wild.test' },
        { type: 'dns', value: 'wild.test' },
      ],
      solvers: [dns01Solver(dns)],
    });
    assert.deepEqual(sans(r.certificatePem), ['DNS:*.wild.test', 'DNS:wild.test']);
  });

  test('a record of several character-strings is joined', async () => {
    const { authzUrl, challenge } = await pendingChallenge(
      client,
      { type: 'dns', value: 'multi.test' },
      'dns-01',
    );
    const value = dns01TxtValue(client.keyAuthorization(challenge.token!));
    await updateTxt(dns, 'multi.test', '_acme-challenge.multi.test', [value.slice(0, 20), value.slice(20)]);
    const authz = await decide(client, authzUrl, challenge.url);
    assert.equal(authz.status, 'valid', JSON.stringify(authz));
  });

  test('a CNAME at _acme-challenge is followed to the TXT record', async () => {
    const { authzUrl, challenge } = await pendingChallenge(
      client,
      { type: 'dns', value: 'cname.test' },
      'dns-01',
    );
    dns.setCname('_acme-challenge.cname.test', 'cname-target.delegated.test');
    dns.setTxt('cname-target.delegated.test', [dns01TxtValue(client.keyAuthorization(challenge.token!))]);
    const authz = await decide(client, authzUrl, challenge.url);
    assert.equal(authz.status, 'valid', JSON.stringify(authz));
  });

  test('no TXT record: unauthorized', async () => {
    const { authzUrl, challenge } = await pendingChallenge(
      client,
      { type: 'dns', value: 'none.test' },
      'dns-01',
    );
    const authz = await decide(client, authzUrl, challenge.url);
    assert.equal(authz.status, 'invalid');
    assert.equal(authz.challenges.find((c) => c.type === 'dns-01')?.error?.type, `${URN}unauthorized`);
    assert.match(
      authz.challenges.find((c) => c.type === 'dns-01')?.error?.detail ?? '',
      /_acme-challenge\.none\.test/,
    );
  });

  test('a wrong value: incorrectResponse', async () => {
    const { authzUrl, challenge } = await pendingChallenge(
      client,
      { type: 'dns', value: 'wrong.test' },
      'dns-01',
    );
    dns.setTxt('_acme-challenge.wrong.test', ['not-the-value']);
    const authz = await decide(client, authzUrl, challenge.url);
    assert.equal(authz.status, 'invalid');
    assert.equal(authz.challenges.find((c) => c.type === 'dns-01')?.error?.type, `${URN}incorrectResponse`);
  });

  test('SERVFAIL: dns problem', async () => {
    const { authzUrl, challenge } = await pendingChallenge(
      client,
      { type: 'dns', value: 'broken.test' },
      'dns-01',
    );
    dns.failWith('_acme-challenge.broken.test', 'SERVFAIL');
    const authz = await decide(client, authzUrl, challenge.url);
    assert.equal(authz.status, 'invalid');
    assert.equal(authz.challenges.find((c) => c.type === 'dns-01')?.error?.type, `${URN}dns`);
    assert.match(authz.challenges.find((c) => c.type === 'dns-01')?.error?.detail ?? '', /SERVFAIL/);
  });

  test('http-01 target names are resolved through the configured resolvers', async () => {
    dns.setA('web.resolved.test', ['127.0.0.1']);
    const r = await obtainCertificate(client, {
      identifiers: [{ type: 'dns', value: 'web.resolved.test' }],
      solvers: [ca.solver],
    });
    assert.deepEqual(sans(r.certificatePem), ['DNS:web.resolved.test']);
  });
});

describe('dns-persist-01 (draft-ietf-acme-dns-persist-02)', () => {
  const issuer = 'ca.akamu.test';
  let dns: TestDnsServer;
  let ca: TestCa;
  let client: AcmeClient;
  let prefix: string;
  before(async () => {
    dns = await TestDnsServer.start();
    ca = await startTestCa({
      dns: { resolvers: [`${dns.host}:${dns.port}`], timeout: '2s', tries: 1 },
      dns_persist: { issuer_domain_names: [issuer, 'other-name.akamu.test'] },
    });
    client = await ca.account();
    const res = await ca.server.app.inject({ method: 'GET', url: '/acme/directory' });
    prefix = res.json().meta.accountHashPrefix;
  });
  after(async () => {
    await ca.close();
    await dns.stop();
  });

  const record = (domain: string, extra = '', c: AcmeClient = client) =>
    `${issuer}; accounturi=${dnsPersistAccountUri(prefix, domain, c.thumbprint, c.accountUrl!)}${extra}`;

  test('the directory and the challenge carry issuerDomainNames; the prefix is under the base URL', async () => {
    const dir = ca.server.app;
    const res = await dir.inject({ method: 'GET', url: '/acme/directory' });
    const meta = res.json().meta;
    assert.deepEqual(meta.issuerDomainNames, [issuer, 'other-name.akamu.test']);
    assert.equal(meta.accountHashPrefix, `${new URL(ca.directoryUrl).origin}/acme/account-hash/`);
    prefix = meta.accountHashPrefix;
    const { challenge } = await pendingChallenge(
      client,
      { type: 'dns', value: 'meta.persist.test' },
      'dns-persist-01',
    );
    assert.deepEqual((challenge as unknown as Record<string, unknown>).issuerDomainNames, [
      issuer,
      'other-name.akamu.test',
    ]);
  });

  test('a record with the hashed account URI validates, and the certificate is issued', async () => {
    dns.setTxt('_validation-persist.ok.persist.test', [
      'other.ca; accounturi=https://x/y',
      record('ok.persist.test'),
    ]);
    const r = await obtainCertificate(client, {
      identifiers: [{ type: 'dns', value: 'ok.persist.test' }],
      solvers: [alreadyPublished('dns-persist-01')],
    });
    assert.deepEqual(sans(r.certificatePem), ['DNS:ok.persist.test']);
  });

  test('the domain opt-out form ("*") is accepted', async () => {
    dns.setTxt('_validation-persist.star.persist.test', [record('*')]);
    const { authzUrl, challenge } = await pendingChallenge(
      client,
      { type: 'dns', value: 'star.persist.test' },
      'dns-persist-01',
    );
    assert.equal((await decide(client, authzUrl, challenge.url)).status, 'valid');
  });

  test('another account, another issuer or the draft-01 plain account URL do not validate', async () => {
    const other = await ca.account();
    const cases: [string, string, string][] = [
      ['acct.persist.test', record('acct.persist.test', '', other), 'unauthorized'],
      [
        'issuer.persist.test',
        `elsewhere.test; accounturi=${record('issuer.persist.test').split('=')[1]}`,
        'unauthorized',
      ],
      ['plain.persist.test', `${issuer}; accounturi=${client.accountUrl}`, 'malformed'],
      ['syntax.persist.test', `${issuer}; accounturi`, 'malformed'],
    ];
    for (const [name, txt, type] of cases) {
      dns.setTxt(`_validation-persist.${name}`, [txt]);
      const { authzUrl, challenge } = await pendingChallenge(
        client,
        { type: 'dns', value: name },
        'dns-persist-01',
      );
      const authz = await decide(client, authzUrl, challenge.url);
      assert.equal(authz.status, 'invalid', name);
      assert.equal(
        authz.challenges.find((c) => c.type === 'dns-persist-01')?.error?.type,
        `${URN}${type}`,
        name,
      );
    }
  });

  test('a wildcard needs policy=wildcard', async () => {
    dns.setTxt('_validation-persist.nopolicy.persist.test', [record('nopolicy.persist.test')]);
    const { authzUrl, challenge } = await pendingChallenge(
      client,
      { type: 'dns', value: '*.nopolicy.persist.test' },
      'dns-persist-01',
    );
    const authz = await decide(client, authzUrl, challenge.url);
    assert.equal(authz.status, 'invalid');
    assert.match(
      authz.challenges.find((c) => c.type === 'dns-persist-01')?.error?.detail ?? '',
      /policy=wildcard/,
    );

    dns.setTxt('_validation-persist.wild.persist.test', [record('wild.persist.test', '; policy=WILDCARD')]);
    const r = await obtainCertificate(client, {
      identifiers: [{ type: 'dns', value: '*.wild.persist.test' }],
      solvers: [alreadyPublished('dns-persist-01')],
    });
    assert.deepEqual(sans(r.certificatePem), ['DNS:*.wild.persist.test']);
  });

  test('a record computed with an earlier account key still validates after a key change (§4.2)', async () => {
    const rotating = await ca.account();
    const oldRecord = record('rotated.persist.test', '', rotating);
    await rotating.keyChange(generateKey('ec:P-256'));
    dns.setTxt('_validation-persist.rotated.persist.test', [oldRecord]);
    const { authzUrl, challenge } = await pendingChallenge(
      rotating,
      { type: 'dns', value: 'rotated.persist.test' },
      'dns-persist-01',
    );
    assert.equal((await decide(rotating, authzUrl, challenge.url)).status, 'valid');
    // The record binds that account only: another account cannot use it.
    const stranger = await ca.account();
    dns.setTxt('_validation-persist.stranger.persist.test', [oldRecord]);
    const other = await pendingChallenge(
      stranger,
      { type: 'dns', value: 'stranger.persist.test' },
      'dns-persist-01',
    );
    assert.equal((await decide(stranger, other.authzUrl, other.challenge.url)).status, 'invalid');
  });

  test('persistUntil: an expired record is refused; a future one caps the authorization expiry', async () => {
    const past = Math.floor(Date.now() / 1000) - 60;
    dns.setTxt('_validation-persist.expired.persist.test', [
      record('expired.persist.test', `; persistUntil=${past}`),
    ]);
    const expired = await pendingChallenge(
      client,
      { type: 'dns', value: 'expired.persist.test' },
      'dns-persist-01',
    );
    const a1 = await decide(client, expired.authzUrl, expired.challenge.url);
    assert.equal(a1.status, 'invalid');
    assert.equal(a1.challenges.find((c) => c.type === 'dns-persist-01')?.error?.type, `${URN}unauthorized`);

    const until = Math.floor(Date.now() / 1000) + 3600;
    dns.setTxt('_validation-persist.until.persist.test', [
      record('until.persist.test', `; persistUntil=${until}`),
    ]);
    const fresh = await pendingChallenge(
      client,
      { type: 'dns', value: 'until.persist.test' },
      'dns-persist-01',
    );
    const a2 = await decide(client, fresh.authzUrl, fresh.challenge.url);
    assert.equal(a2.status, 'valid');
    assert.equal(Date.parse(a2.expires!), until * 1000);
  });
});

describe('CAA (RFC 8659, RFC 8657) at finalize', () => {
  const identity = 'ca.akamu.test';
  let dns: TestDnsServer;
  let ca: TestCa;
  let client: AcmeClient;
  before(async () => {
    dns = await TestDnsServer.start();
    ca = await startTestCa({
      acme: { caa_identities: [identity] },
      dns: { resolvers: [`${dns.host}:${dns.port}`], timeout: '1s', tries: 1 },
    });
    client = await ca.account();
  });
  after(async () => {
    await ca.close();
    await dns.stop();
  });

  async function issue(names: string[], solver: ChallengeSolver = dns01Solver(dns)) {
    return obtainCertificate(client, {
      identifiers: names.map((value) => ({ type: 'dns' as const, value })),
      solvers: [solver],
    });
  }

  async function refused(names: string[], pattern: RegExp, solver?: ChallengeSolver) {
    await assert.rejects(issue(names, solver), (e: unknown) => {
      assert.ok(e instanceof AcmeProblemError, String(e));
      assert.equal(e.type, `${URN}caa`, JSON.stringify(e.problem));
      assert.equal(e.status, 403);
      assert.match(JSON.stringify(e.problem), pattern);
      return true;
    });
  }

  test('the directory lists caaIdentities', async () => {
    const res = await ca.server.app.inject({ method: 'GET', url: '/acme/directory' });
    assert.deepEqual(res.json().meta.caaIdentities, [identity]);
  });

  test('no CAA records anywhere: issued', async () => {
    await issue(['nocaa.example.test']);
  });

  test('issue naming this CA on a parent (climbing the tree): issued; naming another CA: refused', async () => {
    dns.setCaa('climb.test', [{ flags: 0, tag: 'issue', value: identity }]);
    await issue(['a.b.climb.test']);
    dns.setCaa('other.test', [{ flags: 0, tag: 'issue', value: 'letsencrypt.org' }]);
    await refused(['www.other.test'], /"identifier":\{"type":"dns","value":"www.other.test"\}/);
    // The closest RRset wins: a permissive child under a refusing parent.
    dns.setCaa('ok.other.test', [{ flags: 0, tag: 'issue', value: `${identity}; foo=bar` }]);
    await issue(['x.ok.other.test']);
  });

  test('issue ";" forbids every CA', async () => {
    dns.setCaa('none.test', [{ flags: 0, tag: 'issue', value: ';' }]);
    await refused(['none.test'], /none\.test/);
  });

  test('issuewild governs wildcards only', async () => {
    dns.setCaa('wc.test', [
      { flags: 0, tag: 'issue', value: identity },
      { flags: 0, tag: 'issuewild', value: 'other-ca.example' },
    ]);
    await issue(['host.wc.test']);
    await refused(['*.wc.test'], /issuewild/);
    dns.setCaa('wc2.test', [
      { flags: 0, tag: 'issue', value: 'other-ca.example' },
      { flags: 0, tag: 'issuewild', value: identity },
    ]);
    await issue(['*.wc2.test']);
  });

  test('accounturi (RFC 8657 §3) must be the requesting account', async () => {
    dns.setCaa('acct.test', [
      { flags: 0, tag: 'issue', value: `${identity}; accounturi=${client.accountUrl}` },
    ]);
    await issue(['acct.test']);
    dns.setCaa('acct2.test', [
      { flags: 0, tag: 'issue', value: `${identity}; accounturi=https://elsewhere/acct/1` },
    ]);
    await refused(['acct2.test'], /accounturi/);
  });

  test('validationmethods (RFC 8657 §4) must include the method that validated the authorization', async () => {
    dns.setCaa('vm.test', [{ flags: 0, tag: 'issue', value: `${identity}; validationmethods=http-01` }]);
    await refused(['vm.test'], /validationmethods/);
    // (vm.test's valid dns-01 authorization would be reused: another name under the same CAA RRset.)
    dns.setA('www.vm.test', ['127.0.0.1']);
    await issue(['www.vm.test'], ca.solver);
    dns.setCaa('vm2.test', [
      { flags: 0, tag: 'issue', value: `${identity}; validationmethods=tls-alpn-01,dns-01` },
    ]);
    await issue(['vm2.test']);
  });

  test('an unknown critical property refuses; an unknown non-critical one is ignored', async () => {
    dns.setCaa('crit.test', [
      { flags: 0, tag: 'issue', value: identity },
      { flags: 128, tag: 'futuretag', value: 'x' },
    ]);
    await refused(['crit.test'], /critical/);
    dns.setCaa('noncrit.test', [
      { flags: 0, tag: 'issue', value: identity },
      { flags: 0, tag: 'futuretag', value: 'x' },
    ]);
    await issue(['noncrit.test']);
  });

  test('a failed lookup (SERVFAIL) refuses issuance', async () => {
    dns.failWith('sf.test', 'SERVFAIL');
    // dns-01 for sf.test is at _acme-challenge.sf.test, which answers; only the CAA lookup fails.
    await refused(['sf.test'], /SERVFAIL/);
  });

  test('several refused identifiers: one subproblem each', async () => {
    dns.setCaa('multi-a.test', [{ flags: 0, tag: 'issue', value: 'other.example' }]);
    dns.setCaa('multi-b.test', [{ flags: 0, tag: 'issue', value: 'other.example' }]);
    await assert.rejects(issue(['multi-a.test', 'multi-b.test', 'multi-ok.test']), (e: unknown) => {
      assert.ok(e instanceof AcmeProblemError);
      assert.equal(e.type, `${URN}caa`);
      assert.deepEqual(e.subproblems.map((s) => s.identifier?.value).sort(), [
        'multi-a.test',
        'multi-b.test',
      ]);
      return true;
    });
  });

  test('the CSR is checked before CAA: a refused order is left ready for a later attempt', async () => {
    dns.setCaa('later.test', [{ flags: 0, tag: 'issue', value: 'other.example' }]);
    await refused(['later.test'], /later\.test/);
    dns.setCaa('later.test', [{ flags: 0, tag: 'issue', value: identity }]);
    const { url, order } = await client.newOrder({ identifiers: [{ type: 'dns', value: 'later.test' }] });
    assert.equal(order.status, 'ready');
    const key = generateKey('ec:P-256');
    const done = await client.finalize(order, createCsr({ key, dnsNames: ['later.test'] }));
    const final = done.status === 'valid' ? done : await client.waitForOrder(url, ['valid']);
    assert.equal(final.status, 'valid');
  });
});
