/**
 * Runs `count` flows with at most `concurrency` in flight and measures them: completions per second,
 * latency percentiles, failures, and stalls (no flow completed for `stallMs`), after which the run stops.
 * With `durationMs`, no flow starts once that much time has passed (a time-boxed warm-up).
 */
import { performance } from 'node:perf_hooks';

export interface LoadOptions {
  count: number;
  concurrency: number;
  /** Runs flow `index`; rejects on failure. Must give up when `signal` aborts. */
  flow: (index: number, signal: AbortSignal) => Promise<void>;
  /** No completion (success or failure) for this long: the run is declared stalled. */
  stallMs: number;
  /** A single flow taking longer than this fails (and its signal aborts). */
  flowTimeoutMs: number;
  /** Called once, when the run is declared stalled (e.g. to kill the server so in-flight requests end). */
  onStall?: () => Promise<void> | void;
  /** Stop once this many flows have failed (a broken server, not a slow one). */
  maxFailures?: number;
  /** Start no new flow after this many milliseconds (the flows in flight finish); `count` stays the cap. */
  durationMs?: number;
}

export interface LoadResult {
  count: number;
  concurrency: number;
  completed: number;
  failed: number;
  stalled: boolean;
  /** Failures stopped the run early (more than maxFailures). */
  aborted: boolean;
  elapsedMs: number;
  /** Successful flow durations, ascending. */
  latenciesMs: number[];
  /** First few distinct error messages with how often each happened. */
  errors: { message: string; count: number }[];
}

/** Nearest-rank percentile of an ascending array (p in 0..100); NaN when empty. */
export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

/**
 * An error message with URLs' variable parts, tokens and ports masked, so that the same failure in many
 * flows is counted as one kind.
 */
function describe(error: unknown): string {
  let text = String(error);
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    text = `${error.name}${typeof code === 'string' ? ` [${code}]` : ''}: ${error.message}`;
  }
  return text
    .replace(/[A-Za-z0-9_-]{20,}/g, '…')
    .replace(/:\d{2,5}\b/g, ':<port>')
    .replace(/\bf\d+-[a-z0-9]+\./g, '<n>.')
    .slice(0, 500);
}

export async function runLoad(opts: LoadOptions): Promise<LoadResult> {
  const { count, concurrency, stallMs, flowTimeoutMs } = opts;
  const maxFailures = opts.maxFailures ?? Math.max(10, Math.ceil(count * 0.05));
  const stop = new AbortController();
  const latenciesMs: number[] = [];
  const errors = new Map<string, number>();
  let next = 0;
  let completed = 0;
  let failed = 0;
  let stalled = false;
  let aborted = false;
  let lastProgress = performance.now();
  const start = lastProgress;
  let end = start;
  let stallHandled: Promise<void> = Promise.resolve();

  const watchdog = setInterval(() => {
    if (stop.signal.aborted || performance.now() - lastProgress < stallMs) return;
    stalled = true;
    end = lastProgress;
    stop.abort(new Error(`stalled: no flow finished for ${stallMs} ms`));
    stallHandled = Promise.resolve(opts.onStall?.()).catch(() => undefined);
  }, 250);

  const deadline = opts.durationMs === undefined ? Number.POSITIVE_INFINITY : start + opts.durationMs;
  const worker = async () => {
    while (!stop.signal.aborted && next < count && performance.now() < deadline) {
      const index = next++;
      const t0 = performance.now();
      const signal = AbortSignal.any([stop.signal, AbortSignal.timeout(flowTimeoutMs)]);
      try {
        await opts.flow(index, signal);
        if (stop.signal.aborted) return;
        const t1 = performance.now();
        latenciesMs.push(t1 - t0);
        completed++;
        lastProgress = end = t1;
      } catch (error) {
        if (stop.signal.aborted) return;
        failed++;
        lastProgress = end = performance.now();
        const message = signal.aborted ? `flow timed out after ${flowTimeoutMs} ms` : describe(error);
        errors.set(message, (errors.get(message) ?? 0) + 1);
        if (failed > maxFailures) {
          aborted = true;
          stop.abort(new Error(`more than ${maxFailures} flows failed`));
        }
      }
    }
  };

  try {
    await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  } finally {
    clearInterval(watchdog);
  }
  await stallHandled;
  latenciesMs.sort((a, b) => a - b);
  return {
    count,
    concurrency,
    completed,
    failed,
    stalled,
    aborted,
    elapsedMs: end - start,
    latenciesMs,
    errors: [...errors].slice(0, 5).map(([message, n]) => ({ message, count: n })),
  };
}
