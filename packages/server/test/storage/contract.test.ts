import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  BACKENDS,
  backendSkipReason,
  type ProvisionedDatabase,
  provisionDatabase,
} from '../../../../test/support/databases.ts';
import type { Account, Authorization, Certificate, Order } from '../../src/core/types.ts';
import { migrateToLatest, openDatabase } from '../../src/sa/database.ts';
import { SqlStorageAuthority } from '../../src/sa/sql-storage-authority.ts';
import { testAccount, testAuthorization, uniqueId } from './support.ts';

/**
 * One storage contract, run unchanged on SQLite, PostgreSQL and MariaDB: every StorageAuthority method,
 * and the conditional transitions that must apply exactly once under concurrency.
 */
const id = uniqueId;
const now = Date.now();

const account = (over: Partial<Account> = {}): Account => testAccount({ createdAt: now, ...over });

const authorization = (accountId: string, value: string, over: Partial<Authorization> = {}): Authorization =>
  testAuthorization(accountId, value, { createdAt: now, expiresAt: now + 86_400_000, ...over });

const order = (accountId: string, authzs: Authorization[], over: Partial<Order> = {}): Order => ({
  id: id('ord'),
  accountId,
  status: 'pending',
  identifiers: authzs.map((a) => a.identifier),
  authorizationIds: authzs.map((a) => a.id),
  notBefore: null,
  notAfter: null,
  expiresAt: now + 86_400_000,
  error: null,
  certificateId: null,
  profile: null,
  createdAt: now,
  ...over,
});

const certificate = (accountId: string, orderId: string): Certificate => ({
  id: id('crt'),
  serial: id('5e'),
  accountId,
  orderId,
  pem: '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n',
  notBefore: now,
  notAfter: now + 90 * 86_400_000,
  status: 'valid',
  revokedAt: null,
  revocationReason: null,
  createdAt: now,
});

for (const backend of BACKENDS) {
  describe(`storage contract on ${backend}`, async () => {
    const skip = await backendSkipReason(backend);
    let provisioned: ProvisionedDatabase;
    let sa: SqlStorageAuthority;

    before(async () => {
      if (skip) return;
      provisioned = await provisionDatabase(backend);
      const url =
        provisioned.url ?? `sqlite:${path.join(mkdtempSync(path.join(tmpdir(), 'akamu-sa-')), 'akamu.db')}`;
      const opened = openDatabase(url);
      await migrateToLatest(opened.db, opened.dialect);
      await migrateToLatest(opened.db, opened.dialect); // idempotent
      sa = new SqlStorageAuthority(opened.db, { dialect: opened.dialect });
    });
    after(async () => {
      if (skip) return;
      await sa.close();
      await provisioned.drop();
    });

    it('settings: the first writer wins, also under concurrency', { skip }, async () => {
      const values = await Promise.all(
        ['a', 'b', 'c', 'd'].map((v) => sa.getOrCreateSetting('contract_key', v)),
      );
      assert.equal(new Set(values).size, 1);
      assert.equal(await sa.getOrCreateSetting('contract_key', 'z'), values[0]);
    });

    it('nonces: a nonce is consumed exactly once, even by concurrent requests', { skip }, async () => {
      const results = await Promise.all(
        Array.from({ length: 8 }, () => sa.consumeNonce('nonce-race', now - 1000)),
      );
      assert.equal(results.filter(Boolean).length, 1);
      assert.equal(await sa.consumeNonce('nonce-old', now - 60_000), true);
      // The same string issued at another time is another nonce (the issue time is part of a real one).
      assert.equal(await sa.consumeNonce('nonce-race', now - 2000), true);
      // Purged by issue time: only what was issued before the cut-off goes.
      assert.equal(await sa.deleteExpiredNonces(now - 30_000), 1);
      assert.equal(await sa.consumeNonce('nonce-race', now - 1000), false);
      assert.equal(await sa.consumeNonce('nonce-old', now - 60_000), true);
    });

    it('accounts: create, find by key, update, change key with conflict detection', { skip }, async () => {
      const a = account();
      assert.equal((await sa.createAccount(a)).created, true);
      const dup = await sa.createAccount({ ...account(), thumbprint: a.thumbprint });
      assert.equal(dup.created, false);
      assert.equal(dup.account.id, a.id);
      assert.deepEqual(await sa.getAccount(a.id), a);
      assert.deepEqual(await sa.getAccountByThumbprint(a.thumbprint), a);
      assert.equal(await sa.getAccount('missing'), undefined);
      const updated = await sa.updateAccount(a.id, { contact: ['mailto:b@example.com'] });
      assert.deepEqual(updated?.contact, ['mailto:b@example.com']);
      const b = account();
      await sa.createAccount(b);
      assert.equal(
        await sa.changeAccountKey(a.id, a.thumbprint, { thumbprint: b.thumbprint, jwk: b.jwk }),
        'conflict',
      );
      assert.equal(await sa.changeAccountKey(a.id, 'stale', { thumbprint: id('tp'), jwk: b.jwk }), 'stale');
      const fresh = id('tp');
      assert.equal(
        await sa.changeAccountKey(a.id, a.thumbprint, { thumbprint: fresh, jwk: { kty: 'OKP' } }),
        'changed',
      );
      assert.equal((await sa.getAccountByThumbprint(fresh))?.id, a.id);
      const deactivated = await sa.updateAccount(b.id, { status: 'deactivated' });
      assert.equal(deactivated?.status, 'deactivated');
    });

    it('orders: created with their authorizations in one transaction, listed in pages', {
      skip,
    }, async () => {
      const a = account();
      await sa.createAccount(a);
      const ids: string[] = [];
      for (let i = 0; i < 5; i++) {
        const authz = authorization(a.id, `page${i}.example.com`);
        const o = order(a.id, [authz], { createdAt: now + i });
        await sa.createOrder(o, [authz]);
        ids.push(o.id);
        assert.deepEqual(await sa.getOrder(o.id), o);
        assert.deepEqual(await sa.getAuthorizations([authz.id]), [authz]);
      }
      const seen: string[] = [];
      let cursor: string | undefined;
      do {
        const page = await sa.listOrderIds(a.id, cursor, 2);
        seen.push(...page.ids);
        cursor = page.next;
      } while (cursor);
      assert.deepEqual(seen, ids);
      // A failing insert rolls the whole order back: nothing half-written.
      const authz = authorization(a.id, 'rollback.example.com');
      const broken = order(a.id, [authz], { id: ids[0]! });
      await assert.rejects(sa.createOrder(broken, [authz]));
      assert.equal(await sa.getAuthorization(authz.id), undefined);
    });

    it('challenges: start exactly once; validation moves challenge and authorization together', {
      skip,
    }, async () => {
      const a = account();
      await sa.createAccount(a);
      const authz = authorization(a.id, 'validate.example.com');
      await sa.createOrder(order(a.id, [authz]), [authz]);
      const chId = authz.challenges[0]!.id;
      const starts = await Promise.all(Array.from({ length: 6 }, () => sa.startChallenge(chId, now)));
      assert.equal(starts.filter(Boolean).length, 1);
      // Not abandoned yet; once it is, exactly one of several racing nodes claims it.
      assert.equal((await sa.claimAbandonedChallenges(now - 1, now)).length, 0);
      const claims = await Promise.all(
        Array.from({ length: 4 }, () => sa.claimAbandonedChallenges(now + 1, now + 2)),
      );
      assert.deepEqual(
        claims.map((c) => c.filter((x) => x.challenge.id === chId).length).sort(),
        [0, 0, 0, 1],
      );
      assert.equal(
        await sa.recordValidation(chId, authz.id, { valid: true, at: now, expiresAt: now + 5000 }),
        true,
      );
      assert.equal(
        await sa.recordValidation(chId, authz.id, { valid: true, at: now, expiresAt: now + 5000 }),
        false,
      );
      const found = await sa.getChallenge(chId);
      assert.equal(found?.challenge.status, 'valid');
      assert.equal(found?.authorization.status, 'valid');
      assert.equal(found?.authorization.expiresAt, now + 5000);
      assert.equal((await sa.findValidAuthorizations(a.id, [authz.identifier], now)).length, 1);
      assert.equal((await sa.findValidAuthorizations(a.id, [authz.identifier], now + 6000)).length, 0);
      assert.equal(await sa.deactivateAuthorization(authz.id), true);
      assert.equal(await sa.deactivateAuthorization(authz.id), false);
    });

    it('authorizations read with their challenges in one query: every challenge, in type order', {
      skip,
    }, async () => {
      const a = account();
      await sa.createAccount(a);
      const authz = authorization(a.id, 'three.example.com');
      const challenge = (type: string) => ({
        ...authz.challenges[0]!,
        id: id('ch'),
        type,
        token: id('tok'),
      });
      // Inserted out of order; one invalid with its error, one valid with its time.
      authz.challenges = [
        {
          ...challenge('tls-alpn-01'),
          status: 'invalid',
          error: { type: 'urn:x', detail: 'no', status: 400 },
        },
        challenge('http-01'),
        { ...challenge('dns-01'), status: 'valid', validatedAt: now - 5 },
      ];
      const bare = authorization(a.id, 'bare.example.com', { challenges: [] });
      await sa.createAuthorizations([authz, bare]);
      const sorted = [...authz.challenges].sort((x, y) => x.type.localeCompare(y.type));
      assert.deepEqual(await sa.getAuthorization(authz.id), { ...authz, challenges: sorted });
      for (const c of authz.challenges) {
        assert.deepEqual(await sa.getChallenge(c.id), {
          challenge: c,
          authorization: { ...authz, challenges: sorted },
        });
      }
      assert.deepEqual(await sa.getAuthorization(bare.id), bare);
      assert.equal(await sa.getAuthorization(id('az')), undefined);
      assert.equal(await sa.getChallenge(id('ch')), undefined);
    });

    it('finalize: begins exactly once; the certificate and the valid order land together', {
      skip,
    }, async () => {
      const a = account();
      await sa.createAccount(a);
      const authz = authorization(a.id, 'final.example.com', { status: 'valid' });
      const o = order(a.id, [authz]);
      await sa.createOrder(o, [authz]);
      const begins = await Promise.all(Array.from({ length: 6 }, () => sa.beginFinalize(o.id, now)));
      assert.equal(begins.filter(Boolean).length, 1);
      const cert = certificate(a.id, o.id);
      await sa.completeFinalize(o.id, cert);
      const done = await sa.getOrder(o.id);
      assert.equal(done?.status, 'valid');
      assert.equal(done?.certificateId, cert.id);
      assert.deepEqual(await sa.getCertificate(cert.id), cert);
      assert.deepEqual(await sa.getCertificateBySerial(cert.serial), cert);
      // A second completion fails and leaves no second certificate.
      const again = certificate(a.id, o.id);
      await assert.rejects(sa.completeFinalize(o.id, again));
      assert.equal(await sa.getCertificate(again.id), undefined);
      // Serials are unique.
      const other = order(a.id, [authz]);
      await sa.createOrder(other, []);
      await sa.beginFinalize(other.id, now);
      await assert.rejects(
        sa.completeFinalize(other.id, { ...certificate(a.id, other.id), serial: cert.serial }),
      );
    });

    it('leases: one holder at a time; renewable by its holder; taken over once expired', {
      skip,
    }, async () => {
      const racers = await Promise.all(
        ['n1', 'n2', 'n3', 'n4'].map((h) => sa.tryAcquireLease('contract-lease', h, now + 1000, now)),
      );
      assert.equal(racers.filter(Boolean).length, 1);
      const holder = ['n1', 'n2', 'n3', 'n4'][racers.indexOf(true)]!;
      assert.equal(
        await sa.tryAcquireLease('contract-lease', holder, now + 2000, now + 500),
        true,
        'renewed',
      );
      assert.equal(
        await sa.tryAcquireLease('contract-lease', 'other', now + 3000, now + 1500),
        false,
        'still held',
      );
      assert.equal(
        await sa.tryAcquireLease('contract-lease', 'other', now + 5000, now + 2500),
        true,
        'expired: taken over',
      );
    });

    it('stale finalizations fail; revocation applies exactly once', { skip }, async () => {
      const a = account();
      await sa.createAccount(a);
      const o = order(a.id, []);
      await sa.createOrder(o, []);
      await sa.beginFinalize(o.id, now - 120_000);
      const problem = {
        type: 'urn:ietf:params:acme:error:serverInternal',
        detail: 'interrupted',
        status: 500,
      };
      assert.ok((await sa.failStaleProcessingOrders(now - 60_000, problem)) >= 1);
      assert.deepEqual((await sa.getOrder(o.id))?.error, problem);

      const o2 = order(a.id, []);
      await sa.createOrder(o2, []);
      await sa.beginFinalize(o2.id, now);
      const cert = certificate(a.id, o2.id);
      await sa.completeFinalize(o2.id, cert);
      const revokes = await Promise.all(
        Array.from({ length: 5 }, () => sa.revokeCertificate(cert.id, 1, now)),
      );
      assert.equal(revokes.filter(Boolean).length, 1);
      const revoked = await sa.getCertificate(cert.id);
      assert.equal(revoked?.status, 'revoked');
      assert.equal(revoked?.revocationReason, 1);
      assert.equal(revoked?.revokedAt, now);
      await sa.ping();
    });
  });
}
