import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  computeRatios,
  computeRoundRatios,
  formatRatios,
  formatResults,
  median,
  type RunRecord,
  summarizeRounds,
} from '../../bench/report.ts';

function run(server: string, concurrency: number, round: number, issPerS: number | null, cpu = 5): RunRecord {
  const ok = issPerS !== null;
  return {
    server,
    round,
    concurrency,
    planned: 100,
    completed: ok ? 100 : 12,
    failed: 0,
    status: ok ? 'ok' : 'stalled',
    ...(ok ? {} : { note: 'no flow finished for 15 s; server killed' }),
    elapsedMs: 1000,
    issuancesPerSecond: issPerS,
    p50Ms: ok ? 10 : null,
    p99Ms: ok ? 20 : null,
    serverCpuMs: ok ? cpu * 100 : null,
    serverCpuMsPerIssuance: ok ? cpu : null,
    benchCpuMsPerIssuance: ok ? 2 : null,
    requestsPerIssuance: ok ? 8 : null,
    connections: concurrency,
    badNonceRetries: 0,
    errors: [],
  };
}

describe('bench rounds (BENCH_ROUNDS): medians and per-round ratios', () => {
  it('median ignores missing values', () => {
    assert.equal(median([3, null, 1, 2]), 2);
    assert.equal(median([4, 1, 3, 2]), 2.5);
    assert.equal(median([null, undefined]), null);
  });

  it('summarizes each server and concurrency over the rounds that completed', () => {
    const records = [
      run('akamu', 8, 1, 100, 6),
      run('pebble', 8, 1, 50, 7),
      run('akamu', 8, 2, 160, 4),
      run('pebble', 8, 2, null),
      run('akamu', 8, 3, 130, 5),
      run('pebble', 8, 3, 100, 5),
    ];
    const [akamu, pebble] = summarizeRounds(records);
    assert.equal(akamu!.issuancesPerSecond, 130);
    assert.equal(akamu!.serverCpuMsPerIssuance, 5);
    assert.deepEqual(akamu!.rounds, { ok: 3, total: 3 });
    assert.equal(akamu!.planned, 300);
    assert.equal(pebble!.status, 'ok');
    assert.equal(pebble!.issuancesPerSecond, 75, 'median of the two rounds that completed');
    assert.deepEqual(pebble!.rounds, { ok: 2, total: 3 });
    assert.match(pebble!.note!, /round 2: STALLED/);
    assert.match(formatResults([akamu!, pebble!]), /rounds ok[\s\S]*3\/3[\s\S]*2\/3/);

    // Ratios are taken within a round (same conditions), then the median: 100/50 = 2, none, 130/100 = 1.3.
    const [ratio] = computeRoundRatios(records, 3);
    assert.equal(ratio!.peer, 'pebble');
    assert.deepEqual(ratio!.perRound, [2, null, 1.3]);
    assert.equal(ratio!.throughputRatio, 1.65);
    assert.match(ratio!.note!, /round 2: pebble stalled/);
    assert.match(formatRatios([ratio!]), /2\.00 - 1\.30/);
  });

  it('a server that never completed stays not ok', () => {
    const [pebble] = summarizeRounds([run('pebble', 32, 1, null), run('pebble', 32, 2, null)]);
    assert.equal(pebble!.status, 'stalled');
    assert.equal(pebble!.issuancesPerSecond, null);
  });
});

describe('akamu-floor in the ratios', () => {
  it("is reported as one of akamu's variants, never compared as a peer, and as akamu's own reference", () => {
    const records = [
      run('akamu', 8, 1, 100, 6),
      run('pebble', 8, 1, 50, 4),
      run('akamu-floor', 8, 1, 200, 3),
    ];
    assert.deepEqual(
      computeRatios(records).map((r) => r.peer),
      ['pebble'],
    );
    // Only when asked for: akamu ÷ the floor, its overhead over the stack.
    const [overFloor] = computeRatios(records, 'akamu', ['akamu-floor']);
    assert.equal(overFloor?.peer, 'akamu-floor');
    assert.equal(overFloor?.throughputRatio, 0.5);
    assert.equal(overFloor?.cpuPerIssuanceRatio, 2);
  });
});
