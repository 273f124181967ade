/** The bench's settings, from BENCH_* environment variables (see docs/benchmarks.md). */
import { isIP } from 'node:net';
import type { Identifier } from '@akamu/protocol';

function intEnv(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0) throw new Error(`${name} must be a non-negative integer`);
  return value;
}

export const settings = {
  runs: [
    { concurrency: 1, flows: intEnv('BENCH_N1', 100) },
    { concurrency: 8, flows: intEnv('BENCH_N8', 300) },
    { concurrency: 32, flows: intEnv('BENCH_N32', 600) },
  ].filter((r) => r.flows > 0),
  /** Every server runs every concurrency once per round; rounds take turns, so drift hits all alike. */
  rounds: Math.max(1, intEnv('BENCH_ROUNDS', 1)),
  /**
   * After each server start, flows at concurrency 4 for `warmupSeconds` (at most `warmupFlows`), so every
   * server is measured in its steady state: akamu's V8 keeps optimizing for about a thousand flows, and the
   * bench's own client is JavaScript too (docs/benchmarks.md, "Warm-up").
   */
  warmupSeconds: intEnv('BENCH_WARMUP_SECONDS', 10),
  warmupFlows: intEnv('BENCH_WARMUP', 3000),
  warmupConcurrency: 4,
  stallMs: intEnv('BENCH_STALL_MS', 15_000),
  flowTimeoutMs: intEnv('BENCH_FLOW_TIMEOUT_MS', 30_000),
  peers: (
    process.env.BENCH_PEERS ?? 'akamu,pebble,caddy,akamu-postgres,akamu-mariadb,akamu-postgres-3,akamu-floor'
  )
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean),
  identifier: identifierStrategy(process.env.BENCH_IDENTIFIER),
  nonceMethod: nonceMethod(process.env.BENCH_NONCE_METHOD),
};

function nonceMethod(value: string | undefined): 'GET' | 'HEAD' {
  const method = (value || 'GET').toUpperCase();
  if (method !== 'GET' && method !== 'HEAD') throw new Error('BENCH_NONCE_METHOD must be GET or HEAD');
  return method;
}

/** BENCH_IDENTIFIER: `ip` (default, 127.0.0.1 for every flow) or `dns` (a unique *.localhost name each). */
export function identifierStrategy(value: string | undefined): {
  name: string;
  identifierFor: (i: number) => Identifier;
} {
  if (value === undefined || value === '' || value === 'ip') {
    return { name: 'ip 127.0.0.1', identifierFor: () => ({ type: 'ip', value: '127.0.0.1' }) };
  }
  if (value === 'dns') {
    const run = Date.now().toString(36);
    let n = 0;
    return {
      name: 'dns <unique>.bench.localhost',
      identifierFor: () => ({ type: 'dns', value: `f${n++}-${run}.bench.localhost` }),
    };
  }
  if (isIP(value)) return { name: `ip ${value}`, identifierFor: () => ({ type: 'ip', value }) };
  throw new Error(`BENCH_IDENTIFIER must be "ip", "dns" or an IP address, not "${value}"`);
}
