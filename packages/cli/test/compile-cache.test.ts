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
import { compileCacheDir, isPrivateDirectory } from '../src/lib/compile-cache.ts';
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
    assert.equal(isPrivateDirectory(fresh), true);
    assert.equal(statSync(fresh).mode & 0o777, 0o700);
    const shared = path.join(root, 'shared');
    mkdirSync(shared);
    chmodSync(shared, 0o777);
    assert.equal(isPrivateDirectory(shared), false);
    const groupWritable = path.join(root, 'group');
    mkdirSync(groupWritable);
    chmodSync(groupWritable, 0o770);
    assert.equal(isPrivateDirectory(groupWritable), false);
    const link = path.join(root, 'link');
    symlinkSync(fresh, link);
    assert.equal(isPrivateDirectory(link), false);
    const file = path.join(root, 'file');
    writeFileSync(file, '');
    assert.equal(isPrivateDirectory(file), false);
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
