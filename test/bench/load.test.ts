import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { runLoad } from '../../bench/load.ts';

describe('bench load generator (bench/load.ts)', () => {
  it('runs every flow with at most `concurrency` in flight', async () => {
    let inFlight = 0;
    let peak = 0;
    const seen = new Set<number>();
    const r = await runLoad({
      count: 40,
      concurrency: 4,
      stallMs: 5_000,
      flowTimeoutMs: 5_000,
      flow: async (i) => {
        seen.add(i);
        peak = Math.max(peak, ++inFlight);
        await sleep(2);
        inFlight--;
      },
    });
    assert.equal(r.completed, 40);
    assert.equal(r.failed, 0);
    assert.equal(seen.size, 40);
    assert.equal(peak, 4);
    assert.equal(r.latenciesMs.length, 40);
  });

  it('a time-boxed run (the warm-up) starts no flow after durationMs and lets those in flight finish', async () => {
    let started = 0;
    let finished = 0;
    const r = await runLoad({
      count: 100_000,
      concurrency: 4,
      durationMs: 150,
      stallMs: 5_000,
      flowTimeoutMs: 5_000,
      flow: async () => {
        started++;
        await sleep(10);
        finished++;
      },
    });
    assert.equal(finished, started, 'flows in flight at the deadline completed');
    assert.equal(r.completed, started);
    // ~15 rounds of 4 flows fit in 150 ms; timers are coarse, so only bound it loosely.
    assert.ok(started >= 8 && started < 400, `started ${started}`);
    assert.ok(r.elapsedMs >= 150 && r.elapsedMs < 1_000, `elapsed ${r.elapsedMs}`);
  });

  it('a run where nothing finishes for stallMs is declared stalled, and onStall is called once', async () => {
    let onStall = 0;
    const r = await runLoad({
      count: 10,
      concurrency: 2,
      stallMs: 300,
      flowTimeoutMs: 10_000,
      flow: (_i, signal) =>
        new Promise<void>((_resolve, reject) =>
          signal.addEventListener('abort', () => reject(signal.reason)),
        ),
      onStall: () => {
        onStall++;
      },
    });
    assert.equal(r.stalled, true);
    assert.equal(r.completed, 0);
    assert.equal(onStall, 1);
  });
});
