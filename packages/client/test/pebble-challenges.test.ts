/**
 * Issuance from a real Pebble with tls-alpn-01 and dns-01: Pebble's VA connects to our
 * TlsAlpn01Solver and resolves names through a real DNS server (test/support/dns-server.ts) that our
 * Rfc2136Solver and DnsHookSolver update. Pebble 2.4 has neither ARI nor STAR: the client must say so
 * with AcmeUnsupportedError before sending anything.
 */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { requireTool } from '../../../test/helpers/akamu-process.ts';
import { TestDnsServer } from '../../../test/support/dns-server.ts';
import {
  AcmeClient,
  AcmeUnsupportedError,
  DnsHookSolver,
  generateKey,
  Http01Solver,
  obtainCertificate,
  Rfc2136Solver,
  TlsAlpn01Solver,
  type TsigKey,
} from '../src/index.ts';
import { type Pebble, pebbleSkipReason, startPebble } from './pebble.ts';

const TSIG: TsigKey = {
  name: 'acme-update',
  algorithm: 'hmac-sha256',
  secret: Buffer.from('pebble-dns-shared-secret-0123456'),
};

function sans(pem: string): string[] {
  return (new X509Certificate(pem).subjectAltName ?? '').split(', ').sort();
}

describe('challenges against Pebble: tls-alpn-01, dns-01 (RFC 2136 and hooks), several solvers', {
  skip: pebbleSkipReason(),
  timeout: 180_000,
}, () => {
  const http = new Http01Solver({ port: 0, host: '127.0.0.1' });
  const alpn = new TlsAlpn01Solver({ port: 0, host: '127.0.0.1' });
  const clients: AcmeClient[] = [];
  let dns: TestDnsServer;
  let pebble: Pebble;
  let rfc2136: Rfc2136Solver;

  async function account(): Promise<AcmeClient> {
    const client = new AcmeClient({
      directoryUrl: pebble.directoryUrl,
      accountKey: generateKey('ec:P-256'),
      caBundle: pebble.caBundle,
    });
    clients.push(client);
    await client.newAccount({ termsOfServiceAgreed: true });
    return client;
  }

  before(async () => {
    dns = await TestDnsServer.start({
      tsig: { name: TSIG.name, algorithm: 'hmac-sha256', secret: TSIG.secret },
    });
    await http.start();
    await alpn.start();
    pebble = await startPebble({
      httpPort: http.port,
      tlsPort: alpn.port,
      dnsServer: `${dns.host}:${dns.port}`,
      env: { PEBBLE_AUTHZREUSE: '0' },
    });
    rfc2136 = new Rfc2136Solver({
      server: `${dns.host}:${dns.port}`,
      tsig: TSIG,
      propagationTimeoutMs: 10_000,
    });
  });

  after(async () => {
    for (const client of clients) client.close();
    await pebble?.stop();
    await alpn.stop();
    await http.stop();
    await dns?.stop();
  });

  test('tls-alpn-01: a DNS name (SNI) and an IP address', async () => {
    dns.setA('alpn.example.test', ['127.0.0.1']);
    const client = await account();
    const identifiers = [
      { type: 'dns', value: 'alpn.example.test' },
      { type: 'ip', value: '127.0.0.1' },
    ];
    const { certificatePem, orderUrl } = await obtainCertificate(client, { identifiers, solvers: [alpn] });
    assert.deepEqual(sans(certificatePem), ['DNS:alpn.example.test', 'IP Address:127.0.0.1']);
    const order = await client.getOrder(orderUrl);
    for (const url of order.authorizations) {
      const authz = await client.getAuthorization(url);
      assert.equal(authz.challenges.find((c) => c.status === 'valid')?.type, 'tls-alpn-01');
    }
  });

  test('dns-01 with Rfc2136Solver: a name and its wildcard share one TXT name; records are removed afterwards', async () => {
    const client = await account();
    const { certificatePem } = await obtainCertificate(client, {
      identifiers: [
        { type: 'dns', value: 'rfc2136.example.test' },
        { type: 'dns', value: '*.rfc2136.example.test' },
      ],
      solvers: [rfc2136],
    });
    assert.deepEqual(sans(certificatePem), ['DNS:*.rfc2136.example.test', 'DNS:rfc2136.example.test']);
    assert.deepEqual(await rfc2136.lookupTxt('_acme-challenge.rfc2136.example.test'), []);
  });

  test('dns-01 with DnsHookSolver running knsupdate hooks', async (t) => {
    if (!requireTool('knsupdate')) return t.skip('knsupdate is not installed');
    const dir = await mkdtemp(join(tmpdir(), 'akamu-hook-'));
    try {
      for (const action of ['add', 'delete']) {
        const script = `#!/bin/sh
set -e
printf 'server %s %s\\nkey hmac-sha256:%s:%s\\nzone example.test.\\nupdate ${action} %s. 60 TXT "%s"\\nsend\\n' \\
  "$DNS_HOST" "$DNS_PORT" "$TSIG_NAME" "$TSIG_SECRET" "$ACME_TXT_NAME" "$ACME_TXT_VALUE" | knsupdate
`;
        await writeFile(join(dir, `${action}.sh`), script);
        await chmod(join(dir, `${action}.sh`), 0o755);
      }
      const solver = new DnsHookSolver({
        deploy: join(dir, 'add.sh'),
        clean: join(dir, 'delete.sh'),
        timeoutMs: 10_000,
        env: {
          DNS_HOST: dns.host,
          DNS_PORT: String(dns.port),
          TSIG_NAME: TSIG.name,
          TSIG_SECRET: TSIG.secret.toString('base64'),
        },
      });
      const client = await account();
      const { certificatePem } = await obtainCertificate(client, {
        identifiers: [{ type: 'dns', value: 'hook.example.test' }],
        solvers: [solver],
      });
      assert.deepEqual(sans(certificatePem), ['DNS:hook.example.test']);
      assert.deepEqual(await rfc2136.lookupTxt('_acme-challenge.hook.example.test'), []);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('several solvers: the first whose type is offered wins; a wildcard falls through to dns-01', async () => {
    dns.setA('multi.example.test', ['127.0.0.1']);
    const client = await account();
    const { certificatePem, orderUrl } = await obtainCertificate(client, {
      identifiers: [
        { type: 'dns', value: 'multi.example.test' },
        { type: 'dns', value: '*.multi.example.test' },
        { type: 'ip', value: '127.0.0.1' },
      ],
      solvers: [http, alpn, rfc2136],
    });
    assert.deepEqual(sans(certificatePem), [
      'DNS:*.multi.example.test',
      'DNS:multi.example.test',
      'IP Address:127.0.0.1',
    ]);
    const used: Record<string, string | undefined> = {};
    for (const url of (await client.getOrder(orderUrl)).authorizations) {
      const authz = await client.getAuthorization(url);
      const key = `${authz.wildcard ? '*.' : ''}${authz.identifier.value}`;
      used[key] = authz.challenges.find((c) => c.status === 'valid')?.type;
    }
    assert.deepEqual(used, {
      'multi.example.test': 'http-01',
      '*.multi.example.test': 'dns-01',
      '127.0.0.1': 'http-01',
    });
  });

  test('Pebble 2.4 has no ARI and no STAR: AcmeUnsupportedError, nothing sent; the authenticated STAR download is a POST-as-GET', async () => {
    const client = await account();
    const { certificatePem, certificateUrl } = await obtainCertificate(client, {
      identifiers: [{ type: 'ip', value: '127.0.0.1' }],
      solvers: [http],
    });
    const before = client.transport.stats.requests;
    await assert.rejects(client.renewalInfo(certificatePem), (error: unknown) => {
      assert.ok(error instanceof AcmeUnsupportedError);
      assert.equal(error.code, 'ERR_ACME_UNSUPPORTED');
      assert.equal(error.feature, 'renewalInfo');
      return true;
    });
    await assert.rejects(
      client.newOrder({
        identifiers: [{ type: 'ip', value: '127.0.0.1' }],
        autoRenewal: { endDate: new Date(Date.now() + 86_400_000), lifetime: 3600 },
      }),
      (error: unknown) => error instanceof AcmeUnsupportedError && error.feature === 'auto-renewal',
    );
    assert.equal(client.transport.stats.requests, before);
    // A STAR certificate URL is fetched like any certificate URL when authenticated (RFC 8739 §3.3).
    const { pem } = await client.downloadStarCertificate(certificateUrl);
    assert.equal(pem, certificatePem);
  });
});
