/**
 * `npm test`: the static checks (`tsc --noEmit`, `biome check`), then the whole suite on SQLite, then the ACME integration and interop suites again on PostgreSQL
 * and on MariaDB (TEST_DB_BACKEND), each against a fresh database. Under CI=true an unreachable
 * PostgreSQL or MariaDB fails the run; elsewhere those runs are skipped with a message saying how to
 * enable them. Extra arguments are passed to node --test (e.g. a file list) and limit the run to SQLite,
 * without the static checks.
 */
import { spawn } from 'node:child_process';
import { globSync } from 'node:fs';
import { type Backend, backendSkipReason } from '../test/support/databases.ts';

const ALL = ['packages/*/test/**/*.test.ts', 'test/**/*.test.ts'];
const PER_BACKEND = ['packages/server/test/integration/**/*.test.ts', 'test/interop/**/*.test.ts'];

function files(patterns: string[]): string[] {
  return patterns.flatMap((p) => globSync(p)).sort();
}

function run(backend: Backend, testFiles: string[]): Promise<{ pass: number; fail: number; code: number }> {
  process.stdout.write(`\n=== npm test: ${testFiles.length} files on ${backend} ===\n`);
  const child = spawn(
    process.execPath,
    ['--test', '--test-concurrency=1', '--test-timeout=300000', ...testFiles],
    { env: { ...process.env, TEST_DB_BACKEND: backend }, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  let tail = '';
  child.stdout.on('data', (chunk: Buffer) => {
    process.stdout.write(chunk);
    tail = (tail + chunk.toString()).slice(-2_000_000);
  });
  return new Promise((resolve) =>
    child.on('close', (code) => {
      // The runner's own summary (ℹ pass N …) precedes its list of failures: take the last one.
      const count = (name: string) =>
        Number([...tail.matchAll(new RegExp(`^ℹ ${name} (\\d+)$`, 'gm'))].at(-1)?.[1] ?? 0);
      resolve({ pass: count('pass'), fail: count('fail'), code: code ?? 1 });
    }),
  );
}

/** A static check (npm puts node_modules/.bin first on PATH): true when it exits 0. */
function check(name: string, command: string, args: string[]): Promise<boolean> {
  process.stdout.write(`\n=== npm test: ${name} (${[command, ...args].join(' ')}) ===\n`);
  const child = spawn(command, args, { stdio: ['ignore', 'inherit', 'inherit'] });
  return new Promise((resolve) => {
    child.once('error', (e) => {
      process.stdout.write(`cannot run ${command}: ${e.message}\n`);
      resolve(false);
    });
    child.once('close', (code) => resolve(code === 0));
  });
}

const explicit = process.argv.slice(2);
const staticFailures: string[] = [];
if (explicit.length === 0) {
  if (!(await check('typecheck', 'tsc', ['--noEmit', '-p', 'tsconfig.json'])))
    staticFailures.push('typecheck');
  if (!(await check('lint', 'biome', ['check', '.']))) staticFailures.push('lint');
}
const results: { backend: Backend; pass: number; fail: number; code: number }[] = [];
results.push({ backend: 'sqlite', ...(await run('sqlite', explicit.length > 0 ? explicit : files(ALL))) });
if (explicit.length === 0) {
  for (const backend of ['postgres', 'mariadb'] as const) {
    let skip: string | undefined;
    try {
      skip = await backendSkipReason(backend);
    } catch (e) {
      process.stdout.write(`\n${(e as Error).message}\n`);
      results.push({ backend, pass: 0, fail: 1, code: 1 });
      continue;
    }
    if (skip) continue;
    results.push({ backend, ...(await run(backend, files(PER_BACKEND))) });
  }
}

const pass = results.reduce((n, r) => n + r.pass, 0);
const fail = results.reduce((n, r) => n + r.fail, 0);
process.stdout.write(
  `\n${results.map((r) => `${r.backend}: ${r.pass} passed, ${r.fail} failed`).join('; ')}\n`,
);
process.stdout.write(`tests: ${pass} passed, ${fail} failed\n`);
if (staticFailures.length > 0) process.stdout.write(`static checks failed: ${staticFailures.join(', ')}\n`);
process.exitCode = results.some((r) => r.code !== 0) || staticFailures.length > 0 ? 1 : 0;
