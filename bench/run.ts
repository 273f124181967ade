/**
 * `npm run bench`: complete ACME issuances against akamu, Pebble and Caddy on loopback, one server at a
 * time, at several concurrencies; prints issuances/s, latency percentiles and server CPU per issuance,
 * the akamu-vs-peer ratios, and writes everything to .bench/results.json. See docs/benchmarks.md.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Http01Solver } from '@akamu/client';
import { clockTicksPerSecond } from './cpu.ts';
import { errorRecord, measure, record } from './measure.ts';
import {
  formatPrimitives,
  measurePrimitives,
  type PrimitivesReport,
  primitivesBenchEnabled,
} from './primitives.ts';
import {
  computeRatios,
  computeRoundRatios,
  formatRatios,
  formatResults,
  type RunRecord,
  runSummary,
  summarizeRounds,
} from './report.ts';
import {
  benchRevocation,
  formatRevocation,
  type RevocationBenchResult,
  revocationBenchEnabled,
} from './revocation.ts';
import { settings } from './settings.ts';
import { akamu, akamuMariadb, akamuPostgres, akamuPostgres3 } from './targets/akamu.ts';
import { caddy } from './targets/caddy.ts';
import { killAllChildren } from './targets/child.ts';
import { akamuFloor } from './targets/floor.ts';
import { pebble } from './targets/pebble.ts';
import type { RunningTarget, TargetDefinition } from './targets/target.ts';

const repoRoot = fileURLToPath(new URL('../', import.meta.url));
const TARGETS: TargetDefinition[] = [
  akamu,
  pebble,
  caddy,
  akamuPostgres,
  akamuMariadb,
  akamuPostgres3,
  akamuFloor,
];

const log = (message: string) => process.stderr.write(`[bench] ${message}\n`);

/** Every run against one server. A stalled or crashed server is restarted (and warmed up) for the next run. */
async function benchTarget(target: TargetDefinition, workRoot: string): Promise<RunRecord[]> {
  const records: RunRecord[] = [];
  await target.prepare?.();
  const unavailable = target.unavailable();
  if (unavailable) {
    log(`${target.name}: skipped, ${unavailable}`);
    return settings.runs.map((r) => errorRecord(target.name, r.concurrency, r.flows, 'skipped', unavailable));
  }
  const solver = new Http01Solver({ port: target.http01Port });
  let server: RunningTarget | undefined;
  let starts = 0;
  let warmedUp = 0;
  try {
    await solver.start();
  } catch (error) {
    const note = `http-01 responder cannot listen on port ${target.http01Port}: ${(error as Error).message}`;
    log(`${target.name}: ${note}`);
    return settings.runs.map((r) => errorRecord(target.name, r.concurrency, r.flows, 'error', note));
  }
  try {
    for (const [i, run] of settings.runs.entries()) {
      if (!server?.child.running) {
        const workDir = path.join(workRoot, `${target.name}-${++starts}`);
        mkdirSync(workDir, { recursive: true });
        log(`${target.name}: starting (http-01 responder on port ${solver.port})`);
        try {
          server = await target.start({ workDir, http01Port: solver.port });
        } catch (error) {
          // A server that does not start will not start for the next run either.
          const message = (error instanceof Error ? error.message : String(error)).split('\n')[0]!;
          log(`${target.name}: cannot start: ${error instanceof Error ? error.message : String(error)}`);
          for (const r of settings.runs.slice(i)) {
            records.push(
              errorRecord(target.name, r.concurrency, r.flows, 'error', `cannot start: ${message}`),
            );
          }
          break;
        }
        log(`${target.name}: ${server.directoryUrl} (pid ${server.pid})`);
      }
      try {
        if (starts > warmedUp) {
          warmedUp = starts;
          if (settings.warmupFlows > 0 && settings.warmupSeconds > 0) {
            const warm = await measure(
              server,
              solver,
              settings.warmupFlows,
              settings.warmupConcurrency,
              settings.warmupSeconds * 1000,
            );
            const w = warm.load;
            log(
              `${target.name}: warm-up ${w.completed} flows in ${(w.elapsedMs / 1000).toFixed(1)} s, ${w.failed} failed${w.stalled ? ', STALLED' : ''}`,
            );
            if (w.stalled || w.aborted) {
              const r = record(target.name, run.concurrency, warm);
              records.push({
                ...r,
                planned: run.flows,
                completed: 0,
                note: `during warm-up: ${runSummary(r)}`,
              });
              continue;
            }
          }
        }
        log(`${target.name}: ${run.flows} flows at concurrency ${run.concurrency}`);
        const r = record(
          target.name,
          run.concurrency,
          await measure(server, solver, run.flows, run.concurrency),
        );
        records.push(r);
        log(
          r.status === 'ok'
            ? `${target.name} c=${run.concurrency}: ${r.issuancesPerSecond?.toFixed(1)} iss/s, p50 ${r.p50Ms?.toFixed(0)} ms, ` +
                `server CPU ${r.serverCpuMsPerIssuance?.toFixed(2)} ms/iss${r.failed ? `, ${r.failed} failed` : ''}`
            : `${target.name} c=${run.concurrency}: ${runSummary(r)}`,
        );
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        log(`${target.name} c=${run.concurrency}: ERROR ${message}`);
        records.push(errorRecord(target.name, run.concurrency, run.flows, 'error', message.split('\n')[0]!));
        await server?.child.kill();
      }
    }
  } finally {
    await server?.stop();
    await solver.stop();
  }
  return records;
}

async function main(): Promise<void> {
  const unknown = settings.peers.filter((p) => !TARGETS.some((t) => t.name === p));
  if (unknown.length > 0) throw new Error(`BENCH_PEERS: unknown server ${unknown.join(', ')}`);
  const targets = TARGETS.filter((t) => settings.peers.includes(t.name));
  workRoot = mkdtempSync(path.join(tmpdir(), 'akamu-bench-'));
  const startedAt = new Date().toISOString();
  const records: RunRecord[] = [];
  let revocation: RevocationBenchResult | undefined;
  let primitives: PrimitivesReport | undefined;
  try {
    for (let round = 1; round <= settings.rounds; round++) {
      if (settings.rounds > 1) log(`round ${round} of ${settings.rounds}`);
      for (const target of targets) {
        for (const r of await benchTarget(target, workRoot)) records.push({ ...r, round });
      }
    }
    if (revocationBenchEnabled()) revocation = await benchRevocation(workRoot, log);
    if (primitivesBenchEnabled()) {
      log('primitives: signatures, HTTPS requests and SQLite statements, each alone');
      primitives = await measurePrimitives();
    }
  } finally {
    cleanUp();
  }
  const several = settings.rounds > 1;
  const shown = several ? summarizeRounds(records) : records;
  const ratios = several ? computeRoundRatios(records, settings.rounds) : computeRatios(records);
  // akamu against the calibration server (docs/benchmarks.md, "The floor"): what akamu's own work costs.
  const floor = ['akamu-floor'];
  const floorRatios = several
    ? computeRoundRatios(records, settings.rounds, floor)
    : computeRatios(records, 'akamu', floor);
  const environment = {
    node: process.version,
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model ?? 'unknown',
    clockTicksPerSecond: clockTicksPerSecond(),
    versions: Object.fromEntries(targets.map((t) => [t.name, t.unavailable() ? null : t.version()])),
  };
  const output = {
    startedAt,
    finishedAt: new Date().toISOString(),
    environment,
    settings: { ...settings, identifier: settings.identifier.name },
    results: records,
    ...(several ? { summary: shown } : {}),
    ratios,
    floorRatios,
    revocation,
    primitives,
  };
  const dir = path.join(repoRoot, '.bench');
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'results.json'), `${JSON.stringify(output, null, 2)}\n`);

  const lines = [
    '',
    `ACME issuance benchmark — ${environment.cpus} × ${environment.cpuModel}, node ${environment.node}, ` +
      `identifier ${settings.identifier.name}, new account per flow, new-nonce by ${settings.nonceMethod}`,
    `versions: ${Object.entries(environment.versions)
      .map(([k, v]) => `${k} ${v ?? '(not installed)'}`)
      .join(', ')}`,
    '',
    ...(several
      ? [`${settings.rounds} rounds; each figure is the median of the rounds that completed`, '']
      : []),
    formatResults(shown),
    '',
    several
      ? 'akamu ÷ peer, within each round, then the median (throughput > 1: akamu faster; CPU/iss < 1: akamu cheaper)'
      : 'akamu ÷ peer (throughput > 1: akamu faster; CPU/iss < 1: akamu cheaper)',
    formatRatios(ratios),
    '',
    ...(floorRatios.length > 0
      ? [
          "akamu ÷ akamu-floor, the same stack without storage or policy (CPU/iss > 1: what akamu's own work adds)",
          formatRatios(floorRatios),
          '',
        ]
      : []),
    ...(revocation ? [formatRevocation(revocation), ''] : []),
    ...(primitives ? [formatPrimitives(primitives), ''] : []),
    `written to ${path.relative(process.cwd(), path.join(dir, 'results.json')) || '.bench/results.json'}`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

let workRoot: string | undefined;

/** Kills every server and removes their temporary directories. Synchronous: safe in signal handlers. */
function cleanUp(): void {
  killAllChildren();
  if (workRoot !== undefined) rmSync(workRoot, { recursive: true, force: true });
  workRoot = undefined;
}

process.on('exit', cleanUp);

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    log(`${signal}: stopping`);
    cleanUp();
    process.exit(130);
  });
}

try {
  await main();
} catch (error) {
  cleanUp();
  process.stderr.write(`bench: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exitCode = 1;
}
