/**
 * Identifier policy against the real server: the global [policy] allow/deny lists (suffixes, regexes,
 * CIDR networks), IDNA (U-labels refused with the A-label to send), one subproblem per bad identifier;
 * and a CA without profiles or subdomain authorizations.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startTestCa, type TestCa } from '../helpers.ts';
import { accountWithSigner, problemOf } from './issuance-policy-support.ts';

describe('identifier policy ([policy])', () => {
  let ca: TestCa;
  before(async () => {
    ca = await startTestCa({
      acme: { subdomain_auth_allowed: false },
      policy: {
        allow_names: ['allowed.localhost', '/^re[0-9]+\\.localhost$/', '127.0.0.0/8'],
        deny_names: ['secret.allowed.localhost'],
      },
    });
  });
  after(() => ca.close());

  it('accepts identifiers the allow list matches', async () => {
    const client = await ca.account();
    const { order } = await client.newOrder({
      identifiers: [
        { type: 'dns', value: 'www.allowed.localhost' },
        { type: 'dns', value: 're42.localhost' },
        { type: 'ip', value: '127.0.0.1' },
      ],
    });
    assert.equal(order.status, 'pending');
    assert.equal(order.authorizations.length, 3);
  });

  it('refuses each identifier the lists refuse, with one subproblem each', async () => {
    const client = await ca.account();
    const err = await problemOf(
      client.newOrder({
        identifiers: [
          { type: 'dns', value: 'ok.allowed.localhost' },
          { type: 'dns', value: 'evil.localhost' },
          { type: 'dns', value: 'secret.allowed.localhost' },
          { type: 'dns', value: '*.allowed.localhost' },
          { type: 'dns', value: 're4x.localhost' },
          { type: 'ip', value: '10.0.0.1' },
        ],
      }),
    );
    assert.equal(err.type, 'urn:ietf:params:acme:error:rejectedIdentifier');
    assert.equal(err.status, 400);
    assert.deepEqual(
      err.problem.subproblems?.map((s) => [
        s.type.split(':').at(-1),
        s.identifier?.value,
        /denied|not allowed/.test(s.detail ?? ''),
      ]),
      [
        ['rejectedIdentifier', 'evil.localhost', true],
        ['rejectedIdentifier', 'secret.allowed.localhost', true],
        ['rejectedIdentifier', '*.allowed.localhost', true],
        ['rejectedIdentifier', 're4x.localhost', true],
        ['rejectedIdentifier', '10.0.0.1', true],
      ],
    );
  });

  it('refuses U-labels and tells the client the A-label to send (RFC 5891)', async () => {
    const client = await ca.account();
    const err = await problemOf(
      client.newOrder({ identifiers: [{ type: 'dns', value: 'bücher.allowed.localhost' }] }),
    );
    assert.equal(err.type, 'urn:ietf:params:acme:error:rejectedIdentifier');
    assert.deepEqual(err.problem.identifier, { type: 'dns', value: 'bücher.allowed.localhost' });
    assert.match(err.problem.detail ?? '', /"xn--bcher-kva\.allowed\.localhost"/);
    const bad = await problemOf(
      client.newOrder({ identifiers: [{ type: 'dns', value: 'xn--zz.allowed.localhost' }] }),
    );
    assert.match(bad.problem.detail ?? '', /not a valid A-label/);
    const long = await problemOf(
      client.newOrder({ identifiers: [{ type: 'dns', value: `${'a'.repeat(64)}.allowed.localhost` }] }),
    );
    assert.equal(long.type, 'urn:ietf:params:acme:error:rejectedIdentifier');
  });

  it('applies the policy to pre-authorization too', async () => {
    const account = await accountWithSigner(ca);
    const dir = await account.client.directory();
    const err = await problemOf(
      account.post(dir.newAuthz!, { identifier: { type: 'dns', value: 'evil.localhost' } }),
    );
    assert.equal(err.type, 'urn:ietf:params:acme:error:rejectedIdentifier');
    const ok = await account.post(dir.newAuthz!, {
      identifier: { type: 'dns', value: 'pre.allowed.localhost' },
    });
    assert.equal(ok.status, 201);
  });

  it('without profiles: no meta.profiles, no profile on orders, invalidProfile for any profile', async () => {
    const client = await ca.account();
    const dir = await client.directory();
    assert.equal(dir.meta?.profiles, undefined);
    const { order } = await client.newOrder({ identifiers: [{ type: 'dns', value: 'p.allowed.localhost' }] });
    assert.equal(order.profile, undefined);
    const err = await problemOf(
      client.newOrder({ identifiers: [{ type: 'dns', value: 'p.allowed.localhost' }], profile: 'default' }),
    );
    assert.equal(err.type, 'urn:ietf:params:acme:error:invalidProfile');
    assert.match(err.problem.detail ?? '', /offers no certificate profiles/);
  });

  it('with subdomain_auth_allowed = false: no meta flag, ancestorDomain and subdomainAuthAllowed refused', async () => {
    const account = await accountWithSigner(ca);
    const dir = await account.client.directory();
    assert.equal(dir.meta?.subdomainAuthAllowed, undefined);
    const order = await problemOf(
      account.client.newOrder({
        identifiers: [
          { type: 'dns', value: 'a.b.allowed.localhost', ancestorDomain: 'allowed.localhost' } as never,
        ],
      }),
    );
    assert.equal(order.type, 'urn:ietf:params:acme:error:rejectedIdentifier');
    assert.match(order.problem.detail ?? '', /RFC 9444/);
    const authz = await problemOf(
      account.post(dir.newAuthz!, {
        identifier: { type: 'dns', value: 'allowed.localhost' },
        subdomainAuthAllowed: true,
      }),
    );
    assert.equal(authz.type, 'urn:ietf:params:acme:error:rejectedIdentifier');
  });
});
