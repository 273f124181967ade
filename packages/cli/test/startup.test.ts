import assert from 'node:assert/strict';
import {
  chmodSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { compileCacheDir, ensurePrivateDirectory } from '../src/lib/compile-cache.ts';
import { runCli } from './helpers/run-cli.ts';

const tmp = () => mkdtempSync(path.join(tmpdir(), 'akamu-cc-'));

describe('compile cache of the akamu command (lib/compile-cache.ts)', () => {
  it('AKAMU_COMPILE_CACHE, then $XDG_CACHE_HOME, then ~/.cache; "off" and nothing usable give none', () => {
    assert.equal(compileCacheDir({ AKAMU_COMPILE_CACHE: 'off', XDG_CACHE_HOME: '/x' }, '/home/u'), undefined);
    assert.equal(compileCacheDir({ AKAMU_COMPILE_CACHE: '/srv/cc' }, '/home/u'), '/srv/cc');
    assert.equal(compileCacheDir({ AKAMU_COMPILE_CACHE: 'rel' }, '/home/u'), path.resolve('rel'));
    assert.equal(compileCacheDir({ XDG_CACHE_HOME: '/x' }, '/home/u'), '/x/akamu/compile-cache');
    // A relative XDG_CACHE_HOME is invalid (XDG Base Directory) and ignored.
    assert.equal(compileCacheDir({ XDG_CACHE_HOME: 'x' }, '/home/u'), '/home/u/.cache/akamu/compile-cache');
    assert.equal(compileCacheDir({}, '/home/u'), '/home/u/.cache/akamu/compile-cache');
    assert.equal(compileCacheDir({}, undefined), undefined);
    assert.equal(compileCacheDir({}, ''), undefined);
  });

  it('caches only in a directory this user alone can write: created 0700, never a shared or linked one', () => {
    const root = tmp();
    const fresh = path.join(root, 'a', 'b');
    assert.equal(ensurePrivateDirectory(fresh), true);
    assert.equal(statSync(fresh).mode & 0o777, 0o700);
    const shared = path.join(root, 'shared');
    mkdirSync(shared);
    chmodSync(shared, 0o777);
    assert.equal(ensurePrivateDirectory(shared), false);
    const groupWritable = path.join(root, 'group');
    mkdirSync(groupWritable);
    chmodSync(groupWritable, 0o770);
    assert.equal(ensurePrivateDirectory(groupWritable), false);
    const link = path.join(root, 'link');
    symlinkSync(fresh, link);
    assert.equal(ensurePrivateDirectory(link), false);
    const file = path.join(root, 'file');
    writeFileSync(file, '');
    assert.equal(ensurePrivateDirectory(file), false);
  });

  it('the command fills the cache it is given, and runs without one in a shared directory', async () => {
    const own = path.join(tmp(), 'cc');
    const first = await runCli(['--version'], { env: { AKAMU_COMPILE_CACHE: own } });
    assert.equal(first.code, 0, first.stderr);
    assert.equal(first.stdout.trim(), '0.1.0');
    assert.equal(statSync(own).mode & 0o777, 0o700);
    const entries = readdirSync(own, { recursive: true });
    assert.ok(entries.length > 1, `cache entries: ${entries.join(', ')}`);

    const shared = path.join(tmp(), 'shared');
    mkdirSync(shared);
    chmodSync(shared, 0o777);
    const second = await runCli(['--version'], { env: { AKAMU_COMPILE_CACHE: shared } });
    assert.equal(second.code, 0, second.stderr);
    assert.equal(second.stdout.trim(), '0.1.0');
    assert.deepEqual(readdirSync(shared), []);
  });
});

describe('the client commands never load the server (lib/server.ts)', () => {
  // A module hook (node:module registerHooks) in the child reports every module of packages/server it loads.
  const hook = path.join(tmp(), 'report-server-modules.mjs');
  writeFileSync(
    hook,
    `import { registerHooks } from 'node:module';
registerHooks({
  resolve(specifier, context, nextResolve) {
    const result = nextResolve(specifier, context);
    if (result.url.includes('/packages/server/src/')) process.stderr.write('loaded-server-module\\n');
    return result;
  },
});
`,
  );
  const run = (args: string[]) =>
    runCli(args, { env: { NODE_OPTIONS: `--import=${hook}`, AKAMU_COMPILE_CACHE: 'off' } });

  it('akamu --version and the client and daemon commands start without @akamu/server', async () => {
    for (const args of [['--version'], ['certificate', 'obtain', '--help'], ['daemon', '--help']]) {
      const r = await run(args);
      assert.equal(r.code, 0, r.stderr);
      assert.ok(!r.stderr.includes('loaded-server-module'), `${args.join(' ')} loaded the server`);
    }
  });

  it('a server command loads it when it runs (the hook sees it), with AKAMU_COMPILE_CACHE set', async () => {
    const dataDir = path.join(tmp(), 'data');
    const r = await run(['ca', 'init', '--data-dir', dataDir, '--json']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.json?.ok, true);
    assert.ok(r.stderr.includes('loaded-server-module'));
  });
});
