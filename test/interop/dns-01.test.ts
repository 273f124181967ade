/**
 * dns-01 interop: lego (`--dns rfc2136`) and certbot (`--manual` with an RFC 2136 hook sent by knsupdate)
 * obtain wildcard certificates from a real `akamu serve` whose `[dns] resolvers` is the test DNS server
 * (test/support/dns-server.ts), which the clients update with TSIG-signed dynamic updates.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type AkamuProcess, requireTool, startAkamu } from '../helpers/akamu-process.ts';
import { opensslDnsNames, opensslVerifyFullChain } from '../helpers/openssl.ts';
import { describeResult, runTool, type ToolResult } from '../helpers/run-tool.ts';
import { TestDnsServer } from '../support/dns-server.ts';

const HOOK = resolve(import.meta.dirname, 'hooks', 'rfc2136-hook.sh');
const tsig = { name: 'akamu-interop-key', algorithm: 'hmac-sha256' as const, secret: randomBytes(32) };

const legoSkip =
  requireTool('lego') && requireTool('openssl')
    ? false
    : 'lego or openssl not installed: apt-get install lego openssl';
const certbotSkip =
  requireTool('certbot') && requireTool('openssl') && requireTool('knsupdate') && requireTool('kdig')
    ? false
    : 'certbot, openssl or knsupdate not installed: apt-get install certbot openssl knot-dnsutils';

describe('dns-01 interop over RFC 2136 dynamic updates', { timeout: 300_000 }, () => {
  let dns: TestDnsServer;
  let akamu: AkamuProcess;
  let dir: string;

  before(async () => {
    if (legoSkip && certbotSkip) return;
    dns = await TestDnsServer.start({ tsig });
    dir = await mkdtemp(join(tmpdir(), 'akamu-dns01-'));
    akamu = await startAkamu({
      config: { dns: { resolvers: [`${dns.host}:${dns.port}`], timeout: '2s', tries: 2 } },
    });
  });

  after(async () => {
    await akamu?.stop();
    await dns?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  function assertOk(r: ToolResult): void {
    assert.equal(r.code, 0, describeResult(r, `\n--- akamu stderr ---\n${akamu.stderr}`));
  }

  test('lego --dns rfc2136 obtains a wildcard certificate', { skip: legoSkip }, async () => {
    const names = ['lego.interop.test', '*.lego.interop.test'];
    const r = await runTool(
      'lego',
      [
        '--server', akamu.directoryUrl,
        '--email', 'admin@example.com',
        '--accept-tos',
        '--path', join(dir, 'lego'),
        ...names.flatMap((n) => ['--domains', n]),
        '--dns', 'rfc2136',
        '--dns.resolvers', `${dns.host}:${dns.port}`,
        '--dns.disable-cp',
        'run',
      ], // biome-ignore format: one flag per line
      {
        env: {
          LEGO_CA_CERTIFICATES: akamu.rootCertPath,
          RFC2136_NAMESERVER: `${dns.host}:${dns.port}`,
          RFC2136_TSIG_ALGORITHM: 'hmac-sha256.',
          RFC2136_TSIG_KEY: `${tsig.name}.`,
          RFC2136_TSIG_SECRET: tsig.secret.toString('base64'),
          RFC2136_PROPAGATION_TIMEOUT: '30',
          RFC2136_POLLING_INTERVAL: '1',
          RFC2136_TTL: '1',
          // lego waits this long between the two records of a name (default 60 s).
          RFC2136_SEQUENCE_INTERVAL: '1',
        },
        timeoutMs: 120_000,
      },
    );
    assertOk(r);
    const certDir = join(dir, 'lego', 'certificates');
    await opensslVerifyFullChain(akamu.rootCertPath, join(certDir, 'lego.interop.test.crt'), dir, 'lego');
    assert.deepEqual(await opensslDnsNames(join(dir, 'lego.leaf.pem')), [...names].sort());
  });

  test('certbot --manual with an RFC 2136 hook obtains a wildcard certificate', {
    skip: certbotSkip,
  }, async () => {
    const names = ['certbot.interop.test', '*.certbot.interop.test'];
    const hookEnv = {
      REQUESTS_CA_BUNDLE: akamu.rootCertPath,
      DNS_HOOK_SERVER: dns.host,
      DNS_HOOK_PORT: String(dns.port),
      DNS_HOOK_ZONE: 'interop.test',
      DNS_HOOK_TSIG: `hmac-sha256:${tsig.name}:${tsig.secret.toString('base64')}`,
    };
    const r = await runTool(
      'certbot',
      [
        'certonly',
        '--non-interactive',
        '--agree-tos', '-m', 'admin@example.com',
        '--server', akamu.directoryUrl,
        '--config-dir', join(dir, 'certbot', 'config'),
        '--work-dir', join(dir, 'certbot', 'work'),
        '--logs-dir', join(dir, 'certbot', 'logs'),
        '--manual',
        '--preferred-challenges', 'dns',
        '--manual-auth-hook', `${HOOK} add`,
        '--manual-cleanup-hook', `${HOOK} delete`,
        '--cert-name', 'certbot-dns',
        ...names.flatMap((n) => ['-d', n]),
      ], // biome-ignore format: one flag per line
      { env: hookEnv, timeoutMs: 180_000 },
    );
    assertOk(r);
    const live = join(dir, 'certbot', 'config', 'live', 'certbot-dns');
    await opensslVerifyFullChain(akamu.rootCertPath, join(live, 'fullchain.pem'), dir, 'certbot');
    assert.deepEqual(await opensslDnsNames(join(dir, 'certbot.leaf.pem')), [...names].sort());
    // The cleanup hook removed the records it added.
    const left = await runTool('kdig', [
      '-p',
      String(dns.port),
      '@127.0.0.1',
      '_acme-challenge.certbot.interop.test',
      'TXT',
    ]);
    assert.match(left.stdout, /status: NXDOMAIN/, describeResult(left));
    assert.ok((await readdir(live)).includes('privkey.pem'));
  });
});
