import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { AcmeProblemError, generateKey, obtainCertificate } from '@akamu/client';
import { FakeClock } from '../../src/clock.ts';
import { AUDIT_EVENT_TYPES, type AuditRecord } from '../../src/core/audit.ts';
import { startTestCa, type TestCa } from '../helpers.ts';
import { finalize, json, post, readyOrder } from './renewal-support.ts';

/**
 * The audit log end to end (docs/operations.md, "Audit"): real ACME flows with @akamu/client against the
 * real server, then the rows of audit_events (type, actor, object, outcome, source) and the JSON-lines
 * file (one line per committed event, mode 0600, no secrets).
 */
const STATIC_HMAC = Buffer.alloc(32, 7).toString('base64url');
const SECRET_MASTER = Buffer.alloc(32, 9).toString('base64url');

describe('audit log', () => {
  let ca: TestCa;
  let dir: string;
  let file: string;
  let n = 0;
  const name = (what: string) => `${what}-${Date.now().toString(36)}${n++}.audit.localhost`;
  const idOf = (url: string) => url.split('/').pop()!;

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'akamu-audit-'));
    file = path.join(dir, 'audit.jsonl');
    ca = await startTestCa({
      audit: { file },
      eab: {
        keys: { 'audit-static': { hmac_key: STATIC_HMAC, note: 'static key' } },
        master_secret: SECRET_MASTER,
        trusted_proxies: ['127.0.0.1'],
      },
    });
  });
  after(async () => {
    await ca.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const events = async (filter: Parameters<NonNullable<TestCa['server']['audit']>['queryAuditEvents']>[0]) =>
    (await ca.server.audit!.queryAuditEvents({ limit: 1000, ...filter })).events;

  /** The one event of this type about this object. */
  async function one(type: string, objectId: string): Promise<AuditRecord> {
    const found = await events({ type, objectId });
    assert.equal(found.length, 1, `${type} for ${objectId}: ${JSON.stringify(found)}`);
    return found[0]!;
  }

  function assertFromClient(e: AuditRecord, actor: string): void {
    assert.equal(e.actor, actor);
    assert.equal(e.source, '127.0.0.1');
    assert.equal(e.outcome, 'success');
    assert.equal(e.detail, null);
    assert.ok(e.requestId, 'the request id is recorded');
  }

  it('records config.loaded at start, with secrets redacted', async () => {
    const [loaded] = await events({ type: 'config.loaded' });
    assert.ok(loaded);
    assert.match(loaded.actor, /^node:/);
    assert.equal(loaded.objectType, 'config');
    const config = loaded.details?.config as { eab: { keys: Record<string, { hmac_key: string }> } };
    assert.equal(config.eab.keys['audit-static']!.hmac_key, '[redacted]');
    assert.match(String(loaded.details?.digest), /^[0-9a-f]{64}$/);
    assert.equal(loaded.details?.changed, null, 'the first start has nothing to compare with');
    // Seeding the static key was itself audited, by the system.
    const seeded = await one('eab_key.created', 'audit-static');
    assert.equal(seeded.actor, 'system');
    assert.equal(seeded.source, null);
    assert.deepEqual(seeded.details, { source: 'config', note: 'static key' });
  });

  it('records account creation, update, key change and deactivation with actor and source', async () => {
    const client = await ca.account();
    const accountId = idOf(client.accountUrl!);
    const actor = `acme:${accountId}`;
    const created = await one('account.created', accountId);
    assertFromClient(created, actor);
    assert.equal(created.objectType, 'account');
    assert.deepEqual(created.details, { contact: ['mailto:test@example.com'] });

    await client.updateAccount({ contact: ['mailto:other@example.com'] });
    const updated = await one('account.updated', accountId);
    assertFromClient(updated, actor);
    assert.deepEqual(updated.details, { contact: ['mailto:other@example.com'] });

    await client.keyChange(generateKey('ec:P-256'));
    const changed = await one('account.key_changed', accountId);
    assertFromClient(changed, actor);
    assert.notEqual(changed.details?.oldThumbprint, changed.details?.newThumbprint);

    await client.deactivateAccount();
    assertFromClient(await one('account.deactivated', accountId), actor);
    // Every event of the account, newest first.
    const all = await events({ objectType: 'account', objectId: accountId });
    assert.deepEqual(
      all.map((e) => e.type),
      ['account.deactivated', 'account.key_changed', 'account.updated', 'account.created'],
    );
    // An account asking for its existing registration again writes nothing.
    assert.equal((await events({ actor })).length, 4);
  });

  it('records an issuance: order created, authorization validated, certificate issued', async () => {
    const client = await ca.account();
    const accountId = idOf(client.accountUrl!);
    const actor = `acme:${accountId}`;
    const dns = name('issue');
    const got = await obtainCertificate(client, {
      identifiers: [{ type: 'dns', value: dns }],
      solvers: [ca.solver],
    });
    const orderId = idOf(got.orderUrl);
    const order = await one('order.created', orderId);
    assertFromClient(order, actor);
    assert.deepEqual(order.details?.identifiers, [{ type: 'dns', value: dns }]);
    const [authzId] = (order.details?.newAuthorizations ?? []) as string[];
    const validated = await one('authorization.validated', authzId!);
    assertFromClient(validated, actor);
    assert.equal(validated.details?.challengeType, 'http-01');
    const serial = new X509Certificate(got.certificatePem).serialNumber.toLowerCase();
    const [issued] = await events({ type: 'certificate.issued', actor });
    assert.ok(issued);
    assertFromClient(issued, actor);
    assert.equal(issued.objectType, 'certificate');
    assert.equal(issued.details?.serial, serial.padStart(2, '0'));
    assert.equal(issued.details?.order, orderId);
    assert.equal((await ca.server.storage.getCertificate(issued.objectId))?.serial, issued.details?.serial);
  });

  it('records a failed validation with outcome failure and the problem detail', async () => {
    const client = await ca.account();
    const actor = `acme:${idOf(client.accountUrl!)}`;
    const { order } = await client.newOrder({ identifiers: [{ type: 'dns', value: name('fail') }] });
    const authz = await client.getAuthorization(order.authorizations[0]!);
    const challenge = authz.challenges.find((c) => c.type === 'http-01')!;
    // Nothing is served for the token: the validator gets a 404.
    await client.respondChallenge(challenge.url);
    await assert.rejects(client.waitForAuthorization(order.authorizations[0]!, { timeoutMs: 20_000 }));
    const failed = await one('authorization.invalid', idOf(order.authorizations[0]!));
    assert.equal(failed.actor, actor);
    assert.equal(failed.source, '127.0.0.1');
    assert.equal(failed.outcome, 'failure');
    assert.ok(failed.detail && failed.detail.length > 0, 'the failure says why');
    assert.equal(failed.details?.problemType, 'urn:ietf:params:acme:error:unauthorized');
  });

  it('records a deactivated authorization', async () => {
    const client = await ca.account();
    const { order } = await client.newOrder({ identifiers: [{ type: 'dns', value: name('deact') }] });
    await client.deactivateAuthorization(order.authorizations[0]!);
    const e = await one('authorization.deactivated', idOf(order.authorizations[0]!));
    assertFromClient(e, `acme:${idOf(client.accountUrl!)}`);
    assert.equal(e.details?.previousStatus, 'pending');
  });

  it('records revocations by the account and by the certificate key', async () => {
    const client = await ca.account();
    const actor = `acme:${idOf(client.accountUrl!)}`;
    const first = await obtainCertificate(client, {
      identifiers: [{ type: 'dns', value: name('rev1') }],
      solvers: [ca.solver],
    });
    const firstDer = new X509Certificate(first.certificatePem).raw;
    await client.revokeCertificate(firstDer, { reason: 4 });
    const [byAccount] = await events({ type: 'certificate.revoked', actor });
    assert.ok(byAccount);
    assertFromClient(byAccount, actor);
    assert.equal(byAccount.details?.reason, 4);

    const second = await obtainCertificate(client, {
      identifiers: [{ type: 'dns', value: name('rev2') }],
      solvers: [ca.solver],
    });
    await client.revokeCertificate(new X509Certificate(second.certificatePem).raw, {
      certificateKey: second.certificateKey,
    });
    const serial = new X509Certificate(second.certificatePem).serialNumber.toLowerCase().padStart(2, '0');
    const byKey = (await events({ type: 'certificate.revoked' })).find((e) => e.details?.serial === serial);
    assert.ok(byKey);
    assert.match(byKey.actor, /^acme-key:[A-Za-z0-9_-]{43}$/);
    assert.equal(byKey.source, '127.0.0.1');

    // A refused second revocation changes nothing and writes nothing.
    await assert.rejects(client.revokeCertificate(firstDer), AcmeProblemError);
    assert.equal((await events({ type: 'certificate.revoked', actor })).length, 1);
  });

  it('records EAB keys created, consumed with their account, and deleted', async () => {
    const key = await ca.server.eab!.createEabKey({ note: 'team audit' });
    const created = await one('eab_key.created', key.kid);
    assert.equal(created.actor, 'system');
    assert.ok(!JSON.stringify(created).includes(key.hmacKey), 'the MAC key is never audited');

    const client = ca.client();
    const r = await client.newAccount({
      termsOfServiceAgreed: true,
      externalAccountBinding: { kid: key.kid, hmacKey: Buffer.from(key.hmacKey, 'base64url') },
    });
    const accountId = idOf(r.url);
    const consumed = await one('eab_key.consumed', key.kid);
    assertFromClient(consumed, `acme:${accountId}`);
    assert.equal(consumed.details?.account, accountId);
    assert.equal((await one('account.created', accountId)).details?.eabKid, key.kid);

    const spare = await ca.server.eab!.createEabKey({}, { actor: 'operator:op1', source: '192.0.2.1' });
    assert.equal((await one('eab_key.created', spare.kid)).actor, 'operator:op1');
    assert.equal(
      await ca.server.eab!.deleteEabKey(spare.kid, { actor: 'operator:op1', source: '192.0.2.1' }),
      'deleted',
    );
    const deleted = await one('eab_key.deleted', spare.kid);
    assert.equal(deleted.actor, 'operator:op1');
    assert.equal(deleted.source, '192.0.2.1');
    // Deleting it again changes nothing and writes nothing.
    assert.equal(await ca.server.eab!.deleteEabKey(spare.kid), 'missing');
    assert.equal((await events({ type: 'eab_key.deleted', objectId: spare.kid })).length, 1);
  });

  it('filters by type prefix, actor, object and time, and pages newest first', async () => {
    const all = await events({});
    assert.ok(all.length >= 20);
    for (let i = 1; i < all.length; i++) {
      const [a, b] = [all[i - 1]!, all[i]!];
      assert.ok(a.at > b.at || (a.at === b.at && a.id > b.id), 'newest first, ties by id');
    }
    for (const e of await events({ type: 'account.*' })) assert.match(e.type, /^account\./);
    const mid = all[Math.floor(all.length / 2)]!.at;
    for (const e of await events({ since: mid })) assert.ok(e.at >= mid);
    for (const e of await events({ until: mid })) assert.ok(e.at < mid);
    // Pages of 3 walk the same events in the same order.
    const paged: AuditRecord[] = [];
    let cursor: string | undefined;
    do {
      const page = await ca.server.audit!.queryAuditEvents({ limit: 3, ...(cursor ? { cursor } : {}) });
      assert.ok(page.events.length <= 3);
      paged.push(...page.events);
      cursor = page.next;
    } while (cursor);
    assert.deepEqual(
      paged.map((e) => e.id),
      all.map((e) => e.id),
    );
    await assert.rejects(ca.server.audit!.queryAuditEvents({ limit: 0 }), /limit/);
    await assert.rejects(ca.server.audit!.queryAuditEvents({ cursor: 'nonsense' }), /cursor/);
  });

  it('appends every committed event to the JSON-lines file, mode 0600, without secrets', async () => {
    await ca.server.ra.drain();
    const rows = await events({});
    const text = readFileSync(file, 'utf8');
    assert.ok(text.endsWith('\n'));
    const lines = text
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as AuditRecord);
    assert.deepEqual(
      lines.map((l) => l.id).sort(),
      rows.map((r) => r.id).sort(),
      'one line per row, and no line without a row',
    );
    const byId = new Map(rows.map((r) => [r.id, r]));
    for (const line of lines) assert.deepEqual(line, byId.get(line.id));
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.ok(!text.includes(STATIC_HMAC) && !text.includes(SECRET_MASTER), 'no secret reaches the file');
    const types = new Set(rows.map((r) => r.type));
    for (const t of AUDIT_EVENT_TYPES) {
      if (['order.invalid', 'order.canceled', 'certificate.renewed', 'authorization.created'].includes(t))
        continue;
      assert.ok(types.has(t), `an event of type ${t} was written`);
    }
  });

  it('notes which configuration keys changed since the previous start', async () => {
    await ca.restart();
    const [latest, previous] = await events({ type: 'config.loaded' });
    assert.ok(latest && previous);
    assert.notEqual(latest.id, previous.id);
    // The test restarts on the same port, so only server.port differs from the first start (port 0).
    assert.deepEqual(latest.details?.changed, ['server.port']);
  });
});

describe('audit log: STAR renewals and cancellation, pre-authorization', () => {
  let ca: TestCa;
  const clock = new FakeClock();
  before(async () => {
    ca = await startTestCa(
      { star: { min_lifetime: '1s', check_interval: '1h' }, acme: { subdomain_auth_allowed: true } },
      { clock },
    );
  });
  after(() => ca.close());

  const events = async (filter: { type?: string; objectId?: string; actor?: string }) =>
    (await ca.server.audit!.queryAuditEvents({ limit: 1000, ...filter })).events;
  const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

  it('records each STAR renewal by the system, and the client canceling the order', async () => {
    const client = await ca.account();
    const actor = `acme:${client.accountUrl!.split('/').pop()}`;
    const name = 'star.audit.localhost';
    const t0 = clock.now();
    const ready = await readyOrder(ca, client, {
      identifiers: [{ type: 'dns', value: name }],
      'auto-renewal': { 'end-date': iso(t0 + 40_000), lifetime: 10 },
    });
    await finalize(client, ready.order, [name]);
    const orderId = ready.url.split('/').pop()!;
    const [issued] = (await events({ type: 'certificate.issued', actor })).filter(
      (e) => e.details?.order === orderId,
    );
    assert.ok(issued, 'the first certificate is issued by the client');

    clock.advance(5_000);
    assert.equal(await ca.server.starLoop!.runOnce(), 1);
    const renewed = (await events({ type: 'certificate.renewed' })).filter(
      (e) => e.details?.order === orderId,
    );
    assert.equal(renewed.length, 1);
    assert.equal(renewed[0]!.actor, 'system');
    assert.equal(renewed[0]!.source, null);
    assert.equal(renewed[0]!.details?.slot, 1);
    assert.equal((await ca.server.storage.getCertificate(renewed[0]!.objectId))?.orderId, orderId);

    await client.cancelStarOrder(ready.url);
    const [canceled] = await events({ type: 'order.canceled', objectId: orderId });
    assert.ok(canceled);
    assert.equal(canceled.actor, actor);
    assert.equal(canceled.source, '127.0.0.1');
    assert.deepEqual(canceled.details, { reason: 'client' });
    clock.advance(20_000);
    assert.equal(await ca.server.starLoop!.runOnce(), 0, 'no renewal after the cancellation');
    assert.equal((await events({ type: 'certificate.renewed' })).length, 1);
  });

  it('records a pre-authorization (new-authz)', async () => {
    const client = await ca.account();
    const dir = await client.directory();
    const res = await post(client, dir.newAuthz!, {
      identifier: { type: 'dns', value: 'pre.audit.localhost' },
      subdomainAuthAllowed: true,
    });
    assert.equal(res.status, 201);
    const authzId = String(res.headers.location).split('/').pop()!;
    const [created] = await events({ type: 'authorization.created', objectId: authzId });
    assert.ok(created);
    assert.equal(created.actor, `acme:${client.accountUrl!.split('/').pop()}`);
    assert.equal(created.source, '127.0.0.1');
    assert.deepEqual(created.details?.identifier, json(res).identifier);
    assert.equal(created.details?.subdomainAuthAllowed, true);
  });
});
