import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { parse } from 'smol-toml';
import { parseDaemonConfig } from '../src/daemon/config.ts';
import { EXIT } from '../src/lib/exit-codes.ts';
import { runCli, show } from './helpers/run-cli.ts';

const DOCS = path.resolve(import.meta.dirname, '../../../docs');

function exampleToml(): string {
  const text = readFileSync(path.join(DOCS, 'daemon.md'), 'utf8');
  const section = text.slice(text.indexOf('## Example'));
  const match = /```toml\n([\s\S]+?)```/.exec(section);
  assert.ok(match, 'docs/daemon.md has a toml example');
  return match[1]!;
}

describe('docs/daemon.md and docs/cli.md', () => {
  it('the daemon example is a valid configuration, with what the text says it declares', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'akamu-docs-'));
    try {
      const file = path.join(dir, 'certificates.toml');
      writeFileSync(file, exampleToml());
      const cfg = parseDaemonConfig(parse(exampleToml()), file);
      assert.deepEqual(
        cfg.endpoint.map((e) => e.name),
        ['internal', 'letsencrypt', 'partner'],
      );
      assert.deepEqual(cfg.endpoint[0]!.rate_limit, { requests: 20, periodMs: 1000 });
      assert.equal(cfg.endpoint[2]!.eab?.kid, 'kid-1');
      assert.equal(cfg.account[0]!.key_file, '/var/lib/akamu-daemon/accounts/ops.key');
      const [www, wildcard, db] = cfg.certificate;
      assert.deepEqual(
        www!.identifier.map((i) => i.challenge),
        ['http-01', 'tls-alpn-01'],
      );
      assert.equal(www!.paths.key, '/etc/ssl/akamu/www/key.pem');
      assert.equal(wildcard!.identifier[0]!.challenge, 'dns-01');
      assert.equal(wildcard!.file_mode, 0o640);
      assert.equal(wildcard!.paths.key, '/etc/ssl/private/wildcard.key');
      assert.equal(db!.renew_before, 10 * 86_400_000);
      assert.deepEqual(db!.identifier[1], {
        ip: '10.0.0.5',
        challenge: 'http-01',
        http_port: 80,
        type: 'ip',
        value: '10.0.0.5',
      });
      assert.equal(cfg.check_interval, 3_600_000);

      const r = await runCli(['daemon', '-c', file, '--check-config']);
      assert.equal(r.code, 0, show(r));
      assert.match(r.stdout, /3 endpoints, 2 accounts, 3 certificates/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('docs/cli.md documents every command and every exit code', async () => {
    const text = readFileSync(path.join(DOCS, 'cli.md'), 'utf8');
    for (const code of Object.values(EXIT))
      assert.match(text, new RegExp(`^\\| ${code} \\|`, 'm'), `exit code ${code}`);
    const help = await runCli(['--help']);
    const commands = [
      ...help.stdout.slice(help.stdout.indexOf('Commands:')).matchAll(/^ {2}([a-z][a-z-]*)/gm),
    ]
      .map((m) => m[1]!)
      .filter((c) => c !== 'help');
    assert.ok(commands.length >= 6, help.stdout);
    for (const command of commands) assert.ok(text.includes(`akamu ${command}`), `akamu ${command}`);
    for (const sub of [
      'register',
      'show',
      'update',
      'rollover',
      'deactivate',
      'obtain',
      'renew',
      'revoke',
      'init',
    ])
      assert.ok(text.includes(sub), sub);
  });
});
