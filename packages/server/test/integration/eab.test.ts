import assert from 'node:assert/strict';
import { createHmac, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type AcmeClient, AcmeProblemError, generateKey, type HmacAlgorithm, JwsSigner } from '@akamu/client';
import { b64u } from '@akamu/protocol';
import { createServer } from '../../src/index.ts';
import { startTestCa, type TestCa } from '../helpers.ts';

/**
 * External account binding (RFC 8555 §7.3.4, docs/eab.md) through @akamu/client against the real server:
 * static keys from [eab.keys], keys from createEabKey, HKDF keys from GET /acme/eab, every refusal with
 * its problem type, the race for one key, and consumed keys across a restart.
 */
const mac = (byte: number) => Buffer.alloc(32, byte);
const MASTER = randomBytes(32);

interface Raw {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  json: () => Record<string, unknown>;
}

function request(
  ca: TestCa,
  method: string,
  target: string,
  opts: { body?: string; headers?: Record<string, string> } = {},
): Promise<Raw> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      new URL(target, ca.directoryUrl),
      {
        method,
        ca: ca.caBundle,
        headers: {
          ...(opts.body === undefined ? {} : { 'content-type': 'application/jose+json' }),
          ...opts.headers,
        },
        timeout: 20_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString();
          resolve({ status: res.statusCode!, headers: res.headers, json: () => JSON.parse(text) });
        });
      },
    );
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error('timeout')));
    if (opts.body !== undefined) req.write(opts.body);
    req.end();
  });
}

async function rejects(p: Promise<unknown>, type: string, status?: number): Promise<AcmeProblemError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof AcmeProblemError, String(e));
    assert.ok(e.isType(type), `${e.type} is not ${type}: ${e.message}`);
    if (status !== undefined) assert.equal(e.status, status);
    return e;
  }
  assert.fail(`expected ${type}`);
}

describe('external account binding', () => {
  let ca: TestCa;
  before(async () => {
    ca = await startTestCa({
      acme: { external_account_required: true },
      profiles: {
        'internal-tls': { description: 'internal TLS' },
        partners: { description: 'partners only', eab_keys: ['static-partner'] },
      },
      eab: {
        keys: {
          'static-256': { hmac_key: b64u(mac(1)), note: 'HS256 key' },
          'static-384': { hmac_key: b64u(mac(2)) },
          'static-512': { hmac_key: b64u(mac(3)) },
          'static-reused': { hmac_key: b64u(mac(4)) },
          'static-expired': { hmac_key: b64u(mac(5)), expires: '2020-01-01T00:00:00Z' },
          'static-restart': { hmac_key: b64u(mac(6)) },
          'static-race': { hmac_key: b64u(mac(7)) },
          'static-wrong': { hmac_key: b64u(mac(8)) },
          'static-spare': { hmac_key: b64u(mac(9)) },
          'static-spare-2': { hmac_key: b64u(mac(12)) },
          'static-profiles': { hmac_key: b64u(mac(10)), profiles: ['internal-tls'] },
          'static-partner': { hmac_key: b64u(mac(13)) },
          'static-granting': { hmac_key: b64u(mac(14)), profiles: ['internal-tls'] },
          'static-other': { hmac_key: b64u(mac(15)) },
        },
        master_secret: b64u(MASTER),
        trusted_proxies: ['127.0.0.1', '::1'],
      },
    });
  });
  after(() => ca.close());

  const register = (client: AcmeClient, kid: string, hmacKey: Buffer, alg?: HmacAlgorithm) =>
    client.newAccount({
      contact: ['mailto:eab@example.com'],
      termsOfServiceAgreed: true,
      externalAccountBinding: { kid, hmacKey, alg },
    });

  it('announces meta.externalAccountRequired and refuses an account without a binding', async () => {
    const client = ca.client();
    const dir = await client.directory();
    assert.equal(dir.meta?.externalAccountRequired, true);
    await rejects(client.newAccount({ termsOfServiceAgreed: true }), 'externalAccountRequired', 400);
  });

  for (const [alg, kid, byte] of [
    ['HS256', 'static-256', 1],
    ['HS384', 'static-384', 2],
    ['HS512', 'static-512', 3],
  ] as const) {
    it(`creates an account bound with a configured key (${alg}) and remembers the kid`, async () => {
      const client = ca.client();
      const r = await register(client, kid, mac(byte), alg);
      assert.equal(r.created, true);
      assert.equal(r.account.status, 'valid');
      assert.ok(!JSON.stringify(r.account).includes(kid), 'the kid is not rendered');
      const id = r.url.split('/').pop()!;
      const account = await ca.server.storage.getAccount(id);
      assert.equal(account?.eabKid, kid);
      assert.equal(ca.server.eab!.accountEabKid(account!), kid);
      assert.equal((await ca.server.eab!.getEabKey(kid))?.usedBy, id);
      // The same account key again: its account, no second binding needed (RFC 8555 §7.3.1).
      const again = await client.newAccount({ onlyReturnExisting: true });
      assert.equal(again.url, r.url);
    });
  }

  it('refuses a wrong MAC, an unknown kid, a used key and an expired key as unauthorized', async () => {
    await rejects(register(ca.client(), 'static-wrong', mac(99)), 'unauthorized', 403);
    assert.equal(
      (await ca.server.eab!.getEabKey('static-wrong'))?.usedBy,
      null,
      'a failed MAC consumes nothing',
    );
    await rejects(register(ca.client(), 'no-such-kid', mac(1)), 'unauthorized', 403);
    await register(ca.client(), 'static-reused', mac(4));
    const reused = await rejects(register(ca.client(), 'static-reused', mac(4)), 'unauthorized', 403);
    assert.match(reused.message, /already been used/);
    const expired = await rejects(register(ca.client(), 'static-expired', mac(5)), 'unauthorized', 403);
    assert.match(expired.message, /expired/);
  });

  it('refuses a binding for another URL or another key, and a malformed binding, as malformed', async () => {
    const dir = await ca.client().directory();
    const signer = new JwsSigner(generateKey('ec:P-256'));
    const other = new JwsSigner(generateKey('ec:P-256'));
    const eab = (url: string, jwk: object, header: Record<string, unknown> = {}) => {
      const prot = b64u(JSON.stringify({ alg: 'HS256', kid: 'static-wrong', url, ...header }));
      const payload = b64u(JSON.stringify(jwk));
      return {
        protected: prot,
        payload,
        signature: b64u(createHmac('sha256', mac(8)).update(`${prot}.${payload}`).digest()),
      };
    };
    const post = async (binding: unknown) => {
      const nonce = (await request(ca, 'HEAD', dir.newNonce)).headers['replay-nonce'] as string;
      const body = { termsOfServiceAgreed: true, externalAccountBinding: binding };
      const jws = signer.sign(
        { alg: signer.alg, jwk: signer.jwk, nonce, url: dir.newAccount },
        b64u(JSON.stringify(body)),
      );
      return request(ca, 'POST', dir.newAccount, { body: JSON.stringify(jws) });
    };
    for (const binding of [
      eab(`${dir.newAccount}/other`, signer.jwk),
      eab(dir.newAccount, other.jwk),
      eab(dir.newAccount, signer.jwk, { nonce: 'x' }),
      eab(dir.newAccount, signer.jwk, { alg: 'RS256' }),
      'not a JWS',
    ]) {
      const r = await post(binding);
      assert.equal(r.status, 400);
      assert.equal(r.json().type, 'urn:ietf:params:acme:error:malformed');
    }
    // Sanity: the same request with a correct binding succeeds, so only the changes above were refused.
    const ok = await post(eab(dir.newAccount, signer.jwk));
    assert.equal(ok.status, 201);
  });

  it('binds with keys made by createEabKey (with expiry, note and profiles) and lists them', async () => {
    const key = await ca.server.eab!.createEabKey({ note: 'for team b', expiresAt: Date.now() + 3_600_000 });
    assert.match(key.kid, /^eab-/);
    const listed = await ca.server.eab!.listEabKeys({ used: false });
    assert.ok(listed.some((k) => k.kid === key.kid && k.note === 'for team b'));
    const r = await register(ca.client(), key.kid, Buffer.from(key.hmacKey, 'base64url'), 'HS384');
    assert.equal(r.created, true);
    assert.equal((await ca.server.eab!.getEabKey(key.kid))?.usedBy, r.url.split('/').pop());
    assert.equal(await ca.server.eab!.deleteEabKey(key.kid), 'used');
    // Bad input and duplicate kids are refused.
    await assert.rejects(ca.server.eab!.createEabKey({ kid: key.kid }), /already exists/);
    await assert.rejects(ca.server.eab!.createEabKey({ hmacKey: b64u(Buffer.alloc(8)) }), /MAC key/);
    await assert.rejects(ca.server.eab!.createEabKey({ expiresAt: Date.now() - 1 }), /future/);
    await assert.rejects(ca.server.eab!.createEabKey({ profiles: ['no-such-profile'] }), /no such profile/);
    const own = await ca.server.eab!.createEabKey({ kid: 'chosen-kid', hmacKey: b64u(mac(11)) });
    assert.equal(own.kid, 'chosen-kid');
    assert.equal(await ca.server.eab!.deleteEabKey('chosen-kid'), 'deleted');
    await rejects(register(ca.client(), 'chosen-kid', mac(11)), 'unauthorized');
  });

  it('tells issuance policy which key bound an account and which profiles the key grants', async () => {
    const bound = await register(ca.client(), 'static-profiles', mac(10));
    const account = (await ca.server.storage.getAccount(bound.url.split('/').pop()!))!;
    assert.equal(ca.server.eab!.accountEabKid(account), 'static-profiles');
    assert.deepEqual(await ca.server.eab!.grantedProfiles(account), ['internal-tls']);
    const created = await ca.server.eab!.createEabKey({ profiles: ['internal-tls'] });
    const other = await register(ca.client(), created.kid, Buffer.from(created.hmacKey, 'base64url'));
    const otherAccount = (await ca.server.storage.getAccount(other.url.split('/').pop()!))!;
    assert.deepEqual(await ca.server.eab!.grantedProfiles(otherAccount), ['internal-tls']);
    const plain = (await ca.server.storage.getAccount(
      (await register(ca.client(), 'static-spare-2', mac(12))).url.split('/').pop()!,
    ))!;
    assert.equal(await ca.server.eab!.grantedProfiles(plain), undefined);
  });

  it('restricts profiles by the key that bound the account, both ways', async () => {
    const order = (client: AcmeClient, profile?: string) =>
      client.newOrder({
        identifiers: [{ type: 'dns', value: 'p.example.localhost' }],
        ...(profile ? { profile } : {}),
      });
    // A key that grants profiles limits its account to them (an order without a profile included).
    const limited = ca.client();
    await register(limited, 'static-granting', mac(14));
    assert.equal((await order(limited, 'internal-tls')).order.profile, 'internal-tls');
    await rejects(order(limited, 'partners'), 'invalidProfile', 400);
    await rejects(order(limited), 'invalidProfile', 400);
    // A profile listing eab_keys serves only accounts bound with one of them.
    const partner = ca.client();
    await register(partner, 'static-partner', mac(13));
    assert.equal((await order(partner, 'partners')).order.profile, 'partners');
    const other = ca.client();
    await register(other, 'static-other', mac(15));
    await rejects(order(other, 'partners'), 'invalidProfile', 400);
    assert.equal((await order(other, 'internal-tls')).order.profile, 'internal-tls');
  });

  it('refuses to start with a configured key granting an unknown profile', async () => {
    await assert.rejects(
      createServer({
        data_dir: path.join(ca.dataDir, 'never-created'),
        server: { port: 0, log_level: 'silent' },
        eab: { keys: { k: { hmac_key: b64u(mac(1)), profiles: ['nope'] } } },
      }),
      /eab\.keys\.k\.profiles: "nope" names no \[profiles\.nope\] table/,
    );
    assert.equal(
      existsSync(path.join(ca.dataDir, 'never-created')),
      false,
      'refused before touching anything',
    );
  });

  it('race: 10 concurrent new-account requests with one key create exactly one account', async () => {
    const clients = Array.from({ length: 10 }, () => ca.client());
    await Promise.all(clients.map((c) => c.directory()));
    const results = await Promise.allSettled(clients.map((c) => register(c, 'static-race', mac(7))));
    const ok = results.filter((r) => r.status === 'fulfilled');
    const failed = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    assert.equal(ok.length, 1);
    assert.equal(failed.length, 9);
    for (const f of failed) {
      assert.ok(f.reason instanceof AcmeProblemError && f.reason.isType('unauthorized'), String(f.reason));
    }
    // No account row for any loser: their keys have no account.
    const accounts = await Promise.all(
      clients.map((c) => ca.server.storage.getAccountByThumbprint(new JwsSigner(c.accountKey).thumbprint)),
    );
    assert.equal(accounts.filter(Boolean).length, 1);
  });

  it('serves HKDF keys at GET /acme/eab to principals named by a trusted proxy', async () => {
    const r = await request(ca, 'GET', '/acme/eab', { headers: { 'X-Remote-User': 'alice@EXAMPLE.ORG' } });
    assert.equal(r.status, 200);
    const { kid, hmac_key } = r.json() as { kid: string; hmac_key: string };
    assert.match(kid, /^hkdf-/);
    assert.equal(Buffer.from(hmac_key, 'base64url').length, 32);
    // Stable: the same principal gets the same pair; another principal another one.
    const again = (
      await request(ca, 'GET', '/acme/eab', { headers: { 'X-Remote-User': 'alice@EXAMPLE.ORG' } })
    ).json();
    assert.deepEqual(again, { kid, hmac_key });
    const bob = (
      await request(ca, 'GET', '/acme/eab', { headers: { 'X-Remote-User': 'bob@EXAMPLE.ORG' } })
    ).json();
    assert.notEqual(bob.kid, kid);

    const created = await register(ca.client(), kid, Buffer.from(hmac_key, 'base64url'));
    assert.equal(created.created, true);
    assert.equal((await ca.server.eab!.getEabKey(kid))?.principal, 'alice@EXAMPLE.ORG');
    // Consumed: asking again is a conflict, and the key binds no second account.
    const used = await request(ca, 'GET', '/acme/eab', { headers: { 'X-Remote-User': 'alice@EXAMPLE.ORG' } });
    assert.equal(used.status, 409);
    assert.match(String(used.headers['content-type']), /^application\/problem\+json/);
    await rejects(register(ca.client(), kid, Buffer.from(hmac_key, 'base64url')), 'unauthorized');

    // A trusted proxy that names no principal: 401.
    const none = await request(ca, 'GET', '/acme/eab');
    assert.equal(none.status, 401);
    assert.equal(none.json().type, 'urn:ietf:params:acme:error:unauthorized');
  });

  it('keeps consumed configured keys consumed across a restart', async () => {
    const first = await register(ca.client(), 'static-restart', mac(6));
    assert.equal(first.created, true);
    await ca.restart();
    await rejects(register(ca.client(), 'static-restart', mac(6)), 'unauthorized');
    assert.equal((await ca.server.eab!.getEabKey('static-restart'))?.usedBy, first.url.split('/').pop());
    // Unused configured keys are still there after the restart.
    assert.equal((await ca.server.eab!.getEabKey('static-spare'))?.usedBy, null);
  });
});

describe('GET /acme/eab from an untrusted address', () => {
  let ca: TestCa;
  before(async () => {
    ca = await startTestCa({
      eab: { master_secret: b64u(MASTER), trusted_proxies: ['192.0.2.10', '10.0.0.0/8'] },
    });
  });
  after(() => ca.close());

  it('refuses the principal header from a peer that is not a trusted proxy (403), X-Forwarded-For or not', async () => {
    const cases: Record<string, string>[] = [
      { 'X-Remote-User': 'mallory' },
      { 'X-Remote-User': 'mallory', 'X-Forwarded-For': '192.0.2.10' },
      {},
    ];
    for (const headers of cases) {
      const r = await request(ca, 'GET', '/acme/eab', { headers });
      assert.equal(r.status, 403);
      assert.equal(r.json().type, 'urn:ietf:params:acme:error:unauthorized');
    }
  });

  it('verifies bindings when sent even though EAB is not required, and accepts accounts without one', async () => {
    const dir = await ca.client().directory();
    assert.equal(dir.meta?.externalAccountRequired, false);
    const plain = await ca.client().newAccount({ termsOfServiceAgreed: true });
    assert.equal(plain.created, true);
    const key = await ca.server.eab!.createEabKey();
    await rejects(register(ca.client(), key.kid, mac(1)), 'unauthorized');
    const bound = await register(ca.client(), key.kid, Buffer.from(key.hmacKey, 'base64url'));
    assert.equal((await ca.server.storage.getAccount(bound.url.split('/').pop()!))?.eabKid, key.kid);
  });

  const register = (client: AcmeClient, kid: string, hmacKey: Buffer) =>
    client.newAccount({ termsOfServiceAgreed: true, externalAccountBinding: { kid, hmacKey } });
});

describe('GET /acme/eab without a master secret', () => {
  let ca: TestCa;
  before(async () => {
    ca = await startTestCa({ eab: { trusted_proxies: ['127.0.0.1', '::1'] } });
  });
  after(() => ca.close());

  it('does not exist (404 problem)', async () => {
    const r = await request(ca, 'GET', '/acme/eab', { headers: { 'X-Remote-User': 'alice' } });
    assert.equal(r.status, 404);
    assert.equal(r.json().type, 'urn:ietf:params:acme:error:malformed');
  });
});
