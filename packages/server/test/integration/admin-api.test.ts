import assert from 'node:assert/strict';
import { createHash, X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import https from 'node:https';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { obtainCertificate } from '@akamu/client';
import { registeredAdminRoutes } from '../../src/admin/plugin.ts';
import { ROLES, ROUTE_ACCESS } from '../../src/admin/roles.ts';
import { FakeClock } from '../../src/index.ts';
import { startTestCa, type TestCa } from '../helpers.ts';
import { httpsGet, makeClient, makeRoot, writePem } from './tls-support.ts';

/**
 * The admin API end to end (docs/admin-api.md): a real server with the admin API on, operators created
 * through it, certificates issued with @akamu/client, and every route walked with every role.
 */

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  // biome-ignore lint/suspicious/noExplicitAny: JSON answers of many shapes
  json: any;
}

function client(ca: TestCa) {
  const base = ca.directoryUrl.replace(/\/acme\/directory$/, '');
  return (method: string, urlPath: string, token?: string, body?: unknown) =>
    new Promise<Answer>((resolve, reject) => {
      const headers: Record<string, string> = {};
      if (token !== undefined) headers.authorization = `Bearer ${token}`;
      if (body !== undefined) headers['content-type'] = 'application/json';
      const req = https.request(`${base}${urlPath}`, { method, ca: ca.caBundle, headers }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let json: unknown;
          try {
            json = JSON.parse(text);
          } catch {
            json = undefined;
          }
          resolve({ status: res.statusCode!, headers: res.headers, text, json });
        });
      });
      req.setTimeout(10_000, () => req.destroy(new Error('timeout')));
      req.on('error', reject);
      req.end(body === undefined ? undefined : JSON.stringify(body));
    });
}

describe('admin API', () => {
  let ca: TestCa;
  let call: ReturnType<typeof client>;
  let adminToken: string;
  const tokens: Record<string, string> = {};
  let tokenFile: string;

  before(async () => {
    tokenFile = path.join(mkdtempSync(path.join(tmpdir(), 'akamu-admin-')), 'bootstrap.token');
    ca = await startTestCa({
      admin: { enabled: true, bootstrap_token_file: tokenFile, max_failed_logins: 1000 },
    });
    call = client(ca);
    adminToken = readFileSync(tokenFile, 'utf8').trim();
    for (const role of ROLES) {
      const body: Record<string, unknown> = { name: `op-${role}`, role };
      if (role === 'registration_officer')
        body.scope = { identifierSuffixes: ['scoped.localhost'], accounts: [] };
      const r = await call('POST', '/admin/operators', adminToken, body);
      assert.equal(r.status, 201, r.text);
      assert.match(r.json.token, /^op-[^.]+\.[A-Za-z0-9_-]{43}$/);
      tokens[role] = r.json.token;
    }
  });
  after(() => ca?.close());

  it('bootstraps the first administrator into a 0600 token file', async () => {
    assert.equal(statSync(tokenFile).mode & 0o777, 0o600);
    const me = await call('GET', '/admin/me', adminToken);
    assert.equal(me.status, 200, me.text);
    assert.equal(me.json.role, 'administrator');
    assert.equal(me.json.token, undefined, 'a token is never shown again');
  });

  it('serves an OpenAPI 3.1 document listing exactly the registered admin routes', async () => {
    const doc = await call('GET', '/admin/openapi.json');
    assert.equal(doc.status, 200);
    assert.equal(doc.json.openapi, '3.1.0');
    const documented = new Set<string>();
    for (const [p, ops] of Object.entries(doc.json.paths as Record<string, object>))
      for (const m of Object.keys(ops))
        documented.add(`${m.toUpperCase()} ${p.replace(/\{(\w+)\}/g, ':$1')}`);
    // What Fastify reported registering in the admin plugin (its onRoute hook), and that it answers them.
    const registered = new Set(registeredAdminRoutes(ca.server.app));
    assert.ok(registered.size >= 25, [...registered].join(', '));
    for (const key of registered) {
      const [method, url] = key.split(' ') as [string, string];
      assert.ok(ca.server.app.hasRoute({ method: method as 'GET', url }), key);
    }
    assert.deepEqual([...registered].sort(), [...documented].sort());
    for (const key of registered) assert.ok(ROUTE_ACCESS[key], `${key} is in the role table`);
  });

  it('walks every route with every role, no token and a bad token', async () => {
    const doc = await call('GET', '/admin/openapi.json');
    const wrongSecret = `${tokens.auditor!.split('.')[0]}.${'A'.repeat(43)}`;
    for (const [p, ops] of Object.entries(doc.json.paths as Record<string, Record<string, unknown>>)) {
      for (const m of Object.keys(ops)) {
        const method = m.toUpperCase();
        const key = `${method} ${p.replace(/\{(\w+)\}/g, ':$1')}`;
        const access = ROUTE_ACCESS[key]!;
        // Parameters that name nothing: allowed roles get 404/400, never a change to real state.
        const url = p.replace(/\{(\w+)\}/g, 'nonexistent00');
        const body = method === 'GET' || method === 'DELETE' ? undefined : {};
        if (access === 'public') {
          assert.equal((await call(method, url, undefined, body)).status, 200, key);
          continue;
        }
        const none = await call(method, url, undefined, body);
        assert.equal(none.status, 401, `${key} without a token`);
        assert.equal(none.json.type, 'urn:akamu:admin:unauthenticated');
        assert.equal((await call(method, url, 'garbage', body)).status, 401, `${key} with a malformed token`);
        assert.equal((await call(method, url, wrongSecret, body)).status, 401, `${key} with a wrong secret`);
        for (const role of ROLES) {
          const r = await call(method, url, tokens[role], body);
          if (access.includes(role)) {
            assert.ok(
              ![401, 403].includes(r.status) && r.status < 500,
              `${key} as ${role}: ${r.status} ${r.text}`,
            );
            assert.ok(r.status < 300 || /^urn:/.test(r.json?.type), `${key} as ${role}: a problem document`);
          } else {
            assert.equal(r.status, 403, `${key} as ${role}: ${r.text}`);
            assert.equal(r.json.type, 'urn:akamu:admin:forbidden');
          }
        }
      }
    }
  });

  it('lists, searches, shows, downloads and revokes certificates; CRL and statistics follow', async () => {
    const acme = await ca.account();
    const name = `admin-${Date.now()}.localhost`;
    const got = await obtainCertificate(acme, {
      identifiers: [{ type: 'dns', value: name }],
      solvers: [ca.solver],
    });
    const leaf = new X509Certificate(got.certificatePem);
    const serial = leaf.serialNumber.toLowerCase();

    const byName = await call('GET', `/admin/certificates?name=${name}`, tokens.auditor);
    assert.equal(byName.status, 200, byName.text);
    assert.equal(byName.json.items.length, 1);
    assert.equal(byName.json.items[0].serial, serial);
    assert.deepEqual(byName.json.items[0].identifiers, [{ type: 'dns', value: name }]);
    const accountId = byName.json.items[0].accountId as string;

    const bySerial = await call(
      'GET',
      `/admin/certificates?serial=${leaf.serialNumber}&status=valid`,
      adminToken,
    );
    assert.equal(bySerial.json.items.length, 1);
    const window = `expiresAfter=${new Date(Date.now() + 86_400_000).toISOString()}&account=${accountId}`;
    assert.equal((await call('GET', `/admin/certificates?${window}`, adminToken)).json.items.length, 1);
    const past = `expiresBefore=${new Date(Date.now()).toISOString()}&account=${accountId}`;
    assert.equal((await call('GET', `/admin/certificates?${past}`, adminToken)).json.items.length, 0);

    const pem = await call('GET', `/admin/certificates/${serial}/pem`, tokens.operations);
    assert.equal(pem.status, 200);
    assert.match(String(pem.headers['content-type']), /application\/pem-certificate-chain/);
    assert.equal(new X509Certificate(pem.text).serialNumber.toLowerCase(), serial);

    const account = await call('GET', `/admin/accounts/${accountId}`, tokens.auditor);
    assert.equal(account.json.status, 'valid');
    const orders = await call('GET', `/admin/orders?account=${accountId}&status=valid`, tokens.auditor);
    assert.equal(orders.json.items.length, 1);
    const order = await call('GET', `/admin/orders/${orders.json.items[0].id}`, tokens.auditor);
    assert.equal(order.json.status, 'valid');
    assert.equal(order.json.authorizations.length, 1);

    // The registration officer's scope is scoped.localhost: this certificate is outside it.
    const ro = await call('GET', `/admin/certificates/${serial}`, tokens.registration_officer);
    assert.equal(ro.status, 403);
    assert.equal(ro.json.type, 'urn:akamu:admin:outOfScope');
    const roList = await call('GET', `/admin/certificates?name=${name}`, tokens.registration_officer);
    assert.deepEqual(roList.json.items, []);

    const window2 = {
      start: new Date(Date.now() + 3_600_000).toISOString(),
      end: new Date(Date.now() + 7_200_000).toISOString(),
    };
    const ari = await call('PUT', `/admin/certificates/${serial}/renewal-window`, tokens.operations, window2);
    assert.equal(ari.status, 200, ari.text);
    const badWindow = await call('PUT', `/admin/certificates/${serial}/renewal-window`, tokens.operations, {
      start: window2.end,
      end: window2.start,
    });
    assert.equal(badWindow.status, 400);

    const crlBefore = await call('POST', '/admin/crl/regenerate', tokens.operations);
    assert.equal(crlBefore.status, 200, crlBefore.text);
    const badReason = await call('POST', `/admin/certificates/${serial}/revoke`, tokens.operations, {
      reason: 6,
    });
    assert.equal(badReason.status, 400);
    assert.equal(badReason.json.type, 'urn:ietf:params:acme:error:badRevocationReason');
    const revoked = await call('POST', `/admin/certificates/${serial}/revoke`, tokens.operations, {
      reason: 4,
    });
    assert.equal(revoked.status, 200, revoked.text);
    assert.equal(revoked.json.status, 'revoked');
    assert.equal(revoked.json.revocationReason, 4);
    const again = await call('POST', `/admin/certificates/${serial}/revoke`, tokens.operations, {});
    assert.equal(again.json.type, 'urn:ietf:params:acme:error:alreadyRevoked');
    const crl = await call('POST', '/admin/crl/regenerate', tokens.operations);
    assert.ok(crl.json.crlNumber > crlBefore.json.crlNumber);
    assert.ok(crl.json.entries >= 1);
    assert.equal((await ca.server.storage.getCertificateBySerial(serial))?.status, 'revoked');

    const stats = await call('GET', '/admin/stats', tokens.auditor);
    assert.ok(stats.json.certificates.revoked >= 1, stats.text);
    assert.ok(stats.json.accounts.valid >= 1);
    assert.equal(stats.json.operators.administrator, 2, 'the bootstrap administrator and op-administrator');

    const byContact = await call('GET', `/admin/accounts?id=${accountId}&status=valid`, adminToken);
    assert.equal(byContact.json.items.length, 1);
    const deactivated = await call('POST', `/admin/accounts/${accountId}/deactivate`, adminToken);
    assert.equal(deactivated.json.status, 'deactivated');
    assert.equal((await call('POST', `/admin/accounts/${accountId}/deactivate`, adminToken)).status, 409);
    acme.close();
  });

  it('limits a registration officer to its scope', async () => {
    const acme = await ca.account();
    const name = `a${Date.now()}.scoped.localhost`;
    const got = await obtainCertificate(acme, {
      identifiers: [{ type: 'dns', value: name }],
      solvers: [ca.solver],
    });
    acme.close();
    const serial = new X509Certificate(got.certificatePem).serialNumber.toLowerCase();
    const ro = tokens.registration_officer!;
    const listed = await call('GET', `/admin/certificates?name=${name}`, ro);
    assert.equal(listed.json.items.length, 1, listed.text);
    const accountId = listed.json.items[0].accountId as string;
    const orders = await call('GET', `/admin/orders?account=${accountId}`, ro);
    assert.equal(orders.json.items.length, 1, orders.text);
    assert.equal(
      (await call('GET', `/admin/accounts/${accountId}`, ro)).status,
      403,
      'accounts are in scope by id',
    );
    assert.deepEqual((await call('GET', '/admin/accounts', ro)).json.items, []);
    const revoked = await call('POST', `/admin/certificates/${serial}/revoke`, ro, { reason: 5 });
    assert.equal(revoked.status, 200, revoked.text);
    assert.equal(revoked.json.status, 'revoked');
  });

  it('pages through accounts with a cursor and searches by contact', async () => {
    const contact = `mailto:pager-${Date.now()}@example.com`;
    for (let i = 0; i < 3; i++) {
      const c = ca.client();
      await c.newAccount({ contact: [contact.replace('@', `${i}@`)], termsOfServiceAgreed: true });
      c.close();
    }
    const q = `contact=${encodeURIComponent(contact.split('@')[0]!.slice(7))}`;
    const first = await call('GET', `/admin/accounts?${q}&limit=2`, adminToken);
    assert.equal(first.json.items.length, 2, first.text);
    assert.ok(first.json.next);
    const second = await call('GET', `/admin/accounts?${q}&limit=2&cursor=${first.json.next}`, adminToken);
    assert.equal(second.json.items.length, 1);
    assert.equal(second.json.next, null);
    const ids = new Set([...first.json.items, ...second.json.items].map((a: { id: string }) => a.id));
    assert.equal(ids.size, 3);
    assert.equal((await call('GET', '/admin/accounts?limit=0', adminToken)).status, 400);
    assert.equal((await call('GET', '/admin/accounts?status=bogus', adminToken)).status, 400);
  });

  it('creates, lists and deletes EAB keys', async () => {
    const created = await call('POST', '/admin/eab-keys', tokens.operations, { note: 'team a' });
    assert.equal(created.status, 201, created.text);
    assert.match(created.json.hmacKey, /^[A-Za-z0-9_-]{43}$/);
    const unused = await call('GET', '/admin/eab-keys?used=false', tokens.auditor);
    const listed = unused.json.items.find((k: { kid: string }) => k.kid === created.json.kid);
    assert.equal(listed.note, 'team a');
    assert.equal(listed.hmacKey, undefined, 'the MAC key is shown only at creation');
    assert.equal((await call('GET', '/admin/eab-keys?used=true', tokens.auditor)).json.items.length, 0);
    assert.equal(
      (await call('DELETE', `/admin/eab-keys/${created.json.kid}`, tokens.operations)).status,
      204,
    );
    assert.equal(
      (await call('DELETE', `/admin/eab-keys/${created.json.kid}`, tokens.operations)).status,
      404,
    );
  });

  it('rotates and disables operators; the last administrator stays', async () => {
    const made = await call('POST', '/admin/operators', adminToken, { name: 'rotating', role: 'auditor' });
    const id = made.json.id as string;
    const rotated = await call('POST', `/admin/operators/${id}/rotate-token`, adminToken);
    assert.equal(rotated.status, 200);
    assert.equal((await call('GET', '/admin/me', made.json.token)).status, 401, 'the old token is dead');
    assert.equal((await call('GET', '/admin/me', rotated.json.token)).status, 200);
    assert.equal((await call('POST', `/admin/operators/${id}/disable`, adminToken)).json.disabled, true);
    assert.equal((await call('GET', '/admin/me', rotated.json.token)).status, 401);
    assert.equal(
      (await call('POST', '/admin/operators', adminToken, { name: 'rotating', role: 'auditor' })).status,
      409,
    );
    assert.equal(
      (await call('POST', '/admin/operators', adminToken, { name: 'x', role: 'registration_officer' }))
        .status,
      400,
      'a registration officer needs a scope',
    );
    const me = await call('GET', '/admin/me', adminToken);
    const second = await call('GET', '/admin/me', tokens.administrator);
    assert.equal((await call('POST', `/admin/operators/${second.json.id}/disable`, adminToken)).status, 200);
    const last = await call('POST', `/admin/operators/${me.json.id}/disable`, adminToken);
    assert.equal(last.status, 409);
    assert.equal(last.json.type, 'urn:akamu:admin:conflict');
    assert.equal((await call('POST', `/admin/operators/${second.json.id}/enable`, adminToken)).status, 200);
    assert.equal((await call('GET', '/admin/me', tokens.administrator)).status, 200);
  });

  it('answers bad input with problem documents, never a 500', async () => {
    const bad = await ca.server.app.inject({
      method: 'POST',
      url: '/admin/eab-keys',
      headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
      payload: '{not json',
    });
    assert.equal(bad.statusCode, 400);
    assert.equal(bad.json().type, 'urn:akamu:admin:badRequest');
    const unknown = await call('GET', '/admin/nothing-here', adminToken);
    assert.equal(unknown.status, 404);
    assert.equal(unknown.json.type, 'urn:akamu:admin:notFound');
    assert.equal((await call('GET', '/admin/certificates/zz', adminToken)).status, 400);
    assert.equal((await call('GET', '/admin/certificates?expiresAfter=yesterday', adminToken)).status, 400);
  });

  it('records operator actions in the audit log, and nothing for a refused change', async () => {
    const boot = (await call('GET', '/admin/me', adminToken)).json.id as string;
    const created = await call('GET', '/admin/audit?type=operator.created&limit=100', tokens.auditor);
    assert.equal(created.status, 200, created.text);
    const rotating = created.json.items.filter(
      (e: { details: { name: string } }) => e.details?.name === 'rotating',
    );
    assert.equal(rotating.length, 1, 'the duplicate create (409) rolled its event back with it');
    assert.equal(rotating[0].actor, `operator:${boot}`);
    assert.equal(rotating[0].objectType, 'operator');
    assert.ok(rotating[0].source);
    const rotated = await call(
      'GET',
      `/admin/audit?type=operator.token_rotated&objectId=${rotating[0].objectId}`,
      tokens.auditor,
    );
    assert.equal(rotated.json.items.length, 1);
    const ops = (await call('GET', '/admin/me', tokens.operations)).json.id as string;
    const revoked = await call(
      'GET',
      `/admin/audit?type=certificate.revoked&actor=operator:${ops}`,
      tokens.auditor,
    );
    assert.equal(revoked.json.items.length, 1, revoked.text);
    assert.equal((await call('GET', '/admin/audit', tokens.registration_officer)).status, 403);
  });
});

describe('admin API with client certificates', () => {
  it('authenticates an operator by the fingerprint of its verified client certificate', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'akamu-admin-mtls-'));
    const root = makeRoot('Operators Root');
    const tokenFile = path.join(dir, 'token');
    const ca = await startTestCa({
      admin: { enabled: true, bootstrap_token_file: tokenFile },
      tls: { client_auth: 'optional', client_ca_files: [writePem(path.join(dir, 'clients.pem'), root.pem)] },
    });
    try {
      const call = client(ca);
      const base = ca.directoryUrl.replace(/\/acme\/directory$/, '');
      const alice = makeClient(root, { commonName: 'alice' });
      const mallory = makeClient(root, { commonName: 'mallory' });
      const fingerprint = createHash('sha256')
        .update(alice.der)
        .digest('hex')
        .replace(/(..)(?!$)/g, '$1:');
      const token = readFileSync(tokenFile, 'utf8').trim();
      const made = await call('POST', '/admin/operators', token, {
        name: 'alice',
        role: 'auditor',
        certificateFingerprint: fingerprint,
      });
      assert.equal(made.status, 201, made.text);
      assert.equal(made.json.certificateFingerprint, fingerprint.replace(/:/g, '').toUpperCase());

      const me = await httpsGet(`${base}/admin/me`, { ca: ca.caBundle, client: alice });
      assert.equal(me.status, 200, me.body);
      assert.equal(me.json().name, 'alice');
      assert.equal((await httpsGet(`${base}/admin/stats`, { ca: ca.caBundle, client: alice })).status, 200);
      const write = await httpsGet(`${base}/admin/operators`, { ca: ca.caBundle, client: alice });
      assert.equal(write.status, 200, 'auditors read operators');
      const other = await httpsGet(`${base}/admin/me`, { ca: ca.caBundle, client: mallory });
      assert.equal(other.status, 401, 'a verified certificate no operator holds is not enough');
      assert.equal((await httpsGet(`${base}/admin/me`, { ca: ca.caBundle })).status, 401);

      assert.equal((await call('POST', `/admin/operators/${made.json.id}/disable`, token)).status, 200);
      assert.equal((await httpsGet(`${base}/admin/me`, { ca: ca.caBundle, client: alice })).status, 401);
    } finally {
      await ca.close();
    }
  });
});

describe('admin API lockout', () => {
  it('locks an operator out after max_failed_logins and its address after four times as many', async () => {
    const clock = new FakeClock();
    const tokenFile = path.join(mkdtempSync(path.join(tmpdir(), 'akamu-admin-')), 'token');
    const ca = await startTestCa(
      { admin: { enabled: true, bootstrap_token_file: tokenFile, max_failed_logins: 3, lockout: '15m' } },
      { clock },
    );
    try {
      const call = client(ca);
      const token = readFileSync(tokenFile, 'utf8').trim();
      const other = (await call('POST', '/admin/operators', token, { name: 'other', role: 'auditor' })).json
        .token;
      const wrong = `${token.split('.')[0]}.${'B'.repeat(43)}`;
      for (let i = 0; i < 2; i++)
        assert.equal((await call('GET', '/admin/me', wrong)).json.type, 'urn:akamu:admin:unauthenticated');
      const third = await call('GET', '/admin/me', wrong);
      assert.equal(third.json.type, 'urn:akamu:admin:lockedOut');
      assert.equal(third.headers['retry-after'], '900');
      const right = await call('GET', '/admin/me', token);
      assert.equal(right.status, 401, 'the right token is refused while locked out');
      assert.equal(right.json.type, 'urn:akamu:admin:lockedOut');
      assert.equal((await call('GET', '/admin/me', other)).status, 200, 'other operators are unaffected');
      clock.advance(15 * 60_000 + 1000);
      assert.equal((await call('GET', '/admin/me', token)).status, 200, 'the lockout ends');

      for (let i = 0; i < 12; i++) await call('GET', '/admin/me', `op-unknown.${'C'.repeat(43)}`);
      const blocked = await call('GET', '/admin/me', token);
      assert.equal(blocked.status, 429, 'the address is locked out');
      assert.ok(Number(blocked.headers['retry-after']) > 0);
      clock.advance(15 * 60_000 + 1000);
      assert.equal((await call('GET', '/admin/me', token)).status, 200);
    } finally {
      await ca.close();
    }
  });

  it('is off unless [admin] enabled', async () => {
    const ca = await startTestCa({});
    try {
      const r = await client(ca)('GET', '/admin/openapi.json');
      assert.equal(r.status, 404);
    } finally {
      await ca.close();
    }
  });
});
