import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { AcmeClient, AcmeProblemError, createCsr, generateKey, JwsSigner, type KeySpec } from '@akamu/client';
import { b64u } from '@akamu/protocol';
import { FakeClock } from '../../src/clock.ts';
import type { ConfigInput } from '../../src/index.ts';
import { startTestCa, type TestCa } from '../helpers.ts';

/**
 * Rate limits (RFC 8555 §6.6, docs/operations.md "Rate limits") against the real server with an injected
 * FakeClock: each limit is hit, answers rateLimited (429) with Retry-After and the policy Link, and
 * recovers when its window has passed.
 */

const POLICY = 'https://ca.example/rate-limits';
const MINUTE = 60_000;

/** Every limit off and nobody exempt: a test turns on the one it is about. */
const base = (limits: Record<string, unknown>): ConfigInput => ({
  rate_limits: {
    exempt_ips: [],
    policy_url: POLICY,
    new_accounts_per_ip: 0,
    new_orders_per_account: 0,
    certificates_per_domain: 0,
    duplicate_certificates: 0,
    failed_validations: 0,
    pending_authorizations: 0,
    ...limits,
  },
});

async function rateLimited(p: Promise<unknown>, detail: RegExp): Promise<AcmeProblemError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof AcmeProblemError, String(e));
    assert.equal(e.type, 'urn:ietf:params:acme:error:rateLimited', e.message);
    assert.equal(e.status, 429);
    assert.match(e.problem.detail ?? '', detail);
    return e;
  }
  assert.fail('expected rateLimited');
}

async function validate(ca: TestCa, client: AcmeClient, authzUrl: string, answer = true) {
  const authz = await client.getAuthorization(authzUrl);
  if (authz.status === 'valid') return;
  const challenge = authz.challenges.find((c) => c.type === 'http-01')!;
  if (answer) await ca.solver.present(authz.identifier, challenge, client.keyAuthorization(challenge.token));
  await client.respondChallenge(challenge.url);
  if (answer) assert.equal((await client.waitForAuthorization(authzUrl)).status, 'valid');
  else await assert.rejects(client.waitForAuthorization(authzUrl), { resourceStatus: 'invalid' });
}

/** A ready order for `names`. */
async function readyOrder(ca: TestCa, client: AcmeClient, names: string[]) {
  const { url, order } = await client.newOrder({
    identifiers: names.map((value) => ({ type: 'dns', value })),
  });
  for (const a of order.authorizations) await validate(ca, client, a);
  return { url, order: await client.waitForOrder(url, ['ready']) };
}

const finalize = (client: AcmeClient, order: { finalize: string }, names: string[]) =>
  client.finalize(order, createCsr({ key: generateKey('ec:P-256'), dnsNames: names }));

describe('rate limits: new accounts per IP', () => {
  let ca: TestCa;
  const clock = new FakeClock();
  before(async () => {
    ca = await startTestCa(base({ new_accounts_per_ip: 2, new_accounts_per_ip_window: '10m' }), { clock });
  });
  after(() => ca.close());

  /** new-account through the server's HTTP stack from a given client address. */
  const newAccount = async (ip: string, spec: KeySpec = 'ec:P-256') => {
    const signer = new JwsSigner(generateKey(spec));
    const nonce = (await ca.server.app.inject({ method: 'HEAD', url: '/acme/new-nonce' })).headers[
      'replay-nonce'
    ];
    const jws = signer.sign(
      { alg: signer.alg, jwk: signer.jwk, nonce, url: ca.server.urls.newAccount },
      b64u(JSON.stringify({ termsOfServiceAgreed: true })),
    );
    return ca.server.app.inject({
      method: 'POST',
      url: '/acme/new-account',
      headers: { 'content-type': 'application/jose+json' },
      payload: JSON.stringify(jws),
      remoteAddress: ip,
    });
  };

  it('refuses the third account from one address with Retry-After and the policy link, then recovers', async () => {
    assert.equal((await newAccount('192.0.2.10')).statusCode, 201);
    clock.advance(MINUTE);
    assert.equal((await newAccount('192.0.2.10')).statusCode, 201);
    const refused = await newAccount('192.0.2.10');
    assert.equal(refused.statusCode, 429);
    assert.equal(refused.headers['content-type'], 'application/problem+json; charset=utf-8');
    const problem = refused.json();
    assert.equal(problem.type, 'urn:ietf:params:acme:error:rateLimited');
    assert.match(problem.detail, /too many new accounts from 192\.0\.2\.10: at most 2 per 10m/);
    // The window began with the first account: 9 minutes are left.
    assert.equal(refused.headers['retry-after'], String(9 * 60));
    const links = ([] as string[]).concat(refused.headers.link ?? []).join(', ');
    assert.match(links, new RegExp(`<${POLICY}>;rel="help"`));
    assert.match(links, /rel="index"/);
    assert.ok(refused.headers['replay-nonce'], 'an ACME error still carries a nonce');

    // Another address is not affected; an existing account's key is answered without counting.
    assert.equal((await newAccount('192.0.2.11')).statusCode, 201);

    clock.advance(9 * MINUTE - 1000);
    assert.equal((await newAccount('192.0.2.10')).statusCode, 429);
    assert.equal((await newAccount('192.0.2.10')).headers['retry-after'], '1');
    clock.advance(1000);
    assert.equal((await newAccount('192.0.2.10')).statusCode, 201, 'the window has passed');

    const metrics = (await ca.server.app.inject({ method: 'GET', url: '/metrics' })).body;
    assert.match(metrics, /^akamu_rate_limit_refusals_total\{limit="new_accounts_per_ip"\} 3$/m);
  });
});

describe('rate limits: new orders per account, exemptions', () => {
  let ca: TestCa;
  const clock = new FakeClock();
  before(async () => {
    ca = await startTestCa(base({ new_orders_per_account: 2, new_orders_per_account_window: '1h' }), {
      clock,
    });
  });
  after(() => ca.close());

  const order = (client: AcmeClient, name: string) =>
    client.newOrder({ identifiers: [{ type: 'dns', value: name }] });

  it('refuses the third order of an account within the hour, other accounts keep ordering', async () => {
    const client = await ca.account();
    await order(client, 'o1.example.localhost');
    await order(client, 'o2.example.localhost');
    const e = await rateLimited(
      order(client, 'o3.example.localhost'),
      /too many new orders for this account/,
    );
    assert.match(e.message, /at most 2 per 1h/);
    const other = await ca.account();
    await order(other, 'o1.example.localhost');
    clock.advance(60 * MINUTE);
    await order(client, 'o3.example.localhost');
  });

  it('never limits an account in exempt_accounts (by URL) or a request from exempt_ips', async () => {
    const key = generateKey('ec:P-256');
    const first = new AcmeClient({ directoryUrl: ca.directoryUrl, accountKey: key, caBundle: ca.caBundle });
    const { url: accountUrl } = await first.newAccount({ termsOfServiceAgreed: true });
    first.close();
    // A second node on the same database, configured with the account exempt.
    const node = await startTestCa(
      {
        ...base({ new_orders_per_account: 2, exempt_accounts: [accountUrl] }),
        database: { url: ca.databaseUrl },
      },
      { clock },
    );
    try {
      const exempt = new AcmeClient({
        directoryUrl: node.directoryUrl,
        accountKey: key,
        caBundle: node.caBundle,
      });
      await exempt.newAccount({ onlyReturnExisting: true });
      for (let i = 0; i < 4; i++) await order(exempt, `x${i}.example.localhost`);
      exempt.close();
      // The limit itself holds across nodes: an account that ordered twice on one is refused on the other.
      const counted = await ca.account();
      await order(counted, 'n1.example.localhost');
      await order(counted, 'n2.example.localhost');
      const sameKey = new AcmeClient({
        directoryUrl: node.directoryUrl,
        accountKey: counted.accountKey,
        caBundle: node.caBundle,
      });
      await sameKey.newAccount({ onlyReturnExisting: true });
      await rateLimited(order(sameKey, 'n3.example.localhost'), /too many new orders/);
      sameKey.close();
    } finally {
      await node.close();
    }
    const loopbackExempt = await startTestCa(
      base({ new_orders_per_account: 1, exempt_ips: ['127.0.0.0/8', '::1'] }),
      { clock },
    );
    try {
      const client = await loopbackExempt.account();
      for (let i = 0; i < 3; i++) await order(client, `l${i}.example.localhost`);
    } finally {
      await loopbackExempt.close();
    }
  });
});

describe('rate limits: failed validations and pending authorizations', () => {
  let ca: TestCa;
  const clock = new FakeClock();
  before(async () => {
    ca = await startTestCa(
      base({ failed_validations: 2, failed_validations_window: '1h', pending_authorizations: 3 }),
      { clock },
    );
  });
  after(() => ca.close());

  it('refuses new orders for a name that failed validation too often, until the hour has passed', async () => {
    const client = await ca.account();
    const name = 'fails.example.localhost';
    for (let i = 0; i < 2; i++) {
      const { order } = await client.newOrder({ identifiers: [{ type: 'dns', value: name }] });
      await validate(ca, client, order.authorizations[0]!, false);
      clock.advance(MINUTE);
    }
    const e = await rateLimited(
      client.newOrder({ identifiers: [{ type: 'dns', value: name }] }),
      /too many failed validations of fails\.example\.localhost/,
    );
    assert.ok(e);
    // Other names, and other accounts for the same name, are not affected.
    await client.newOrder({ identifiers: [{ type: 'dns', value: 'other.example.localhost' }] });
    const other = await ca.account();
    const { order } = await other.newOrder({ identifiers: [{ type: 'dns', value: name }] });
    await other.deactivateAuthorization(order.authorizations[0]!);
    clock.advance(58 * MINUTE);
    const again = await client.newOrder({ identifiers: [{ type: 'dns', value: name }] });
    await validate(ca, client, again.order.authorizations[0]!);
  });

  it('refuses an order that would leave too many pending authorizations; deactivating frees them', async () => {
    const client = await ca.account();
    const { order } = await client.newOrder({
      identifiers: ['p1', 'p2', 'p3'].map((n) => ({ type: 'dns', value: `${n}.example.localhost` })),
    });
    await rateLimited(
      client.newOrder({ identifiers: [{ type: 'dns', value: 'p4.example.localhost' }] }),
      /too many pending authorizations for this account: at most 3/,
    );
    await client.deactivateAuthorization(order.authorizations[0]!);
    await client.newOrder({ identifiers: [{ type: 'dns', value: 'p4.example.localhost' }] });
  });
});

describe('rate limits: certificates per registered domain and duplicate certificates', () => {
  let ca: TestCa;
  const clock = new FakeClock();
  before(async () => {
    ca = await startTestCa(
      base({
        certificates_per_domain: 2,
        certificates_per_domain_window: '2h',
        duplicate_certificates: 1,
        duplicate_certificates_window: '1h',
        public_suffixes: ['suffix.localhost'],
      }),
      { clock },
    );
  });
  after(() => ca.close());

  it('counts certificates per registered domain at finalization; the order stays ready to retry', async () => {
    const client = await ca.account();
    for (const name of ['a.one.suffix.localhost', 'b.one.suffix.localhost']) {
      const { order } = await readyOrder(ca, client, [name]);
      assert.equal((await finalize(client, order, [name])).status, 'valid');
    }
    const names = ['c.one.suffix.localhost'];
    const { url, order } = await readyOrder(ca, client, names);
    await rateLimited(
      finalize(client, order, names),
      /too many certificates for one\.suffix\.localhost: at most 2 per 2h/,
    );
    assert.equal((await client.getOrder(url)).status, 'ready', 'a refused finalization changes nothing');
    // Another registered domain under the public suffix is counted apart.
    const other = await readyOrder(ca, client, ['a.two.suffix.localhost']);
    assert.equal((await finalize(client, other.order, ['a.two.suffix.localhost'])).status, 'valid');
    clock.advance(2 * 60 * MINUTE);
    assert.equal((await finalize(client, order, names)).status, 'valid');
  });

  it('refuses a second certificate for exactly the same names within the window', async () => {
    const client = await ca.account();
    const names = ['dup.three.suffix.localhost', 'www.three.suffix.localhost'];
    const first = await readyOrder(ca, client, names);
    assert.equal((await finalize(client, first.order, names)).status, 'valid');
    const second = await readyOrder(ca, client, [...names].reverse());
    await rateLimited(finalize(client, second.order, names), /exactly this set of names/);
    // A different set of names is no duplicate.
    const third = await readyOrder(ca, client, [names[0]!]);
    assert.equal((await finalize(client, third.order, [names[0]!])).status, 'valid');
    // Both windows (duplicates 1h, the registered domain 2h) pass.
    clock.advance(2 * 60 * MINUTE);
    assert.equal((await finalize(client, second.order, names)).status, 'valid');
  });
});
