#!/usr/bin/env node
/**
 * The `akamu` command (the commands themselves: cli.ts). Loading them compiles the server, Fastify, Kysely
 * and the database drivers, most of a command's start-up; Node's compile cache keeps that work between
 * runs, in a directory only this user can write (lib/compile-cache.ts, docs/cli.md).
 */
import { enableCompileCache } from 'node:module';
import { homedir } from 'node:os';
import { compileCacheDir, ensurePrivateDirectory } from './lib/compile-cache.ts';

let home: string | undefined;
try {
  home = homedir();
} catch {
  // No home directory: no cache unless AKAMU_COMPILE_CACHE or XDG_CACHE_HOME names one.
}
const cacheDir = compileCacheDir(process.env, home);
if (cacheDir && ensurePrivateDirectory(cacheDir)) enableCompileCache(cacheDir);
await import('./cli.ts');
