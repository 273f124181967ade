import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { AcmeClient } from '@akamu/client';
import type { OrderJson } from '@akamu/protocol';
import { FakeClock } from '../../src/clock.ts';
import { openDatabase } from '../../src/sa/database.ts';
import { startTestCa, type TestCa } from '../helpers.ts';
import { finalize, json, post, problem, readyOrder } from './renewal-support.ts';

const iso = (ms: number) => new Date(ms).toISOString();
/** Cert-Not-Before/After are HTTP-dates: whole seconds. */
const second = (ms: number) => Math.floor(ms / 1000) * 1000;

/**
 * RFC 8739 STAR: a lifetime of 10 s on a FakeClock the test moves; the renewal loop is run by hand
 * (check_interval is an hour, so its timer never fires during the test).
 */
describe('STAR: short-term, automatically renewed certificates (RFC 8739)', () => {
  let ca: TestCa;
  const clock = new FakeClock();
  before(async () => {
    ca = await startTestCa(
      { star: { min_lifetime: '1s', allow_certificate_get: true, check_interval: '1h' } },
      { clock },
    );
  });
  after(() => ca.close());

  const names = (n: string) => [`${n}.star.example.localhost`];

  async function starOrder(client: AcmeClient, name: string, autoRenewal: Record<string, unknown>) {
    const ready = await readyOrder(ca, client, {
      identifiers: names(name).map((value) => ({ type: 'dns', value })),
      'auto-renewal': autoRenewal,
    });
    const valid = (await finalize(client, ready.order, names(name))) as OrderJson & Record<string, unknown>;
    return { ...ready, valid, starUrl: valid['star-certificate'] as string };
  }

  /** Certificates stored for an order, read from the database the server uses (any backend). */
  const countCertificates = async (orderUrl: string): Promise<number> => {
    const { db, close } = openDatabase(ca.databaseUrl);
    try {
      const row = await db
        .selectFrom('certificates')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .where('order_id', '=', orderUrl.split('/').at(-1)!)
        .executeTakeFirstOrThrow();
      return Number(row.n);
    } finally {
      await close();
    }
  };

  const current = async (client: AcmeClient, url: string) => {
    const res = await post(client, url, '');
    assert.equal(res.headers['content-type'], 'application/pem-certificate-chain');
    const leaf = new X509Certificate(res.body);
    return {
      serial: leaf.serialNumber,
      notBefore: Date.parse(String(res.headers['cert-not-before'])),
      notAfter: Date.parse(String(res.headers['cert-not-after'])),
      leaf,
    };
  };

  it('advertises meta.auto-renewal in the directory', async () => {
    const dir = await ca.client().directory();
    assert.deepEqual(dir.meta?.['auto-renewal'], {
      'min-lifetime': 1,
      'max-duration': 365 * 86_400,
      'allow-certificate-get': true,
    });
  });

  it('issues a fresh certificate for each lifetime until end-date, each slot once, across a restart', async () => {
    const client = await ca.account();
    const t0 = clock.now();
    const { url, created, valid, starUrl } = await starOrder(client, 'renewed', {
      'end-date': iso(t0 + 40_000),
      lifetime: 10,
    });
    assert.deepEqual(created['auto-renewal' as keyof OrderJson], {
      'end-date': iso(t0 + 40_000),
      lifetime: 10,
    });
    assert.equal(valid.status, 'valid');
    assert.equal(valid.certificate, undefined, 'a STAR order has star-certificate instead of certificate');
    assert.match(starUrl, /\/acme\/star-cert\//);

    const first = await current(client, starUrl);
    assert.equal(first.notBefore, second(t0));
    assert.equal(first.notAfter, second(t0 + 10_000));
    assert.equal(first.leaf.subjectAltName, `DNS:${names('renewed')[0]}`);
    assert.equal(await ca.server.starLoop!.runOnce(), 0, 'nothing is due before half the lifetime');

    clock.advance(5_000);
    assert.equal(
      await ca.server.starLoop!.runOnce(),
      1,
      'the next certificate is issued half a lifetime early',
    );
    assert.equal(await ca.server.starLoop!.runOnce(), 0, 'and only once');
    assert.equal((await current(client, starUrl)).serial, first.serial, 'served once its period begins');

    clock.advance(5_000);
    const secondCert = await current(client, starUrl);
    assert.notEqual(secondCert.serial, first.serial);
    assert.equal(secondCert.notBefore, second(t0 + 10_000));
    assert.equal(secondCert.notAfter, second(t0 + 20_000));
    assert.ok(
      secondCert.leaf.publicKey.equals(first.leaf.publicKey),
      'every certificate carries the CSR key',
    );

    clock.advance(5_000);
    const both = await Promise.all([ca.server.renewals!.renewDue(), ca.server.renewals!.renewDue()]);
    assert.equal(both[0] + both[1], 1, 'two passes at once issue a slot once');
    assert.equal(await countCertificates(url), 3);

    clock.advance(10_000);
    await ca.restart();
    await ca.server.starLoop!.runOnce();
    assert.equal(await countCertificates(url), 4, 'the slot due while restarting was issued once');
    assert.equal(await ca.server.starLoop!.runOnce(), 0);

    clock.advance(10_000);
    const last = await current(client, starUrl);
    assert.equal(last.notBefore, second(t0 + 30_000));
    assert.equal(last.notAfter, second(t0 + 40_000), 'the last certificate ends at end-date');
    assert.equal(await ca.server.starLoop!.runOnce(), 0, 'no certificate after end-date');
    assert.equal(await countCertificates(url), 4);

    clock.advance(5_000);
    const expired = await problem(post(client, starUrl, ''));
    assert.equal(expired.status, 403);
    assert.equal(expired.type, 'urn:ietf:params:acme:error:autoRenewalExpired');
  });

  it('serves unauthenticated GET only when the order asked for it, and never to another account', async () => {
    const client = await ca.account();
    const t = clock.now();
    const open = await starOrder(client, 'open', {
      'end-date': iso(t + 60_000),
      lifetime: 20,
      'lifetime-adjust': 2,
      'allow-certificate-get': true,
    });
    const res = await client.transport.request('GET', open.starUrl, {
      accept: 'application/pem-certificate-chain',
    });
    assert.equal(res.status, 200);
    assert.equal(
      Date.parse(String(res.headers['cert-not-before'])),
      second(t - 2_000),
      'lifetime-adjust pads the start',
    );
    assert.equal(Date.parse(String(res.headers['cert-not-after'])), second(t + 20_000));
    assert.deepEqual((await client.getOrder(open.url))['auto-renewal' as keyof OrderJson], {
      'start-date': iso(t),
      'end-date': iso(t + 60_000),
      lifetime: 20,
      'lifetime-adjust': 2,
      'allow-certificate-get': true,
    });

    const closed = await starOrder(client, 'closed', { 'end-date': iso(t + 60_000), lifetime: 20 });
    const refused = await problem(client.transport.request('GET', closed.starUrl));
    assert.equal(refused.status, 403);
    assert.equal(refused.type, 'urn:ietf:params:acme:error:unauthorized');
    const other = await ca.account();
    const foreign = await problem(post(other, closed.starUrl, ''));
    assert.equal(foreign.type, 'urn:ietf:params:acme:error:unauthorized');
  });

  it('cancels with status canceled; afterwards the certificate URL answers 403 autoRenewalCanceled', async () => {
    const client = await ca.account();
    const t = clock.now();
    const star = await starOrder(client, 'canceled', {
      'end-date': iso(t + 60_000),
      lifetime: 10,
      'allow-certificate-get': true,
    });
    const canceled = json<OrderJson>(await post(client, star.url, { status: 'canceled' }));
    assert.equal(canceled.status, 'canceled');
    assert.equal((await client.getOrder(star.url)).status, 'canceled');
    for (const attempt of [
      () => post(client, star.starUrl, ''),
      () => client.transport.request('GET', star.starUrl),
    ]) {
      const p = await problem(attempt());
      assert.equal(p.status, 403);
      assert.equal(p.type, 'urn:ietf:params:acme:error:autoRenewalCanceled');
    }
    const again = await problem(post(client, star.url, { status: 'canceled' }));
    assert.equal(again.type, 'urn:ietf:params:acme:error:autoRenewalCancellationInvalid');
    const before = await countCertificates(star.url);
    clock.advance(30_000);
    await ca.server.starLoop!.runOnce();
    assert.equal(await countCertificates(star.url), before, 'a canceled order is never renewed');

    const plain = await readyOrder(ca, client, {
      identifiers: [{ type: 'dns', value: 'plain.star.example.localhost' }],
    });
    const notStar = await problem(post(client, plain.url, { status: 'canceled' }));
    assert.equal(notStar.type, 'urn:ietf:params:acme:error:autoRenewalCancellationInvalid');
    const otherUpdate = await problem(post(client, plain.url, { status: 'valid' }));
    assert.equal(otherUpdate.type, 'urn:ietf:params:acme:error:malformed');
  });

  it('stops renewing when the account is deactivated', async () => {
    const client = await ca.account();
    const star = await starOrder(client, 'deactivated', {
      'end-date': iso(clock.now() + 60_000),
      lifetime: 10,
    });
    await client.deactivateAccount();
    clock.advance(10_000);
    await ca.server.starLoop!.runOnce();
    assert.equal(await countCertificates(star.url), 1);
  });

  it('answers bad input on the renewal resources with problems, never a 500', async () => {
    const client = await ca.account();
    const dir = await client.directory();
    const base = dir.newOrder.replace(/\/acme\/new-order$/, '');
    const plain = await readyOrder(ca, client, {
      identifiers: [{ type: 'dns', value: 'bad.star.example.localhost' }],
    });
    const cases: [() => Promise<unknown>, number][] = [
      [() => post(client, `${base}/acme/star-cert/nope`, ''), 404],
      [() => client.transport.request('GET', `${base}/acme/star-cert/nope`), 404],
      [() => post(client, `${base}/acme/delegation/nope`, ''), 404],
      [() => client.transport.request('GET', `${dir.renewalInfo}/${'A'.repeat(80)}.AQ`), 404],
      [() => post(client, plain.url, []), 400],
      [() => post(client, plain.url, { status: 7 }), 400],
      [() => post(client, dir.newOrder, { identifiers: plain.order.identifiers, replaces: 5 }), 400],
      [() => post(client, dir.newOrder, { identifiers: plain.order.identifiers, delegation: {} }), 400],
    ];
    for (const [call, status] of cases) {
      const p = await problem(call());
      assert.equal(p.status, status, p.message);
    }
  });

  it('refuses auto-renewal requests outside the limits with malformed', async () => {
    const client = await ca.account();
    const dir = await client.directory();
    const t = clock.now();
    const identifiers = [{ type: 'dns', value: 'limits.star.example.localhost' }];
    const bad: Record<string, unknown>[] = [
      { 'auto-renewal': { 'end-date': iso(t + 60_000), lifetime: 0 } },
      { 'auto-renewal': { lifetime: 10 } },
      { 'auto-renewal': { 'end-date': iso(t - 1_000), lifetime: 10 } },
      { 'auto-renewal': { 'end-date': iso(t + 60_000), lifetime: 10, 'start-date': iso(t + 120_000) } },
      { 'auto-renewal': { 'end-date': iso(t + 400 * 86_400_000), lifetime: 10 } },
      { 'auto-renewal': { 'end-date': iso(t + 60_000), lifetime: 91 * 86_400 } },
      { 'auto-renewal': { 'end-date': iso(t + 60_000), lifetime: 10, surprise: 1 } },
      { 'auto-renewal': 'yes' },
      { 'auto-renewal': { 'end-date': iso(t + 60_000), lifetime: 10 }, notAfter: iso(t + 30_000) },
    ];
    for (const extra of bad) {
      const p = await problem(post(client, dir.newOrder, { identifiers, ...extra }));
      assert.equal(p.type, 'urn:ietf:params:acme:error:malformed', JSON.stringify(extra));
      assert.equal(p.status, 400);
    }
  });
});

describe('STAR when unauthenticated GET is not allowed', () => {
  let ca: TestCa;
  before(async () => {
    ca = await startTestCa({ star: { min_lifetime: '1s' } });
  });
  after(() => ca.close());

  it('refuses allow-certificate-get and says so in meta', async () => {
    const client = await ca.account();
    const dir = await client.directory();
    const meta = dir.meta?.['auto-renewal'] as Record<string, unknown> | undefined;
    assert.equal(meta?.['allow-certificate-get'], false);
    const p = await problem(
      post(client, dir.newOrder, {
        identifiers: [{ type: 'dns', value: 'get.star.example.localhost' }],
        'auto-renewal': { 'end-date': iso(Date.now() + 60_000), lifetime: 10, 'allow-certificate-get': true },
      }),
    );
    assert.equal(p.type, 'urn:ietf:params:acme:error:malformed');
  });
});

describe('STAR renewals of an order with a profile', () => {
  let ca: TestCa;
  const clock = new FakeClock();
  before(async () => {
    ca = await startTestCa(
      {
        star: { min_lifetime: '1s', check_interval: '1h' },
        profiles: { mtls: { extended_key_usages: ['clientAuth'] } },
      },
      { clock },
    );
  });
  after(() => ca.close());

  it('issues every certificate with the profile of the order', async () => {
    const client = await ca.account();
    const name = 'profiled.star.example.localhost';
    const ready = await readyOrder(ca, client, {
      identifiers: [{ type: 'dns', value: name }],
      profile: 'mtls',
      'auto-renewal': { 'end-date': iso(clock.now() + 60_000), lifetime: 10 },
    });
    const valid = (await finalize(client, ready.order, [name])) as OrderJson & Record<string, unknown>;
    const starUrl = valid['star-certificate'] as string;
    const first = new X509Certificate((await post(client, starUrl, '')).body);
    clock.advance(5_000);
    assert.equal(await ca.server.starLoop!.runOnce(), 1);
    clock.advance(5_000);
    const renewed = new X509Certificate((await post(client, starUrl, '')).body);
    assert.notEqual(renewed.serialNumber, first.serialNumber);
    assert.deepEqual(first.keyUsage, ['1.3.6.1.5.5.7.3.2']);
    assert.deepEqual(renewed.keyUsage, first.keyUsage, 'the renewal carries the profile EKU');
  });
});
