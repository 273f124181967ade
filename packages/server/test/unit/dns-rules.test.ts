import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { describe, test } from 'node:test';
import { dnsPersistAccountUri } from '@akamu/protocol';
import { TestDnsServer } from '../../../../test/support/dns-server.ts';
import { applyEnvOverrides, parseConfig } from '../../src/config.ts';
import { checkPersistRecords, type PersistCheck } from '../../src/core/dns-persist.ts';
import { parseIssueValue } from '../../src/core/issue-value.ts';
import {
  CaaChecker,
  type CaaRecord,
  caaCandidates,
  evaluateCaa,
  validationMethodFor,
} from '../../src/ra/caa.ts';
import { dns01RecordName } from '../../src/va/dns-01.ts';
import { DnsPersist01Validator, PERSIST_MAX_FAILURES } from '../../src/va/dns-persist-01.ts';
import { DnsLookupError, DnsResolver } from '../../src/va/dns-resolver.ts';

const URN = 'urn:ietf:params:acme:error:';

describe('issue-value syntax (RFC 8659 §4.2)', () => {
  test('issuer, parameters, whitespace and the empty issuer', () => {
    assert.deepEqual(
      parseIssueValue('  CA.Example ; accounturi=https://ca/acct/1 ;validationmethods=dns-01 '),
      {
        issuer: 'ca.example',
        parameters: [
          { tag: 'accounturi', value: 'https://ca/acct/1' },
          { tag: 'validationmethods', value: 'dns-01' },
        ],
      },
    );
    assert.deepEqual(parseIssueValue(';'), { issuer: undefined, parameters: [] });
    assert.deepEqual(parseIssueValue('ca.example'), { issuer: 'ca.example', parameters: [] });
    assert.deepEqual(parseIssueValue('ca.example;'), { issuer: 'ca.example', parameters: [] });
  });
  test('malformed values', () => {
    for (const bad of [
      'ca..example',
      '-ca.example',
      'ca.example; noequals',
      'ca.example; a=b c',
      'ca example',
      'ca.example; =x',
    ]) {
      assert.equal(parseIssueValue(bad), undefined, bad);
    }
  });
});

describe('CAA rules (RFC 8659, RFC 8657)', () => {
  const base = {
    identities: ['ca.example'],
    wildcard: false,
    accountUri: 'https://ca/acct/1',
    method: 'dns-01',
  };
  const issue = (value: string, flags = 0): CaaRecord => ({ flags, tag: 'issue', value });

  test('climbing: the name, then each parent up to the TLD (§3); a wildcard from its base', () => {
    assert.deepEqual(caaCandidates('a.b.example.com'), [
      'a.b.example.com',
      'b.example.com',
      'example.com',
      'com',
    ]);
    assert.deepEqual(caaCandidates('*.example.com'), ['example.com', 'com']);
  });

  test('an empty RRset permits (§3); issue naming us permits, another CA or ";" refuses (§4.2)', () => {
    assert.deepEqual(evaluateCaa([], base), { permitted: true });
    assert.deepEqual(evaluateCaa([issue('CA.example')], base), { permitted: true });
    assert.equal(evaluateCaa([issue('other.example')], base).permitted, false);
    assert.equal(evaluateCaa([issue(';')], base).permitted, false);
    assert.deepEqual(evaluateCaa([issue('other.example'), issue('ca.example')], base), { permitted: true });
    assert.equal(evaluateCaa([issue('ca..example')], base).permitted, false, 'a malformed value names no CA');
  });

  test('only iodef (no issue property) permits', () => {
    assert.deepEqual(evaluateCaa([{ flags: 0, tag: 'iodef', value: 'mailto:x@y' }], base), {
      permitted: true,
    });
  });

  test('issuewild applies to wildcards only and then overrides issue (§4.3)', () => {
    const rrset = [issue('ca.example'), { flags: 0, tag: 'issuewild', value: 'other.example' }];
    assert.deepEqual(evaluateCaa(rrset, base), { permitted: true });
    assert.equal(evaluateCaa(rrset, { ...base, wildcard: true }).permitted, false);
    assert.deepEqual(evaluateCaa([issue('ca.example')], { ...base, wildcard: true }), { permitted: true });
    assert.deepEqual(
      evaluateCaa([issue('other.example'), { flags: 0, tag: 'ISSUEWILD', value: 'ca.example' }], {
        ...base,
        wildcard: true,
      }),
      { permitted: true },
    );
  });

  test('an unknown tag with the critical flag refuses (§4.1); unknown non-critical tags are ignored', () => {
    const crit = { flags: 128, tag: 'tbs', value: 'x' };
    assert.equal(evaluateCaa([issue('ca.example'), crit], base).permitted, false);
    assert.deepEqual(evaluateCaa([issue('ca.example'), { ...crit, flags: 0 }], base), { permitted: true });
    assert.deepEqual(
      evaluateCaa([issue('ca.example', 128)], base),
      { permitted: true },
      'critical issue is known',
    );
  });

  test('accounturi must equal the account URL (RFC 8657 §3)', () => {
    assert.deepEqual(evaluateCaa([issue('ca.example; accounturi=https://ca/acct/1')], base), {
      permitted: true,
    });
    const r = evaluateCaa([issue('ca.example; accounturi=https://ca/acct/2')], base);
    assert.equal(r.permitted, false);
  });

  test('validationmethods must list the method used (RFC 8657 §4)', () => {
    assert.deepEqual(evaluateCaa([issue('ca.example; validationmethods=http-01,dns-01')], base), {
      permitted: true,
    });
    assert.equal(evaluateCaa([issue('ca.example; validationmethods=http-01')], base).permitted, false);
    assert.equal(
      evaluateCaa([issue('ca.example; validationmethods=dns-01')], { ...base, method: undefined }).permitted,
      false,
    );
  });

  test('the method is taken from the valid challenge of the matching authorization', () => {
    const authz = (value: string, wildcard: boolean, type: string) =>
      ({
        id: value,
        accountId: 'a',
        identifier: { type: 'dns', value },
        wildcard,
        status: 'valid',
        expiresAt: 0,
        createdAt: 0,
        challenges: [
          {
            id: '1',
            authorizationId: value,
            type: 'http-01',
            token: 't',
            status: 'pending',
            validatedAt: null,
            error: null,
          },
          { id: '2', authorizationId: value, type, token: 't', status: 'valid', validatedAt: 1, error: null },
        ],
      }) as unknown as Parameters<typeof validationMethodFor>[1][number];
    const list = [authz('example.com', true, 'dns-persist-01'), authz('example.com', false, 'dns-01')];
    assert.equal(validationMethodFor({ type: 'dns', value: '*.example.com' }, list), 'dns-persist-01');
    assert.equal(validationMethodFor({ type: 'dns', value: 'example.com' }, list), 'dns-01');
    assert.equal(validationMethodFor({ type: 'dns', value: 'www.example.com' }, list), 'dns-persist-01');
    assert.equal(validationMethodFor({ type: 'dns', value: 'other.org' }, list), undefined);
  });

  test('CaaChecker climbs to the closest non-empty RRset and fails closed on lookup errors', async () => {
    const zone: Record<string, CaaRecord[]> = { 'example.com': [issue('ca.example')] };
    const asked: string[] = [];
    const checker = new CaaChecker(['ca.example'], async (name) => {
      asked.push(name);
      if (name === 'broken.example.com') throw new DnsLookupError('ESERVFAIL', 'SERVFAIL');
      return zone[name] ?? [];
    });
    assert.deepEqual(await checker.relevantRrset('a.b.example.com'), {
      at: 'example.com',
      rrset: zone['example.com'],
    });
    assert.deepEqual(asked, ['a.b.example.com', 'b.example.com', 'example.com']);
    await checker.check([{ identifier: { type: 'dns', value: 'a.example.com' }, method: 'dns-01' }], 'u');
    await checker.check([{ identifier: { type: 'ip', value: '10.0.0.1' }, method: 'http-01' }], 'u');
    asked.length = 0;
    await checker.check([{ identifier: { type: 'dns', value: '*.app.localhost' }, method: 'dns-01' }], 'u');
    assert.deepEqual(asked, [], 'names under .localhost are not looked up (RFC 6761 §6.3)');
    await assert.rejects(
      checker.check([{ identifier: { type: 'dns', value: 'x.broken.example.com' }, method: 'dns-01' }], 'u'),
      (e: { type: string; identifier: unknown }) => {
        assert.equal(e.type, 'caa');
        assert.deepEqual(e.identifier, { type: 'dns', value: 'x.broken.example.com' });
        return true;
      },
    );
  });
});

describe('dns-persist-01 rules (draft-ietf-acme-dns-persist-02)', () => {
  test('the hashed account URI test vector of §10.2', () => {
    const prefix = 'https://ca.example/account-hash/';
    const thumb = 'NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs';
    assert.equal(
      dnsPersistAccountUri(prefix, 'example.com', thumb, 'https://ca.example/acct/123'),
      'https://ca.example/account-hash/sha-256/5SQm7n6tPh2-PlLbCKGnViTXX5z19SCN4cPGQHSk-kw',
    );
    assert.equal(
      dnsPersistAccountUri(prefix, '*', thumb, 'https://ca.example/acct/123'),
      'https://ca.example/account-hash/sha-256/NpDnSwUthQK8zCgFdefYxAdAVPnygMLbs9US6oO-5ug',
    );
  });

  const uri = 'https://ca.example/account-hash/sha-256/5SQm7n6tPh2-PlLbCKGnViTXX5z19SCN4cPGQHSk-kw';
  const other = 'https://ca.example/account-hash/sha-256/NpDnSwUthQK8zCgFdefYxAdAVPnygMLbs9US6oO-5ug';
  const check = (records: string[], extra: Partial<PersistCheck> = {}) =>
    checkPersistRecords({
      records,
      issuerDomainNames: ['authority.example', 'ca.example.net'],
      accountHashPrefix: 'https://ca.example/account-hash/',
      acceptedAccountUris: new Set([uri]),
      wildcard: false,
      now: 1_800_000_000_000,
      ...extra,
    });

  test('a matching record validates; records for other issuers are ignored (§4.3.2)', () => {
    assert.deepEqual(check([`authority.example; accounturi=${uri}`]), { ok: true });
    assert.deepEqual(check(['ca1.example; garbage', `CA.example.NET;accounturi=${uri}; future=1`]), {
      ok: true,
    });
    assert.deepEqual(check(['ca1.example; accounturi=x']), {
      ok: false,
      type: 'unauthorized',
      detail: 'no TXT record names an issuer domain name of this CA (authority.example, ca.example.net)',
    });
    assert.equal(check([]).ok, false);
  });

  test('malformed (§9.3.1): syntax, missing or non-hashed accounturi, duplicates, bad persistUntil', () => {
    for (const r of [
      'authority.example; accounturi',
      'authority.example',
      'authority.example; accounturi=https://ca.example/acct/123',
      `authority.example; accounturi=${uri.replace('sha-256', 'sha-1')}`,
      `authority.example; accounturi=${uri}; accounturi=${uri}`,
      `authority.example; accounturi=${uri}; persistUntil=soon`,
    ]) {
      const res = check([r]);
      assert.equal(res.ok ? 'ok' : res.type, 'malformed', r);
    }
  });

  test('unauthorized (§9.3.1): another account, expired persistUntil, wildcard without policy', () => {
    const fail = (records: string[], extra?: Partial<PersistCheck>) => {
      const r = check(records, extra);
      return r.ok ? 'ok' : `${r.type}: ${r.detail}`;
    };
    assert.match(fail([`authority.example; accounturi=${other}`]), /^unauthorized: .*does not identify/);
    assert.match(
      fail([`authority.example; accounturi=${uri}; persistUntil=1700000000`]),
      /^unauthorized: .*expired/,
    );
    assert.match(fail([`authority.example; accounturi=${uri}`], { wildcard: true }), /policy=wildcard/);
    assert.match(
      fail([`authority.example; accounturi=${uri}; policy=exact`], { wildcard: true }),
      /policy=wildcard/,
    );
    assert.deepEqual(check([`authority.example; accounturi=${uri}; policy=Wildcard`], { wildcard: true }), {
      ok: true,
    });
    assert.deepEqual(check([`authority.example; accounturi=${uri}; persistUntil=1900000000`]), {
      ok: true,
      validUntil: 1_900_000_000_000,
    });
    assert.equal(
      fail([`authority.example; accounturi=${uri.replace('5SQm', '5sqm')}`]).startsWith('unauthorized'),
      true,
      'no case folding',
    );
  });
});

describe('DnsPersist01Validator', () => {
  test('failed attempts are rate-limited per account and domain (draft §9.3.1)', async () => {
    const dns = await TestDnsServer.start();
    try {
      const v = new DnsPersist01Validator({
        resolver: new DnsResolver({ servers: [`${dns.host}:${dns.port}`], timeoutMs: 1000, tries: 1 }),
        issuerDomainNames: ['ca.example'],
        accountHashPrefix: () => 'https://ca.example/account-hash/',
        now: () => Date.now(),
      });
      const req = (accountId: string, value: string) => ({
        identifier: { type: 'dns' as const, value },
        wildcard: false,
        challengeType: 'dns-persist-01',
        token: 't',
        keyAuthorization: 't.NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs',
        accountId,
        accountUrl: `https://ca.example/acct/${accountId}`,
        signal: AbortSignal.timeout(5000),
      });
      const types: string[] = [];
      for (let i = 0; i <= PERSIST_MAX_FAILURES; i++) {
        types.push(((await v.validate(req('a', 'rl.example.test'))) as { type: string }).type);
      }
      assert.deepEqual(
        types.slice(0, PERSIST_MAX_FAILURES),
        Array(PERSIST_MAX_FAILURES).fill(`${URN}unauthorized`),
      );
      assert.equal(types.at(-1), `${URN}rateLimited`);
      // Another account, or another domain, is not limited; nor is the record once published (it is not read).
      assert.equal(
        ((await v.validate(req('b', 'rl.example.test'))) as { type: string }).type,
        `${URN}unauthorized`,
      );
      assert.equal(
        ((await v.validate(req('a', 'other.example.test'))) as { type: string }).type,
        `${URN}unauthorized`,
      );
      dns.setTxt('_validation-persist.ok.example.test', [
        `ca.example; accounturi=${dnsPersistAccountUri('https://ca.example/account-hash/', 'ok.example.test', 'NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs', 'https://ca.example/acct/a')}; persistUntil=4102444800`,
      ]);
      assert.deepEqual(await v.validate(req('a', 'ok.example.test')), { validUntil: 4_102_444_800_000 });
    } finally {
      await dns.stop();
    }
  });
});

describe('DnsResolver (node:dns with configured servers)', () => {
  test('TXT joined, CAA as flags/tag/value, empty for NXDOMAIN and NODATA, errors for SERVFAIL', async () => {
    const dns = await TestDnsServer.start();
    try {
      const r = new DnsResolver({ servers: [`${dns.host}:${dns.port}`], timeoutMs: 1000, tries: 1 });
      dns.setTxt('t.example.test', ['x'.repeat(400)]);
      assert.deepEqual(await r.txt('t.example.test'), ['x'.repeat(400)]);
      dns.setCaa('example.test', [
        { flags: 128, tag: 'issue', value: 'ca.example; accounturi=https://a/b' },
        { flags: 0, tag: 'issuewild', value: ';' },
      ]);
      assert.deepEqual(await r.caa('example.test'), [
        { flags: 128, tag: 'issue', value: 'ca.example; accounturi=https://a/b' },
        { flags: 0, tag: 'issuewild', value: ';' },
      ]);
      assert.deepEqual(await r.txt('missing.example.test'), []);
      assert.deepEqual(await r.caa('t.example.test'), []);
      dns.setA('h.example.test', ['192.0.2.7']);
      assert.deepEqual(await r.addresses('h.example.test'), ['192.0.2.7']);
      dns.failWith('bad.example.test', 'SERVFAIL');
      await assert.rejects(
        r.txt('bad.example.test'),
        (e: unknown) => e instanceof DnsLookupError && e.code === 'ESERVFAIL',
      );
    } finally {
      await dns.stop();
    }
  });

  test('a server that never answers times out (per attempt × tries)', async () => {
    const silent = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => silent.bind(0, '127.0.0.1', () => resolve()));
    try {
      const r = new DnsResolver({
        servers: [`127.0.0.1:${silent.address().port}`],
        timeoutMs: 200,
        tries: 1,
      });
      await assert.rejects(
        r.txt('x.example.test'),
        (e: unknown) => e instanceof DnsLookupError && e.code === 'ETIMEOUT',
      );
    } finally {
      silent.close();
    }
  });

  test('an aborted signal cancels the query', async () => {
    const silent = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => silent.bind(0, '127.0.0.1', () => resolve()));
    try {
      const r = new DnsResolver({
        servers: [`127.0.0.1:${silent.address().port}`],
        timeoutMs: 5000,
        tries: 3,
      });
      await assert.rejects(
        r.txt('x.example.test', AbortSignal.timeout(100)),
        (e: unknown) => e instanceof DnsLookupError,
      );
    } finally {
      silent.close();
    }
  });

  test('dns-01 record names: the wildcard base name, prefixed (RFC 8555 §8.4)', () => {
    assert.equal(
      dns01RecordName({ type: 'dns', value: 'www.example.com' }),
      '_acme-challenge.www.example.com',
    );
    assert.equal(dns01RecordName({ type: 'dns', value: '*.example.com' }), '_acme-challenge.example.com');
  });
});

describe('[dns] and [dns_persist] configuration', () => {
  test('defaults, values, bad resolver addresses and issuer names', () => {
    const c = parseConfig({});
    assert.deepEqual(c.dns, { resolvers: [], timeout: 5000, tries: 2 });
    assert.deepEqual(c.dns_persist, { issuer_domain_names: [], account_hash_prefix: '' });
    const set = parseConfig({
      dns: { resolvers: ['127.0.0.1:5353', '[::1]:53', '10.0.0.2'], timeout: '1s' },
      dns_persist: { issuer_domain_names: ['ca.example'] },
    });
    assert.deepEqual(set.dns.resolvers, ['127.0.0.1:5353', '[::1]:53', '10.0.0.2']);
    assert.equal(set.dns.timeout, 1000);
    assert.throws(() => parseConfig({ dns: { resolvers: ['dns.google'] } }), /dns\.resolvers\.0/);
    assert.throws(
      () => parseConfig({ dns_persist: { issuer_domain_names: ['CA.example.'] } }),
      /issuer_domain_names/,
    );
  });

  test('AKAMU_DNS_PERSIST_* names [dns_persist], AKAMU_DNS_* names [dns]', () => {
    const out = applyEnvOverrides(
      {},
      { AKAMU_DNS_PERSIST_ISSUER_DOMAIN_NAMES: '["ca.example"]', AKAMU_DNS_RESOLVERS: '["127.0.0.1:53"]' },
    );
    assert.deepEqual(out, {
      dns_persist: { issuer_domain_names: ['ca.example'] },
      dns: { resolvers: ['127.0.0.1:53'] },
    });
  });
});
