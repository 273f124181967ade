/**
 * RFC 9444 (ACME for subdomains) and RFC 8555 §7.4.1 pre-authorization against the real server:
 * newAuthz, subdomainAuthAllowed, ancestorDomain, and reuse of ancestor authorizations by orders.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { AuthorizationJson } from '@akamu/protocol';
import { startTestCa, type TestCa } from '../helpers.ts';
import { accountWithSigner, finalizeOrder, problemOf, validateHttp01 } from './issuance-policy-support.ts';

describe('ACME for subdomains (RFC 9444)', () => {
  let ca: TestCa;
  before(async () => {
    ca = await startTestCa();
  });
  after(() => ca.close());

  async function newAuthz(
    account: Awaited<ReturnType<typeof accountWithSigner>>,
    payload: object,
  ): Promise<{ url: string; authz: AuthorizationJson; status: number }> {
    const dir = await account.client.directory();
    assert.ok(dir.newAuthz, 'the directory names newAuthz');
    const res = await account.post(dir.newAuthz, payload);
    return {
      url: new URL(String(res.headers.location), res.url).href,
      authz: JSON.parse(res.body.toString('utf8')),
      status: res.status,
    };
  }

  it('advertises subdomainAuthAllowed and newAuthz in the directory', async () => {
    const dir = await (await ca.client()).directory();
    assert.equal(dir.meta?.subdomainAuthAllowed, true);
    assert.equal(dir.newAuthz, new URL('/acme/new-authz', ca.directoryUrl).href);
  });

  it('pre-authorizes an ancestor domain that then authorizes orders for names below it', async () => {
    const account = await accountWithSigner(ca);
    const { url, authz, status } = await newAuthz(account, {
      identifier: { type: 'dns', value: 'pre.localhost' },
      subdomainAuthAllowed: true,
    });
    assert.equal(status, 201);
    assert.equal(authz.status, 'pending');
    assert.equal(authz.subdomainAuthAllowed, true);
    assert.deepEqual(authz.identifier, { type: 'dns', value: 'pre.localhost' });
    const valid = await validateHttp01(ca, account.client, url);
    assert.equal(valid.subdomainAuthAllowed, true);

    const names = ['a.pre.localhost', 'b.c.pre.localhost'];
    const { url: orderUrl, order } = await account.client.newOrder({
      identifiers: names.map((value) => ({ type: 'dns', value })),
    });
    assert.equal(order.status, 'ready');
    assert.deepEqual(order.authorizations, [url], 'both names use the ancestor authorization');
    const { leaf } = await finalizeOrder(account.client, orderUrl, order, names);
    assert.equal(leaf.subjectAltName, 'DNS:a.pre.localhost, DNS:b.c.pre.localhost');
  });

  it('plain pre-authorization (§7.4.1) covers the name itself only', async () => {
    const account = await accountWithSigner(ca);
    const { url, authz } = await newAuthz(account, { identifier: { type: 'dns', value: 'plain.localhost' } });
    assert.equal(authz.subdomainAuthAllowed, undefined);
    await validateHttp01(ca, account.client, url);
    const same = await account.client.newOrder({ identifiers: [{ type: 'dns', value: 'plain.localhost' }] });
    assert.equal(same.order.status, 'ready');
    assert.deepEqual(same.order.authorizations, [url]);
    const below = await account.client.newOrder({
      identifiers: [{ type: 'dns', value: 'x.plain.localhost' }],
    });
    assert.equal(below.order.status, 'pending');
    assert.notDeepEqual(below.order.authorizations, [url]);
  });

  it("never uses another account's ancestor authorization", async () => {
    const owner = await accountWithSigner(ca);
    const { url } = await newAuthz(owner, {
      identifier: { type: 'dns', value: 'owned.localhost' },
      subdomainAuthAllowed: true,
    });
    await validateHttp01(ca, owner.client, url);
    const other = await ca.account();
    const { order } = await other.newOrder({ identifiers: [{ type: 'dns', value: 'x.owned.localhost' }] });
    assert.equal(order.status, 'pending');
    assert.ok(!order.authorizations.includes(url));
  });

  it('creates one ancestor authorization for the identifiers that name an ancestorDomain', async () => {
    const client = await ca.account();
    const names = ['x.anc.localhost', 'y.z.anc.localhost'];
    const { url, order } = await client.newOrder({
      identifiers: names.map((value) => ({ type: 'dns', value, ancestorDomain: 'anc.localhost' })),
    });
    assert.equal(order.status, 'pending');
    assert.deepEqual(
      order.identifiers,
      names.map((value) => ({ type: 'dns', value })),
      'the order names the requested identifiers',
    );
    assert.equal(order.authorizations.length, 1);
    const authz = await client.getAuthorization(order.authorizations[0]!);
    assert.deepEqual(authz.identifier, { type: 'dns', value: 'anc.localhost' });
    assert.equal(authz.subdomainAuthAllowed, true);
    await validateHttp01(ca, client, order.authorizations[0]!);
    const { leaf } = await finalizeOrder(client, url, order, names);
    assert.equal(leaf.subjectAltName, 'DNS:x.anc.localhost, DNS:y.z.anc.localhost');
  });

  it('does not let an ancestor validated by http-01 cover a wildcard', async () => {
    const account = await accountWithSigner(ca);
    const { url } = await newAuthz(account, {
      identifier: { type: 'dns', value: 'wild.localhost' },
      subdomainAuthAllowed: true,
    });
    await validateHttp01(ca, account.client, url);
    const { order } = await account.client.newOrder({
      identifiers: [{ type: 'dns', value: '*.wild.localhost' }],
    });
    assert.equal(order.status, 'pending');
    assert.ok(!order.authorizations.includes(url), 'the http-01 ancestor authorization is not reused');
    const authz = await account.client.getAuthorization(order.authorizations[0]!);
    assert.deepEqual([authz.identifier.value, authz.wildcard], ['wild.localhost', true]);
    assert.ok(!authz.challenges.some((c) => c.type === 'http-01'), 'a wildcard needs its own DNS proof');
  });

  it('refuses bad ancestorDomain values and wildcard pre-authorization', async () => {
    const client = await ca.account();
    const notAncestor = await problemOf(
      client.newOrder({
        identifiers: [{ type: 'dns', value: 'a.one.localhost', ancestorDomain: 'two.localhost' } as never],
      }),
    );
    assert.equal(notAncestor.type, 'urn:ietf:params:acme:error:rejectedIdentifier');
    assert.match(notAncestor.problem.detail ?? '', /not an ancestor/);
    const self = await problemOf(
      client.newOrder({
        identifiers: [{ type: 'dns', value: 'one.localhost', ancestorDomain: 'one.localhost' } as never],
      }),
    );
    assert.equal(self.type, 'urn:ietf:params:acme:error:rejectedIdentifier');

    const account = await accountWithSigner(ca);
    const dir = await account.client.directory();
    const wildcard = await problemOf(
      account.post(dir.newAuthz!, { identifier: { type: 'dns', value: '*.w.localhost' } }),
    );
    assert.equal(wildcard.type, 'urn:ietf:params:acme:error:rejectedIdentifier');
    const noIdentifier = await problemOf(account.post(dir.newAuthz!, { subdomainAuthAllowed: true }));
    assert.equal(noIdentifier.type, 'urn:ietf:params:acme:error:malformed');
    const ipSub = await problemOf(
      account.post(dir.newAuthz!, {
        identifier: { type: 'ip', value: '127.0.0.1' },
        subdomainAuthAllowed: true,
      }),
    );
    assert.equal(ipSub.type, 'urn:ietf:params:acme:error:malformed');
    const badFlag = await problemOf(
      account.post(dir.newAuthz!, {
        identifier: { type: 'dns', value: 'f.localhost' },
        subdomainAuthAllowed: 'yes',
      }),
    );
    assert.equal(badFlag.type, 'urn:ietf:params:acme:error:malformed');
  });
});
