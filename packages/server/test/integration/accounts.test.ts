import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { AcmeClient, AcmeProblemError, generateKey } from '@akamu/client';
import { startTestCa, type TestCa } from '../helpers.ts';

/** RFC 8555 §7.3 accounts: creation, lookup, update, key change, deactivation. */
describe('accounts', () => {
  let ca: TestCa;
  before(async () => {
    ca = await startTestCa({ acme: { terms_of_service: 'https://ca.example/tos' } });
  });
  after(() => ca.close());

  const problemType = (e: unknown) => (e instanceof AcmeProblemError ? e.type.split(':').at(-1) : String(e));

  it('advertises the terms of service and requires agreement', async () => {
    const client = ca.client();
    assert.equal((await client.directory()).meta?.termsOfService, 'https://ca.example/tos');
    assert.equal(await client.newAccount({}).catch(problemType), 'malformed');
    const { created, account, url } = await client.newAccount({ termsOfServiceAgreed: true });
    assert.equal(created, true);
    assert.equal(account.status, 'valid');
    assert.match(url, /\/acme\/account\/[A-Za-z0-9_-]+$/);
  });

  it('returns the existing account for a known key (200) and finds it with onlyReturnExisting', async () => {
    const key = generateKey('ec:P-384');
    const a = new AcmeClient({ directoryUrl: ca.directoryUrl, accountKey: key, caBundle: ca.caBundle });
    const first = await a.newAccount({ termsOfServiceAgreed: true });
    const again = await a.newAccount({ termsOfServiceAgreed: true });
    assert.equal(again.created, false);
    assert.equal(again.url, first.url);
    const b = new AcmeClient({ directoryUrl: ca.directoryUrl, accountKey: key, caBundle: ca.caBundle });
    assert.equal((await b.newAccount({ onlyReturnExisting: true })).url, first.url);
    const stranger = ca.client('ed25519');
    assert.equal(
      await stranger.newAccount({ onlyReturnExisting: true }).catch(problemType),
      'accountDoesNotExist',
    );
    a.close();
    b.close();
  });

  it('accepts every allowed account key type', async () => {
    for (const spec of ['ec:P-256', 'ec:P-384', 'ec:P-521', 'rsa:2048', 'ed25519'] as const) {
      const c = await ca.account(spec);
      assert.equal((await c.getAccount()).status, 'valid', spec);
    }
  });

  it('validates contacts: mailto only, well formed, no header fields', async () => {
    const client = ca.client();
    const tos = { termsOfServiceAgreed: true };
    assert.equal(
      await client.newAccount({ ...tos, contact: ['tel:+12025550101'] }).catch(problemType),
      'unsupportedContact',
    );
    assert.equal(
      await client.newAccount({ ...tos, contact: ['mailto:not-an-address'] }).catch(problemType),
      'invalidContact',
    );
    assert.equal(
      await client.newAccount({ ...tos, contact: ['mailto:a@example.com?subject=x'] }).catch(problemType),
      'invalidContact',
    );
    const ok = await client.newAccount({ ...tos, contact: ['mailto:ops@example.com'] });
    assert.deepEqual(ok.account.contact, ['mailto:ops@example.com']);
    const updated = await client.updateAccount({
      contact: ['mailto:new@example.com', 'mailto:second@example.com'],
    });
    assert.deepEqual(updated.contact, ['mailto:new@example.com', 'mailto:second@example.com']);
    assert.deepEqual((await client.getAccount()).contact, [
      'mailto:new@example.com',
      'mailto:second@example.com',
    ]);
  });

  it('changes the account key; the old key stops working; a key in use is a 409', async () => {
    const client = await ca.account();
    const url = client.accountUrl;
    const oldKey = client.accountKey;
    const newKey = generateKey('ec:P-256');
    await client.keyChange(newKey);
    assert.equal((await client.getAccount()).status, 'valid');
    const withOld = new AcmeClient({
      directoryUrl: ca.directoryUrl,
      accountKey: oldKey,
      caBundle: ca.caBundle,
      accountUrl: url,
    });
    assert.equal(
      await withOld.getAccount().catch(problemType),
      'malformed',
      'the old key no longer verifies',
    );
    const viaNew = new AcmeClient({
      directoryUrl: ca.directoryUrl,
      accountKey: newKey,
      caBundle: ca.caBundle,
    });
    assert.equal((await viaNew.newAccount({ onlyReturnExisting: true })).url, url);

    const other = await ca.account();
    const err = await client.keyChange(other.accountKey).catch((e) => e);
    assert.ok(err instanceof AcmeProblemError);
    assert.equal(err.status, 409);
    withOld.close();
    viaNew.close();
  });

  it('deactivates an account; its key can no longer act', async () => {
    const client = await ca.account();
    const deactivated = await client.deactivateAccount();
    assert.equal(deactivated.status, 'deactivated');
    assert.equal(await client.getAccount().catch(problemType), 'unauthorized');
    assert.equal(
      await client
        .newOrder({ identifiers: [{ type: 'dns', value: 'x.example.localhost' }] })
        .catch(problemType),
      'unauthorized',
    );
    // new-account with the same key neither returns the deactivated account nor registers the key again.
    const sameKey = new AcmeClient({
      directoryUrl: ca.directoryUrl,
      accountKey: client.accountKey,
      caBundle: ca.caBundle,
    });
    assert.equal(await sameKey.newAccount({ onlyReturnExisting: true }).catch(problemType), 'unauthorized');
    assert.equal(
      await sameKey
        .newAccount({ contact: ['mailto:again@example.com'], termsOfServiceAgreed: true })
        .catch(problemType),
      'unauthorized',
    );
    sameKey.close();
  });

  it('keeps accounts and orders across a restart', async () => {
    const client = await ca.account();
    const { url } = await client.newOrder({
      identifiers: [{ type: 'dns', value: 'restart.example.localhost' }],
    });
    await ca.restart();
    const again = new AcmeClient({
      directoryUrl: ca.directoryUrl,
      accountKey: client.accountKey,
      caBundle: ca.caBundle,
      accountUrl: client.accountUrl,
    });
    assert.equal((await again.getOrder(url)).status, 'pending');
    again.close();
  });
});
