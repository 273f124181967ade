/**
 * One measured run against a started server: prepares the flows, reads the server's and the bench's CPU
 * around runLoad, and turns the outcome into a RunRecord.
 */
import { AcmeClient, generateKey, type Http01Solver, HttpTransport } from '@akamu/client';
import { connectionsOpened } from './connections.ts';
import { processTreeCpuMs } from './cpu.ts';
import { prepareFlows, runFlow } from './flow.ts';
import { type LoadResult, percentile, runLoad } from './load.ts';
import type { RunRecord } from './report.ts';
import { settings } from './settings.ts';
import type { RunningTarget } from './targets/target.ts';

export interface Measured {
  load: LoadResult;
  serverCpuMs: number | null;
  benchCpuMs: number;
  requests: number;
  connections: number;
  badNonceRetries: number;
}

/**
 * One measured (or warm-up) run against a started server. Kills the server if the run stalls. `durationMs`
 * time-boxes the run (no flow starts after it; `count` flows are prepared and remain the cap).
 */
export async function measure(
  server: RunningTarget,
  solver: Http01Solver,
  count: number,
  concurrency: number,
  durationMs?: number,
): Promise<Measured> {
  const transport = new HttpTransport({ caBundle: server.caBundle, timeoutMs: settings.flowTimeoutMs });
  try {
    // Like any ACME client that issues more than once, the bench reads the directory once per run.
    const directory = await new AcmeClient({
      directoryUrl: server.directoryUrl,
      accountKey: generateKey('ec:P-256'),
      transport,
    }).directory();
    const flows = prepareFlows(count, {
      directoryUrl: server.directoryUrl,
      directory,
      transport,
      identifierFor: settings.identifier.identifierFor,
    });
    let cpuAtStall: number | null = null;
    const cpu0 = processTreeCpuMs(server.pid);
    const bench0 = process.cpuUsage();
    const connections0 = connectionsOpened();
    const load = await runLoad({
      count,
      concurrency,
      durationMs,
      stallMs: settings.stallMs,
      flowTimeoutMs: settings.flowTimeoutMs,
      flow: (i, signal) =>
        runFlow(flows[i]!, solver, {
          signal,
          waitTimeoutMs: settings.flowTimeoutMs,
          nonceMethod: settings.nonceMethod,
        }).finally(() => {
          flows[i] = undefined as never; // let the keys go
        }),
      onStall: async () => {
        cpuAtStall = safeCpu(server.pid);
        await server.child.kill();
      },
    });
    const bench1 = process.cpuUsage(bench0);
    const cpu1 = load.stalled ? cpuAtStall : safeCpu(server.pid);
    return {
      load,
      serverCpuMs: cpu1 === null ? null : cpu1 - cpu0,
      benchCpuMs: (bench1.user + bench1.system) / 1000,
      requests: transport.stats.requests,
      connections: connectionsOpened() - connections0,
      badNonceRetries: transport.stats.badNonceRetries,
    };
  } finally {
    transport.close();
  }
}

function safeCpu(pid: number): number | null {
  try {
    return processTreeCpuMs(pid);
  } catch {
    return null;
  }
}

export function record(server: string, concurrency: number, m: Measured): RunRecord {
  const { load } = m;
  const n = load.completed;
  const status = load.stalled ? 'stalled' : load.aborted || n === 0 ? 'failed' : 'ok';
  const perIssuance = (v: number | null) => (v === null || n === 0 ? null : v / n);
  const ok = status === 'ok' && n > 0;
  return {
    server,
    concurrency,
    planned: load.count,
    completed: n,
    failed: load.failed,
    status,
    ...(load.stalled
      ? { note: `no flow finished for ${settings.stallMs / 1000} s; server killed` }
      : load.aborted
        ? { note: 'too many failures; run stopped' }
        : n === 0
          ? { note: 'no flow succeeded' }
          : {}),
    elapsedMs: load.elapsedMs,
    issuancesPerSecond: ok ? n / (load.elapsedMs / 1000) : null,
    p50Ms: ok ? percentile(load.latenciesMs, 50) : null,
    p99Ms: ok ? percentile(load.latenciesMs, 99) : null,
    serverCpuMs: m.serverCpuMs,
    serverCpuMsPerIssuance: ok ? perIssuance(m.serverCpuMs) : null,
    benchCpuMsPerIssuance: ok ? perIssuance(m.benchCpuMs) : null,
    requestsPerIssuance: ok ? perIssuance(m.requests) : null,
    connections: m.connections,
    badNonceRetries: m.badNonceRetries,
    errors: load.errors,
  };
}

export function errorRecord(
  server: string,
  concurrency: number,
  planned: number,
  status: 'error' | 'skipped',
  note: string,
): RunRecord {
  return {
    server,
    concurrency,
    planned,
    completed: 0,
    failed: 0,
    status,
    note,
    elapsedMs: 0,
    issuancesPerSecond: null,
    p50Ms: null,
    p99Ms: null,
    serverCpuMs: null,
    serverCpuMsPerIssuance: null,
    benchCpuMsPerIssuance: null,
    requestsPerIssuance: null,
    connections: 0,
    badNonceRetries: 0,
    errors: [],
  };
}
