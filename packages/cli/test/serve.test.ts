import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { startAkamu } from '../../../test/helpers/akamu-process.ts';

const MAIN = new URL('../src/main.ts', import.meta.url).pathname;

/** `akamu serve` as an operator runs it: a child process on the pinned Node (process.execPath). */
describe('akamu serve', () => {
  it('refuses a bad configuration with exit code 2 and a message naming the key', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'akamu-cli-'));
    const file = path.join(dir, 'akamu.toml');
    writeFileSync(file, '[server]\nport = "eighty"\nprot = 1\n');
    const r = spawnSync(process.execPath, [MAIN, 'serve', '-c', file], { encoding: 'utf8', timeout: 30_000 });
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /server\.port/);
    assert.match(r.stderr, /unknown key server\.prot/);
    const env = spawnSync(process.execPath, [MAIN, 'serve'], {
      encoding: 'utf8',
      timeout: 30_000,
      cwd: dir,
      env: { ...process.env, AKAMU_SERVER_PORTT: '1' },
    });
    assert.equal(env.status, 2, env.stderr);
    assert.match(env.stderr, /unknown key server\.portt/);
  });

  it('creates the data directory and CA on first start, prints the directory URL, and serves it', async () => {
    const ca = await startAkamu();
    try {
      assert.match(ca.directoryUrl, /^https:\/\/localhost:\d+\/acme\/directory$/);
      assert.equal(statSync(path.join(ca.dataDir, 'ca', 'root.key.pem')).mode & 0o777, 0o600);
      assert.equal(statSync(path.join(ca.dataDir, 'ca', 'intermediate.key.pem')).mode & 0o777, 0o600);
      assert.equal(statSync(ca.dataDir).mode & 0o777, 0o700);
      const r = spawnSync(
        'openssl',
        ['verify', '-CAfile', ca.rootCertPath, path.join(ca.dataDir, 'ca', 'intermediate.pem')],
        {
          encoding: 'utf8',
        },
      );
      assert.match(r.stdout, /OK/);
    } finally {
      await ca.stop();
    }
    // SIGTERM: a clean shutdown (requests finished, database closed) and exit 0, not the SIGKILL after 5 s.
    assert.deepEqual(ca.exit, { code: 0, signal: null }, ca.stderr);
  });
});
