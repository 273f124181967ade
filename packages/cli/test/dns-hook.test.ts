import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { Resolver } from 'node:dns/promises';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { requireTool } from '../../../test/helpers/akamu-process.ts';
import { TestDnsServer } from '../../../test/support/dns-server.ts';
import { freePort, type Pebble, pebbleSkipReason, startPebble } from '../../client/test/pebble.ts';
import { runCli, show } from './helpers/run-cli.ts';

function sans(cert: X509Certificate): string[] {
  return (cert.subjectAltName ?? '').split(', ').sort();
}

/**
 * dns-01 through operator hooks, against Pebble resolving through a real DNS server: the hook is a
 * shell script that publishes and removes the TXT record with knsupdate (RFC 2136), as an operator's
 * would. Used by `certificate obtain --dns-hook` and by a daemon certificate with `challenge = "dns-01"`.
 */
describe('dns-01 hooks (CLI and daemon) against Pebble', {
  skip:
    pebbleSkipReason() ||
    (!requireTool('knsupdate') && 'knsupdate is not installed (apt-get install knot-dnsutils)'),
}, () => {
  let dns: TestDnsServer;
  let pebble: Pebble;
  let dir: string;
  let hook: string;
  let caBundle: string;
  let env: Record<string, string>;

  async function txt(name: string): Promise<string[]> {
    const resolver = new Resolver({ timeout: 2000, tries: 1 });
    resolver.setServers([`127.0.0.1:${dns.port}`]);
    try {
      return (await resolver.resolveTxt(name)).map((chunks) => chunks.join(''));
    } catch (error) {
      if (
        (error as NodeJS.ErrnoException).code === 'ENODATA' ||
        (error as NodeJS.ErrnoException).code === 'ENOTFOUND'
      )
        return [];
      throw error;
    }
  }

  before(async () => {
    dns = await TestDnsServer.start();
    pebble = await startPebble({
      httpPort: await freePort(),
      dnsServer: `${dns.host}:${dns.port}`,
      env: { PEBBLE_AUTHZREUSE: '0' },
    });
    dir = mkdtempSync(path.join(tmpdir(), 'akamu-dns-hook-'));
    caBundle = path.join(dir, 'pebble-tls.pem');
    writeFileSync(caBundle, pebble.caBundle);
    hook = path.join(dir, 'dns-hook.sh');
    writeFileSync(
      hook,
      `#!/bin/sh
set -e
if [ "$ACME_ACTION" = deploy ]; then op=add; else op=delete; fi
echo "$ACME_ACTION $1 $2" >> '${path.join(dir, 'dns-hook.log')}'
printf 'server %s %s\\nzone example.test.\\nupdate %s %s. 60 TXT "%s"\\nsend\\n' "$DNS_HOST" "$DNS_PORT" "$op" "$2" "$3" | knsupdate
`,
    );
    chmodSync(hook, 0o755);
    env = { DNS_HOST: dns.host, DNS_PORT: String(dns.port) };
  });
  after(async () => {
    await pebble?.stop();
    await dns?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('certificate obtain --dns-hook: a name and its wildcard; the records are removed afterwards', async () => {
    const key = ['--account-key', path.join(dir, 'account.key'), '--json'];
    const reg = await runCli([
      'account',
      'register',
      ...key,
      '--server',
      pebble.directoryUrl,
      '--ca-bundle',
      caBundle,
      '--agree-tos',
    ]);
    assert.equal(reg.code, 0, show(reg));
    const out = path.join(dir, 'wild');
    const r = await runCli(
      [
        'certificate',
        'obtain',
        ...key,
        '-d',
        'hook.example.test',
        '-d',
        '*.hook.example.test',
        '--dns-hook',
        hook,
        '--out-dir',
        out,
      ],
      { env },
    );
    assert.equal(r.code, 0, show(r));
    const cert = new X509Certificate(readFileSync(path.join(out, 'cert.pem')));
    assert.deepEqual(sans(cert), ['DNS:*.hook.example.test', 'DNS:hook.example.test']);
    const log = readFileSync(path.join(dir, 'dns-hook.log'), 'utf8');
    assert.match(log, /^deploy hook\.example\.test _acme-challenge\.hook\.example\.test$/m);
    assert.match(log, /^clean hook\.example\.test _acme-challenge\.hook\.example\.test$/m);
    assert.deepEqual(await txt('_acme-challenge.hook.example.test'), []);

    // A failing hook is a solver failure: exit 7.
    const failing = path.join(dir, 'fail.sh');
    writeFileSync(failing, '#!/bin/sh\necho "no DNS provider credentials" >&2\nexit 3\n');
    chmodSync(failing, 0o755);
    const bad = await runCli([
      'certificate',
      'obtain',
      ...key,
      '-d',
      'fails.example.test',
      '--dns-hook',
      failing,
      '--out-dir',
      path.join(dir, 'x'),
    ]);
    assert.equal(bad.code, 7, show(bad));
    assert.match(bad.stderr, /no DNS provider credentials/);
  });

  it('the daemon issues a dns-01 certificate through its dns_hook', async () => {
    const file = path.join(dir, 'certificates.toml');
    writeFileSync(
      file,
      `state_dir = "daemon"
[[endpoint]]
name = "pebble"
directory = "${pebble.directoryUrl}"
ca_bundle = "pebble-tls.pem"
tos_agreed = true
[[account]]
name = "ops"
endpoint = "pebble"
[[certificate]]
name = "wild"
account = "ops"
key_type = "ec:P-384"
identifier = [
  { dns = "daemon.example.test", challenge = "dns-01", dns_hook = "${hook}" },
  { dns = "*.daemon.example.test", challenge = "dns-01", dns_hook = "${hook}" },
]
`,
    );
    const r = await runCli(['daemon', '-c', file, '--once'], { env });
    assert.equal(r.code, 0, show(r));
    const cert = new X509Certificate(readFileSync(path.join(dir, 'daemon', 'certs', 'wild', 'cert.pem')));
    assert.deepEqual(sans(cert), ['DNS:*.daemon.example.test', 'DNS:daemon.example.test']);
    assert.deepEqual(await txt('_acme-challenge.daemon.example.test'), []);
  });
});
