import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { AcmeClient, createCsr, generateKey, Http01Solver, HttpTransport } from '@akamu/client';
import { pemToDer } from '@akamu/protocol';
import pg from 'pg';
import { type AkamuProcess, freePort, startAkamu } from '../helpers/akamu-process.ts';
import { backendSkipReason, type ProvisionedDatabase, provisionDatabase } from '../support/databases.ts';

/**
 * Several nodes, one truth (docs/clustering.md): three akamu processes share one PostgreSQL database
 * behind a round-robin load balancer that sends every request to the next node — the nonce comes from
 * one node and the JWS goes to another. One node is killed with SIGKILL in the middle of a load of
 * issuances; afterwards no order and no challenge is left processing, every issued certificate is
 * downloadable from every node, and no serial appears twice.
 */

/** A TLS-terminating-proxy stand-in: plain HTTP in, each request forwarded to the next live node. */
class RoundRobin {
  readonly #server: http.Server;
  #next = 0;
  readonly ports: number[] = [];
  readonly dead = new Set<number>();
  constructor() {
    this.#server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', () => this.#forward(req, Buffer.concat(chunks), res, 0));
    });
  }
  async listen(): Promise<number> {
    await new Promise<void>((r) => this.#server.listen(0, '127.0.0.1', r));
    return (this.#server.address() as AddressInfo).port;
  }
  #forward(req: http.IncomingMessage, body: Buffer, res: http.ServerResponse, tries: number): void {
    const live = this.ports.filter((p) => !this.dead.has(p));
    const port = live[this.#next++ % live.length]!;
    const out = http.request(
      { host: '127.0.0.1', port, path: req.url, method: req.method, headers: req.headers, timeout: 20_000 },
      (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      },
    );
    out.on('error', () => {
      if (tries < 3) this.#forward(req, body, res, tries + 1);
      else res.writeHead(502).end();
    });
    out.end(body);
  }
  close(): Promise<void> {
    this.#server.closeAllConnections();
    return new Promise((r) => this.#server.close(() => r()));
  }
}

const EAB_KEY = Buffer.alloc(32, 7);

describe('three nodes on one PostgreSQL database', async () => {
  const skip = await backendSkipReason('postgres');
  let database: ProvisionedDatabase;
  let lb: RoundRobin;
  let solver: Http01Solver;
  const nodes: AkamuProcess[] = [];
  let directoryUrl = '';
  let chainFile = '';

  before(async () => {
    if (skip) return;
    database = await provisionDatabase('postgres');
    solver = new Http01Solver({ port: 0, host: '127.0.0.1' });
    await solver.start();
    lb = new RoundRobin();
    const lbPort = await lb.listen();
    const common = {
      server: { behind_proxy: true, base_url: `http://127.0.0.1:${lbPort}` },
      database: { url: database.url },
      va: { http01_port: solver.port, timeout: '2s' },
      cluster: { sweep_interval: '500ms', abandoned_after: '3s' },
      acme: { poll_hold: '0s' },
      eab: { keys: { 'race-key': { hmac_key: EAB_KEY.toString('base64url') } } },
    };
    const ports = [await freePort(), await freePort(), await freePort()];
    lb.ports.push(...ports);
    const server = (i: number) => ({ ...common.server, port: ports[i] });
    // The first node generates the CA; the others issue from the same intermediate.
    nodes.push(
      await startAkamu({
        config: { ...common, server: server(0), cluster: { ...common.cluster, node_id: 'node-1' } },
      }),
    );
    const caDir = path.join(nodes[0]!.dataDir, 'ca');
    chainFile = path.join(mkdtempSync(path.join(tmpdir(), 'akamu-cluster-')), 'chain.pem');
    writeFileSync(
      chainFile,
      readFileSync(path.join(caDir, 'intermediate.pem'), 'utf8') +
        readFileSync(path.join(caDir, 'root.pem'), 'utf8'),
    );
    for (const i of [1, 2]) {
      nodes.push(
        await startAkamu({
          config: {
            ...common,
            server: server(i),
            cluster: { ...common.cluster, node_id: `node-${i + 1}` },
            ca: { issuer_key_file: path.join(caDir, 'intermediate.key.pem'), issuer_cert_file: chainFile },
          },
        }),
      );
    }
    directoryUrl = nodes[0]!.directoryUrl;
  });

  after(async () => {
    if (skip) return;
    for (const n of [...nodes].reverse()) await n.stop();
    await lb.close();
    await solver.stop();
    await database.drop();
  });

  it('consumes an EAB key exactly once when new-account requests race on different nodes', {
    skip,
  }, async () => {
    const transport = new HttpTransport({ timeoutMs: 20_000 });
    const attempts = Array.from({ length: 9 }, () =>
      new AcmeClient({ directoryUrl, accountKey: generateKey('ec:P-256'), transport })
        .newAccount({ externalAccountBinding: { kid: 'race-key', hmacKey: EAB_KEY } })
        .then(() => 'created')
        .catch((e: { type?: string }) => e.type ?? String(e)),
    );
    const outcomes = await Promise.all(attempts);
    assert.equal(outcomes.filter((o) => o === 'created').length, 1, outcomes.join(', '));
    assert.ok(
      outcomes.filter((o) => o !== 'created').every((o) => o === 'urn:ietf:params:acme:error:unauthorized'),
    );
    const client = new pg.Client({ connectionString: database.url });
    await client.connect();
    try {
      const bound = await client.query("select count(*)::int as n from accounts where eab_kid = 'race-key'");
      assert.equal(bound.rows[0].n, 1, 'exactly one account bound to the key');
    } finally {
      await client.end();
    }
    transport.close();
  });

  it('serves one truth through every node and survives losing one mid-load', { skip }, async () => {
    const transport = new HttpTransport({ timeoutMs: 20_000 });
    const issued: { url: string; pem: string; client: AcmeClient }[] = [];
    const failures: string[] = [];
    const flow = async (i: number) => {
      const client = new AcmeClient({ directoryUrl, accountKey: generateKey('ec:P-256'), transport });
      const name = `n${i}.cluster.localhost`;
      try {
        await client.newAccount({});
        const { url, order } = await client.newOrder({ identifiers: [{ type: 'dns', value: name }] });
        const authz = await client.getAuthorization(order.authorizations[0]!);
        const ch = authz.challenges.find((c) => c.type === 'http-01')!;
        await solver.present(authz.identifier, ch, client.keyAuthorization(ch.token));
        await client.respondChallenge(ch.url);
        await client.waitForAuthorization(order.authorizations[0]!, { timeoutMs: 15_000 });
        const key = generateKey('ec:P-256');
        const fin = await client.finalize(order, createCsr({ key, dnsNames: [name] }));
        const valid =
          fin.status === 'valid' ? fin : await client.waitForOrder(url, ['valid'], { timeoutMs: 15_000 });
        issued.push({
          url: valid.certificate!,
          pem: (await client.downloadCertificate(valid.certificate!)).pem,
          client,
        });
      } catch (e) {
        failures.push(`${name}: ${(e as Error).message}`);
      }
    };
    // 36 issuances, 6 at a time; the second node dies with SIGKILL a third of the way through.
    let next = 0;
    const killer = (async () => {
      while (issued.length < 8) await new Promise((r) => setTimeout(r, 20));
      const victim = nodes[1]!;
      lb.dead.add(lb.ports[1]!);
      process.kill(victim.pid, 'SIGKILL');
    })();
    await Promise.all(
      Array.from({ length: 6 }, async () => {
        while (next < 36) await flow(next++);
      }),
    );
    await killer;
    assert.ok(
      issued.length >= 24,
      `most issuances succeed despite the lost node (${issued.length}/36; ${failures.join('; ')})`,
    );

    // Abandoned work is taken over: wait past abandoned_after plus a sweep.
    await new Promise((r) => setTimeout(r, 5_000));
    const client = new pg.Client({ connectionString: database.url });
    await client.connect();
    try {
      const stuckOrders = await client.query("select id from orders where status = 'processing'");
      const stuckChallenges = await client.query("select id from challenges where status = 'processing'");
      assert.equal(stuckOrders.rowCount, 0, 'no order left processing');
      assert.equal(stuckChallenges.rowCount, 0, 'no challenge left processing');
      const invalidWithoutReason = await client.query(
        "select o.id from orders o where o.status = 'invalid' and o.error is null and not exists (select 1 from authorizations a where a.status in ('invalid','deactivated') and o.authorization_ids like '%' || a.id || '%')",
      );
      assert.equal(invalidWithoutReason.rowCount, 0, 'every invalid order says why');
      const serials = await client.query(
        'select serial, count(*) as n from certificates group by serial having count(*) > 1',
      );
      assert.equal(serials.rowCount, 0, 'no serial twice');
    } finally {
      await client.end();
    }

    // Every certificate downloads, identical, from every surviving node (round robin), and chains to the CA.
    for (const cert of issued) {
      for (let k = 0; k < 2; k++) {
        const again = await cert.client.downloadCertificate(cert.url);
        assert.equal(again.pem, cert.pem);
      }
      const [leaf, issuer] = pemToDer(cert.pem);
      assert.ok(new X509Certificate(leaf!).verify(new X509Certificate(issuer!).publicKey));
    }
    transport.close();
  });
});
