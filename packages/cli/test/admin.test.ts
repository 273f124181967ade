import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type AkamuProcess, freePort, startAkamu } from '../../../test/helpers/akamu-process.ts';
import { EXIT } from '../src/lib/exit-codes.ts';
import { runCli, show } from './helpers/run-cli.ts';

/**
 * `akamu admin …` against a real server started by the CLI (`akamu serve` in a child process): the first
 * administrator from `akamu admin bootstrap`, then every command group over the admin API.
 */

/** A member of the one JSON object a --json command printed (fails with the output when there is none). */
function field(r: Awaited<ReturnType<typeof runCli>>, key: string): unknown {
  assert.ok(r.json, show(r));
  return r.json[key];
}

describe('akamu admin', () => {
  let ca: AkamuProcess;
  let dir: string;
  let adminToken: string;
  let api: (tokenFile: string, args: string[]) => ReturnType<typeof runCli>;

  before(async () => {
    ca = await startAkamu({ config: { admin: { enabled: true } } });
    dir = mkdtempSync(path.join(tmpdir(), 'akamu-admin-cli-'));
    adminToken = path.join(dir, 'admin.token');
    const base = ca.directoryUrl.replace(/\/acme\/directory$/, '');
    api = (tokenFile, args) =>
      runCli(['admin', '--server', base, '--token-file', tokenFile, '--ca-bundle', ca.rootCertPath, ...args]);
  });
  after(() => ca?.stop());

  it('bootstraps the first administrator once', async () => {
    const r = await runCli(['admin', 'bootstrap', '-c', ca.configFile, '--token-out', adminToken, '--json']);
    assert.equal(r.code, EXIT.OK, show(r));
    assert.equal(statSync(adminToken).mode & 0o777, 0o600);
    assert.match(readFileSync(adminToken, 'utf8'), /^op-bootstrap\.[A-Za-z0-9_-]{43}\n$/);
    const again = await runCli(['admin', 'bootstrap', '-c', ca.configFile, '--json']);
    assert.equal(again.code, EXIT.CONFIG, show(again));
    const me = await api(adminToken, ['whoami', '--json']);
    assert.equal(me.code, EXIT.OK, show(me));
    assert.equal((field(me, 'result') as { role: string }).role, 'administrator');
  });

  it('manages operators, EAB keys, the CA, CRLs and statistics; refusals exit 5', async () => {
    const auditorToken = path.join(dir, 'auditor.token');
    const made = await api(adminToken, [
      'operators',
      'create',
      'cli-auditor',
      '--role',
      'auditor',
      '--token-out',
      auditorToken,
      '--json',
    ]);
    assert.equal(made.code, EXIT.OK, show(made));
    const refused = await api(auditorToken, ['eab', 'create', '--json']);
    assert.equal(refused.code, EXIT.ACME_PROBLEM, show(refused));
    assert.equal(
      (refused.json?.error as { kind: string } | undefined)?.kind,
      'admin_problem',
      'the problem is reported',
    );

    const created = await api(adminToken, ['eab', 'create', '--note', 'from the cli', '--json']);
    assert.equal(created.code, EXIT.OK, show(created));
    const kid = (field(created, 'result') as { kid: string }).kid;
    const unused = await api(auditorToken, ['eab', 'list', '--unused', '--json']);
    assert.ok(
      (field(unused, 'items') as { kid: string }[]).some((k) => k.kid === kid),
      show(unused),
    );
    assert.equal((await api(adminToken, ['eab', 'delete', kid])).code, EXIT.OK);

    const list = await api(auditorToken, ['operators', 'list']);
    assert.equal(list.code, EXIT.OK, show(list));
    assert.match(list.stdout, /cli-auditor {2}auditor/);

    const info = await api(auditorToken, ['ca', '--json']);
    assert.equal(info.code, EXIT.OK, show(info));
    assert.match((field(info, 'result') as { keyType: string }).keyType, /^ec:P-256$/);
    const crl = await api(adminToken, ['crl', 'regenerate', '--json']);
    assert.equal(crl.code, EXIT.OK, show(crl));
    assert.ok((field(crl, 'result') as { crlNumber: number }).crlNumber >= 1);
    const stats = await api(auditorToken, ['stats', '--json']);
    assert.equal((field(stats, 'result') as { operators: Record<string, number> }).operators.auditor, 1);
    const certs = await api(auditorToken, ['certificates', 'list', '--status', 'valid']);
    assert.equal(certs.code, EXIT.OK, show(certs));
    const missing = await api(auditorToken, ['certificates', 'show', 'abcdef', '--json']);
    assert.equal(missing.code, EXIT.ACME_PROBLEM, show(missing));
  });

  it('exits 2 without a token file, 4 when the server is unreachable, 64 on a usage error', async () => {
    const noFile = await api(path.join(dir, 'absent'), ['stats']);
    assert.equal(noFile.code, EXIT.CONFIG, show(noFile));
    const port = await freePort();
    const down = await runCli([
      'admin',
      '--server',
      `https://127.0.0.1:${port}`,
      '--token-file',
      adminToken,
      '--timeout',
      '5',
      'stats',
    ]);
    assert.equal(down.code, EXIT.NETWORK, show(down));
    const usage = await api(adminToken, ['operators', 'create', 'x']);
    assert.equal(usage.code, EXIT.USAGE, show(usage));
  });
});
