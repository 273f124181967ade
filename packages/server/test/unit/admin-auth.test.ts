import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  hashSecret,
  nameWithin,
  newToken,
  normalizeFingerprint,
  parseToken,
  scopeCoversAccount,
  scopeCoversNames,
  secretMatches,
} from '../../src/admin/auth.ts';
import { ROLES, ROUTE_ACCESS, roleAllows } from '../../src/admin/roles.ts';
import { parseConfig } from '../../src/config.ts';

describe('admin API: tokens, fingerprints, scopes and roles', () => {
  it('makes tokens of the operator id and 32 random bytes, and stores only the hash of the secret', () => {
    const { token, tokenHash } = newToken('op-abc');
    const parsed = parseToken(token);
    assert.equal(parsed?.id, 'op-abc');
    assert.equal(Buffer.from(parsed!.secret, 'base64url').length, 32);
    assert.equal(tokenHash, hashSecret(parsed!.secret));
    assert.ok(!tokenHash.includes(parsed!.secret));
    assert.ok(secretMatches(parsed!.secret, tokenHash));
    const other = (parsed!.secret[0] === 'A' ? 'B' : 'A') + parsed!.secret.slice(1);
    assert.ok(!secretMatches(other, tokenHash));
    assert.ok(!secretMatches(parsed!.secret, 'not-hex'));
    assert.notEqual(newToken('op-abc').token, token);
  });

  it('refuses tokens of the wrong shape', () => {
    for (const bad of [
      '',
      'op-abc',
      'op-abc.',
      `.${'A'.repeat(43)}`,
      `op abc.${'A'.repeat(43)}`,
      `op.${'A'.repeat(42)}`,
    ])
      assert.equal(parseToken(bad), undefined, bad);
  });

  it('normalizes SHA-256 fingerprints', () => {
    const hex = 'ab'.repeat(32);
    assert.equal(normalizeFingerprint(hex), hex.toUpperCase());
    assert.equal(normalizeFingerprint(hex.match(/../g)!.join(':')), hex.toUpperCase());
    assert.equal(normalizeFingerprint('ab'.repeat(20)), undefined, 'SHA-1 is not accepted');
    assert.equal(normalizeFingerprint('zz'.repeat(32)), undefined);
  });

  it('puts names under a suffix only at a label boundary', () => {
    assert.ok(nameWithin('example.com', 'example.com'));
    assert.ok(nameWithin('a.b.example.com', 'example.com'));
    assert.ok(nameWithin('*.example.com', 'example.com'));
    assert.ok(nameWithin('WWW.Example.COM', 'example.com'));
    assert.ok(!nameWithin('badexample.com', 'example.com'));
    assert.ok(!nameWithin('example.com.evil', 'example.com'));
  });

  it('covers an order or certificate only when all its names are in scope, or its account is', () => {
    const scope = { identifierSuffixes: ['example.com'], accounts: ['acct1'] };
    const dns = (value: string) => ({ type: 'dns', value });
    assert.ok(scopeCoversNames(scope, 'other', [dns('a.example.com'), dns('example.com')]));
    assert.ok(!scopeCoversNames(scope, 'other', [dns('a.example.com'), dns('example.org')]));
    assert.ok(scopeCoversNames(scope, 'acct1', [dns('example.org')]));
    assert.ok(!scopeCoversNames(scope, 'other', [{ type: 'ip', value: '192.0.2.1' }]));
    assert.ok(!scopeCoversNames(scope, 'other', []));
    assert.ok(!scopeCoversNames(null, 'acct1', [dns('example.com')]));
    assert.ok(scopeCoversAccount(scope, 'acct1'));
    assert.ok(!scopeCoversAccount(scope, 'other'));
    assert.ok(!scopeCoversAccount(null, 'acct1'));
  });

  it('gives every route a role list in which administrators appear', () => {
    for (const [route, access] of Object.entries(ROUTE_ACCESS)) {
      if (access === 'public') continue;
      assert.ok(access.includes('administrator'), route);
      for (const role of access) assert.ok((ROLES as readonly string[]).includes(role), `${route}: ${role}`);
    }
    assert.ok(!roleAllows('POST /admin/operators', 'operations'));
    assert.ok(
      !roleAllows('GET /admin/unknown', 'administrator'),
      'a route missing from the table is refused',
    );
    for (const [route, access] of Object.entries(ROUTE_ACCESS)) {
      if (access !== 'public' && !route.startsWith('GET'))
        assert.ok(!access.includes('auditor'), `${route}: auditors only read`);
    }
  });

  it('configures [admin] with safe defaults', () => {
    const c = parseConfig({});
    assert.equal(c.admin.enabled, false);
    assert.equal(c.admin.max_failed_logins, 5);
    assert.equal(c.admin.lockout, 15 * 60_000);
    assert.equal(parseConfig({ admin: { lockout: '1h' } }).admin.lockout, 3_600_000);
    assert.throws(() => parseConfig({ admin: { max_failed_logins: 0 } }), /admin.max_failed_logins/);
  });
});
