import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createCsr, generateKey } from '@akamu/client';
import type { AccountJson, OrderJson } from '@akamu/protocol';
import { startTestCa, type TestCa } from '../helpers.ts';
import { json, post, problem, readyOrder } from './renewal-support.ts';

/** RFC 9115 delegation: operator-created delegation objects, listed per account, referenced by new-order. */
describe('delegation (RFC 9115)', () => {
  let ca: TestCa;
  before(async () => {
    ca = await startTestCa({ star: { min_lifetime: '1s' } });
  });
  after(() => ca.close());

  const name = 'cdn.deleg.example.localhost';
  const template = {
    keyTypes: [
      { PublicKeyType: 'id-ecPublicKey', namedCurve: 'secp256r1', SignatureType: 'ecdsa-with-SHA256' },
    ],
    subject: { commonName: '**' },
    extensions: { subjectAltName: { DNS: [name] }, extendedKeyUsage: ['serverAuth'] },
  };
  const accountId = (url: string) => url.split('/').at(-1)!;

  it('lists the account delegations and serves each delegation object to its account only', async () => {
    const client = await ca.account();
    const cnameMap = { [`_acme-challenge.${name}`]: `_acme-challenge.${name}.ndc.example` };
    const d = await ca.server.renewals!.createDelegation(accountId(client.accountUrl!), {
      csrTemplate: template,
      cnameMap,
    });
    const account = await client.getAccount();
    assert.ok(account.delegations, 'the account object names its delegations list');
    const list = json<{ delegations: string[] }>(await post(client, account.delegations!, ''));
    assert.equal(list.delegations.length, 1);
    assert.match(list.delegations[0]!, new RegExp(`/acme/delegation/${d.id}$`));
    const object = json(await post(client, list.delegations[0]!, ''));
    assert.deepEqual(object, { 'csr-template': template, 'cname-map': cnameMap });

    const other = await ca.account();
    const foreign = await problem(post(other, list.delegations[0]!, ''));
    assert.equal(foreign.type, 'urn:ietf:params:acme:error:unauthorized');
    const otherAccount = (await other.getAccount()) as AccountJson;
    assert.deepEqual(json(await post(other, otherAccount.delegations!, '')), { delegations: [] });
    const notMine = await problem(post(other, account.delegations!, ''));
    assert.equal(notMine.type, 'urn:ietf:params:acme:error:unauthorized');
  });

  it('issues for a delegated order whose CSR fits the template, and refuses one that does not', async () => {
    const client = await ca.account();
    const d = await ca.server.renewals!.createDelegation(accountId(client.accountUrl!), {
      csrTemplate: template,
    });
    const delegationUrl = ca.server.urls.delegation(d.id);
    const { order, created } = await readyOrder(ca, client, {
      identifiers: [{ type: 'dns', value: name }],
      delegation: delegationUrl,
    });
    assert.equal((created as OrderJson & { delegation?: string }).delegation, delegationUrl);
    const rsa = await problem(
      client.finalize(order, createCsr({ key: generateKey('rsa:2048'), dnsNames: [name] })),
    );
    assert.equal(rsa.type, 'urn:ietf:params:acme:error:badCSR', 'the template allows P-256 keys only');
    const valid = await client.finalize(order, createCsr({ key: generateKey('ec:P-256'), dnsNames: [name] }));
    assert.equal(valid.status, 'valid');
    assert.ok(valid.certificate);
  });

  it('combines with STAR: a delegated auto-renewal order gets a star-certificate', async () => {
    const client = await ca.account();
    const d = await ca.server.renewals!.createDelegation(accountId(client.accountUrl!), {
      csrTemplate: template,
    });
    const { order } = await readyOrder(ca, client, {
      identifiers: [{ type: 'dns', value: name }],
      delegation: ca.server.urls.delegation(d.id),
      'auto-renewal': { 'end-date': new Date(Date.now() + 3_600_000).toISOString(), lifetime: 600 },
    });
    const valid = (await client.finalize(
      order,
      createCsr({ key: generateKey('ec:P-256'), dnsNames: [name] }),
    )) as OrderJson & Record<string, unknown>;
    assert.equal(valid.status, 'valid');
    assert.equal(typeof valid['star-certificate'], 'string');
    const res = await post(client, valid['star-certificate'] as string, '');
    assert.ok(res.headers['cert-not-after']);
  });

  it('refuses names outside the template, foreign or unknown delegations, and bad templates', async () => {
    const client = await ca.account();
    const dir = await client.directory();
    const d = await ca.server.renewals!.createDelegation(accountId(client.accountUrl!), {
      csrTemplate: template,
    });
    const outside = await problem(
      post(client, dir.newOrder, {
        identifiers: [{ type: 'dns', value: 'other.deleg.example.localhost' }],
        delegation: ca.server.urls.delegation(d.id),
      }),
    );
    assert.equal(outside.type, 'urn:ietf:params:acme:error:malformed');
    const other = await ca.account();
    const foreign = await problem(
      post(other, dir.newOrder, {
        identifiers: [{ type: 'dns', value: name }],
        delegation: ca.server.urls.delegation(d.id),
      }),
    );
    assert.equal(foreign.type, 'urn:ietf:params:acme:error:unauthorized');
    for (const delegation of [
      'https://elsewhere.example/acme/delegation/x',
      ca.server.urls.delegation('nope'),
      7,
    ]) {
      const p = await problem(
        post(client, dir.newOrder, { identifiers: [{ type: 'dns', value: name }], delegation }),
      );
      assert.equal(p.type, 'urn:ietf:params:acme:error:malformed', String(delegation));
    }
    for (const bad of [{}, { keyTypes: [{ PublicKeyType: 'dsa' }] }, { ...template, extensions: {} }]) {
      await assert.rejects(
        ca.server.renewals!.createDelegation(accountId(client.accountUrl!), { csrTemplate: bad }),
        { type: 'malformed' },
      );
    }
  });
});
