import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { describe, it } from 'node:test';
import { describeKey } from '../../src/ca/csr.ts';
import { parseConfig } from '../../src/config.ts';
import { normalizeIdentifier, parseOrderIdentifiers } from '../../src/core/identifiers.ts';
import { isValidALabel, uLabelProblem } from '../../src/core/idna.ts';
import {
  compileNameRules,
  deniedBy,
  matchesRules,
  namePolicyRefusal,
  nameRuleProblem,
} from '../../src/core/name-policy.ts';
import { ekuOid, keyTypeRefusal, keyUsageBitsFor } from '../../src/core/profile-rules.ts';
import {
  ancestorDomainProblem,
  ancestorsOf,
  authorizationCovers,
  isStrictlyBelow,
} from '../../src/core/subdomains.ts';
import type { Authorization } from '../../src/core/types.ts';
import { AcmeError } from '../../src/errors.ts';
import { ProfileCatalog } from '../../src/ra/profiles.ts';
import { typeOf } from './support.ts';

const dns = (value: string) => ({ type: 'dns', value });
const ip = (value: string) => ({ type: 'ip', value });

describe('name policy (allow_names / deny_names)', () => {
  const rules = compileNameRules([
    'example.com',
    '.corp.example',
    '/^[a-z]+\\.lab\\.example$/',
    '10.0.0.0/8',
    'fd00::/8',
  ]);

  it('matches DNS suffixes at label boundaries, wildcards by their base name', () => {
    for (const ok of [
      'example.com',
      'www.example.com',
      '*.example.com',
      'a.b.corp.example',
      'corp.example',
    ]) {
      assert.ok(matchesRules(dns(ok), rules), ok);
    }
    for (const no of ['badexample.com', 'example.org', 'com', 'xcorp.example']) {
      assert.ok(!matchesRules(dns(no), rules), no);
    }
  });

  it('matches regular expressions against the whole value', () => {
    assert.ok(matchesRules(dns('build.lab.example'), rules));
    assert.ok(!matchesRules(dns('build1.lab.example'), rules));
  });

  it('matches IP identifiers against CIDR networks (RFC 8738)', () => {
    assert.ok(matchesRules(ip('10.1.2.3'), rules));
    assert.ok(!matchesRules(ip('11.0.0.1'), rules));
    assert.ok(matchesRules(ip('fd12::1'), rules));
    assert.ok(!matchesRules(ip('fe80::1'), rules));
    const narrow = compileNameRules(['192.168.4.0/23']);
    assert.ok(matchesRules(ip('192.168.5.200'), narrow));
    assert.ok(!matchesRules(ip('192.168.6.1'), narrow));
  });

  it('refuses a wildcard that would cover a denied name one label below it', () => {
    const deny = compileNameRules(['secret.example.com']);
    assert.ok(deniedBy(dns('*.example.com'), deny));
    assert.ok(deniedBy(dns('secret.example.com'), deny));
    assert.ok(deniedBy(dns('a.secret.example.com'), deny));
    assert.ok(!deniedBy(dns('*.other.example.com'), deny));
    assert.ok(!deniedBy(dns('www.example.com'), deny));
  });

  it('deny wins over allow; a non-empty allow list must match', () => {
    const policy = { allow: compileNameRules(['example.com']), deny: compileNameRules(['bad.example.com']) };
    assert.equal(namePolicyRefusal(dns('ok.example.com'), policy, 'the CA policy'), undefined);
    assert.match(
      namePolicyRefusal(dns('bad.example.com'), policy, 'the CA policy')!,
      /denied by the CA policy/,
    );
    assert.match(
      namePolicyRefusal(dns('example.org'), policy, 'the CA policy')!,
      /not allowed by the CA policy/,
    );
    const open = { allow: compileNameRules([]), deny: compileNameRules([]) };
    assert.equal(namePolicyRefusal(ip('192.0.2.1'), open, 'x'), undefined);
  });

  it('names what is wrong with a bad entry', () => {
    assert.equal(nameRuleProblem('example.com'), undefined);
    assert.match(nameRuleProblem('/[a-/')!, /not a regular expression/);
    assert.match(nameRuleProblem('10.0.0.0/33')!, /CIDR/);
    assert.match(nameRuleProblem('exa mple.com')!, /DNS suffix/);
    assert.match(nameRuleProblem('')!, /empty/);
  });
});

describe('IDNA (RFC 5891) in identifiers', () => {
  it('refuses U-labels and names the A-label to send', () => {
    assert.match(uLabelProblem('bücher.example')!, /"xn--bcher-kva\.example"/);
    assert.match(uLabelProblem('*.bücher.example')!, /"\*\.xn--bcher-kva\.example"/);
    assert.equal(uLabelProblem('xn--bcher-kva.example'), undefined);
    const r = normalizeIdentifier(dns('BÜCHER.example'));
    assert.ok(r instanceof AcmeError);
    assert.equal(r.type, 'rejectedIdentifier');
  });

  it('accepts only A-labels that decode and encode back', () => {
    assert.ok(isValidALabel('xn--bcher-kva'));
    assert.ok(!isValidALabel('xn--zz'));
    assert.ok(!isValidALabel('xn--abc-'));
    assert.ok(normalizeIdentifier(dns('xn--zz.example')) instanceof AcmeError);
  });
});

describe('RFC 9444 subdomain rules', () => {
  it('lists ancestors and tells strict subdomains', () => {
    assert.deepEqual(ancestorsOf('a.b.example.com'), ['b.example.com', 'example.com', 'com']);
    assert.ok(isStrictlyBelow('a.example.com', 'example.com'));
    assert.ok(!isStrictlyBelow('example.com', 'example.com'));
    assert.ok(!isStrictlyBelow('badexample.com', 'example.com'));
  });

  it('checks ancestorDomain against the identifier (§4.2)', () => {
    assert.equal(ancestorDomainProblem(dns('foo.example.org'), 'example.org'), undefined);
    assert.equal(ancestorDomainProblem(dns('*.example.org'), 'example.org'), undefined);
    assert.notEqual(ancestorDomainProblem(dns('example.org'), 'example.org'), undefined);
    assert.notEqual(ancestorDomainProblem(dns('foo.example.org'), 'other.org'), undefined);
    assert.notEqual(ancestorDomainProblem(ip('10.0.0.1'), 'example.org'), undefined);
  });

  it('parses ancestorDomain on order identifiers, one subproblem per bad one', () => {
    const { identifiers, errors } = parseOrderIdentifiers(
      [
        { type: 'dns', value: 'a.example.org', ancestorDomain: 'Example.org' },
        { type: 'dns', value: 'b.example.org', ancestorDomain: 'other.org' },
        { type: 'dns', value: 'c.example.org', ancestorDomain: 7 },
      ],
      10,
    );
    assert.deepEqual(
      identifiers.map((i) => [i.identifier.value, i.ancestorDomain]),
      [['a.example.org', 'example.org']],
    );
    assert.deepEqual(
      errors.map((e) => [e.type, e.identifier?.value]),
      [
        ['rejectedIdentifier', 'b.example.org'],
        ['malformed', 'c.example.org'],
      ],
    );
  });

  const authz = (over: Partial<Authorization>): Authorization => ({
    id: 'a',
    accountId: 'acc',
    identifier: dns('example.org'),
    wildcard: false,
    subdomainAuthAllowed: true,
    status: 'valid',
    expiresAt: Date.now() + 60_000,
    createdAt: 0,
    challenges: [
      {
        id: 'c',
        authorizationId: 'a',
        type: 'http-01',
        token: 't',
        status: 'valid',
        validatedAt: 1,
        error: null,
      },
    ],
    ...over,
  });
  const order = (value: string) => ({
    identifier: dns(value),
    authzValue: value.replace(/^\*\./, ''),
    wildcard: value.startsWith('*.'),
  });
  const wildcardTypes = new Set(['dns-01']);

  it('lets an ancestor authorization with subdomainAuthAllowed cover the names below it (§4.1)', () => {
    assert.ok(authorizationCovers(authz({}), order('foo.example.org'), wildcardTypes));
    assert.ok(authorizationCovers(authz({}), order('a.b.example.org'), wildcardTypes));
    assert.ok(authorizationCovers(authz({}), order('example.org'), wildcardTypes), 'the name itself');
    assert.ok(!authorizationCovers(authz({}), order('fooexample.org'), wildcardTypes));
    assert.ok(
      !authorizationCovers(
        authz({ subdomainAuthAllowed: undefined }),
        order('foo.example.org'),
        wildcardTypes,
      ),
    );
  });

  it('covers a wildcard only when a wildcard-capable challenge validated the ancestor', () => {
    assert.ok(!authorizationCovers(authz({}), order('*.example.org'), wildcardTypes));
    const byDns = authz({
      challenges: [
        {
          id: 'c',
          authorizationId: 'a',
          type: 'dns-01',
          token: 't',
          status: 'valid',
          validatedAt: 1,
          error: null,
        },
      ],
    });
    assert.ok(authorizationCovers(byDns, order('*.example.org'), wildcardTypes));
    assert.ok(authorizationCovers(byDns, order('*.foo.example.org'), wildcardTypes));
  });
});

describe('profile rules', () => {
  const ec = describeKey(generateKeyPairSync('ec', { namedCurve: 'P-384' }).publicKey);
  const rsa = describeKey(generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey);
  const ed = describeKey(generateKeyPairSync('ed25519').publicKey);

  it('accepts key types by family or by size/curve', () => {
    assert.equal(keyTypeRefusal(ec, []), undefined);
    assert.equal(keyTypeRefusal(ec, ['ec']), undefined);
    assert.equal(keyTypeRefusal(ec, ['ec:P-384']), undefined);
    assert.match(keyTypeRefusal(ec, ['ec:P-256', 'rsa'])!, /not ec:P-384/);
    assert.equal(keyTypeRefusal(rsa, ['rsa:2048']), undefined);
    assert.notEqual(keyTypeRefusal(rsa, ['rsa:3072']), undefined);
    assert.equal(keyTypeRefusal(ed, ['ed25519']), undefined);
  });

  it('writes only the key usages that fit the key', () => {
    const names = ['digitalSignature', 'keyEncipherment', 'keyAgreement'] as const;
    assert.deepEqual(keyUsageBitsFor(names, 'rsa'), [0, 2]);
    assert.deepEqual(keyUsageBitsFor(names, 'ec'), [0, 4]);
    assert.deepEqual(keyUsageBitsFor(names, 'ed25519'), [0]);
    assert.deepEqual(keyUsageBitsFor(['keyEncipherment'], 'ec'), []);
  });

  it('maps EKU names and dotted OIDs', () => {
    assert.equal(ekuOid('clientAuth'), '1.3.6.1.5.5.7.3.2');
    assert.equal(ekuOid('1.3.6.1.4.1.99999.1'), '1.3.6.1.4.1.99999.1');
    assert.equal(ekuOid('bogus'), undefined);
  });
});

describe('profile configuration and selection (draft-ietf-acme-profiles)', () => {
  const config = parseConfig({
    acme: { default_profile: 'tls' },
    policy: { deny_names: ['blocked.example'] },
    profiles: {
      tls: { description: 'TLS server', validity: '7d' },
      internal: {
        identifier_types: ['dns'],
        allow_names: ['corp.example'],
        authorization_mode: 'trust_authenticated',
      },
    },
  });
  const catalog = new ProfileCatalog(config);

  it('validates profile tables', () => {
    assert.equal(config.profiles.tls!.validity, 7 * 86_400_000);
    assert.deepEqual(config.profiles.internal!.extended_key_usages, ['serverAuth']);
    assert.throws(() => parseConfig({ profiles: { 'bad id': {} } }), /profile id/);
    assert.throws(() => parseConfig({ profiles: { p: { allow_names: ['/[/'] } } }), /regular expression/);
    assert.throws(() => parseConfig({ profiles: { p: { extended_key_usages: ['nope'] } } }), /dotted OID/);
    assert.throws(
      () => parseConfig({ profiles: { p: { authorization_mode: 'anything' } } }),
      /authorization_mode/,
    );
    assert.throws(() => parseConfig({ profiles: { p: { colour: 'red' } } }), /unknown key/);
    assert.throws(
      () => new ProfileCatalog(parseConfig({ acme: { default_profile: 'nope' } })),
      /default_profile/,
    );
  });

  it('lists the profiles for meta.profiles', () => {
    assert.deepEqual(catalog.meta(), { tls: 'TLS server', internal: 'internal' });
    assert.deepEqual(catalog.meta('tls'), { tls: 'TLS server' });
    assert.equal(new ProfileCatalog(parseConfig({})).meta(), undefined);
  });

  it('selects the requested, implied or default profile; invalidProfile otherwise', () => {
    assert.equal(catalog.select(undefined)?.id, 'tls');
    assert.equal(catalog.select('internal')?.id, 'internal');
    assert.equal(catalog.select(undefined, 'internal')?.id, 'internal');
    assert.equal(
      typeOf(() => catalog.select('nope')),
      'invalidProfile',
    );
    assert.equal(
      typeOf(() => catalog.select('tls', 'internal')),
      'invalidProfile',
    );
    assert.equal(
      typeOf(() => catalog.select(3)),
      'malformed',
    );
    assert.equal(new ProfileCatalog(parseConfig({})).select(undefined), undefined);
    assert.equal(
      typeOf(() => new ProfileCatalog(parseConfig({})).select('tls')),
      'invalidProfile',
    );
  });

  it('applies the global policy and the profile to identifiers', () => {
    const internal = catalog.get('internal')!;
    assert.equal(catalog.identifierRefusal(dns('a.corp.example'), internal), undefined);
    assert.equal(catalog.identifierRefusal(dns('a.other.example'), internal)?.type, 'rejectedIdentifier');
    assert.equal(catalog.identifierRefusal(ip('10.0.0.1'), internal)?.type, 'unsupportedIdentifier');
    assert.equal(catalog.identifierRefusal(dns('blocked.example'), undefined)?.type, 'rejectedIdentifier');
    assert.equal(
      catalog.identifierRefusal(dns('x.blocked.example'), catalog.get('tls'))?.type,
      'rejectedIdentifier',
    );
  });
});
