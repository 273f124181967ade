import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, describe, it } from 'node:test';
import { AcmeClient, createCsr, generateKey, Http01Solver, HttpTransport } from '@akamu/client';
import { type AkamuProcess, freePort, startAkamu } from '../helpers/akamu-process.ts';

/**
 * Crash consistency on SQLite: akamu is killed with SIGKILL in the middle of a load of issuances and
 * started again on the same data directory. Nothing is half-written: no order or challenge stays
 * processing, every certificate that was issued is still served, no serial appears twice.
 */
describe('SIGKILL during a load on SQLite', () => {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'akamu-crash-'));
  let solver: Http01Solver;
  let node: AkamuProcess | undefined;
  after(async () => {
    await node?.stop();
    await solver?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('restarts with every invariant intact', async () => {
    solver = new Http01Solver({ port: 0, host: '127.0.0.1' });
    await solver.start();
    const port = await freePort();
    const config = {
      data_dir: dataDir,
      server: { port },
      database: { url: `sqlite:${path.join(dataDir, 'akamu.db')}` },
      va: { http01_port: solver.port, timeout: '2s' },
      cluster: { sweep_interval: '500ms', abandoned_after: '3s' },
    };
    node = await startAkamu({ config });
    const caBundle = readFileSync(node.rootCertPath, 'utf8');
    const directoryUrl = node.directoryUrl;
    const transport = new HttpTransport({ caBundle, timeoutMs: 5_000 });
    const issued: { url: string; pem: string; key: ReturnType<typeof generateKey> }[] = [];
    const flow = async (i: number) => {
      const accountKey = generateKey('ec:P-256');
      const client = new AcmeClient({ directoryUrl, accountKey, transport });
      const name = `c${i}.crash.localhost`;
      await client.newAccount({});
      const { order } = await client.newOrder({ identifiers: [{ type: 'dns', value: name }] });
      const authz = await client.getAuthorization(order.authorizations[0]!);
      const ch = authz.challenges.find((c) => c.type === 'http-01')!;
      await solver.present(authz.identifier, ch, client.keyAuthorization(ch.token));
      await client.respondChallenge(ch.url);
      await client.waitForAuthorization(order.authorizations[0]!, { timeoutMs: 5_000 });
      const fin = await client.finalize(order, createCsr({ key: generateKey('ec:P-256'), dnsNames: [name] }));
      issued.push({
        url: fin.certificate!,
        pem: (await client.downloadCertificate(fin.certificate!)).pem,
        key: accountKey,
      });
    };
    let next = 0;
    const load = Promise.allSettled(
      Array.from({ length: 6 }, async () => {
        while (next < 200) await flow(next++);
      }),
    );
    while (issued.length < 10) await new Promise((r) => setTimeout(r, 10));
    process.kill(node.pid, 'SIGKILL');
    await load;
    transport.close();
    const before = issued.length;

    node = await startAkamu({ config });
    await new Promise((r) => setTimeout(r, 4_500)); // past abandoned_after and a sweep
    const db = new DatabaseSync(path.join(dataDir, 'akamu.db'), { readOnly: true });
    try {
      const count = (sql: string) => Number((db.prepare(sql).get() as { n: number }).n);
      assert.equal(
        count("select count(*) as n from orders where status = 'processing'"),
        0,
        'no order left processing',
      );
      assert.equal(
        count("select count(*) as n from challenges where status = 'processing'"),
        0,
        'no challenge left processing',
      );
      assert.equal(
        count('select count(*) - count(distinct serial) as n from certificates'),
        0,
        'no serial twice',
      );
      assert.ok(
        count('select count(*) as n from certificates') >= before,
        'every issued certificate is still there',
      );
      assert.equal(
        count(
          "select count(*) as n from orders where status = 'valid' and certificate_id not in (select id from certificates)",
        ),
        0,
        'no valid order without its certificate',
      );
    } finally {
      db.close();
    }
    const check = new HttpTransport({ caBundle, timeoutMs: 5_000 });
    for (const cert of issued) {
      const client: AcmeClient = new AcmeClient({
        directoryUrl: node.directoryUrl,
        accountKey: cert.key,
        transport: check,
      });
      await client.newAccount({ onlyReturnExisting: true });
      assert.equal((await client.downloadCertificate(cert.url)).pem, cert.pem);
    }
    check.close();
  });
});
