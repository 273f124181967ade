import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  formatPrimitives,
  measurePrimitives,
  type PrimitiveResult,
  perIssuance,
} from '../../bench/primitives.ts';

describe('bench primitives (bench/primitives.ts)', () => {
  it('measures every primitive for real and sums those an issuance needs', async () => {
    const report = await measurePrimitives({ seconds: 0.05, repeats: 1, connections: 2 });
    const names = report.results.map((r) => r.name);
    for (const wanted of [
      /^ECDSA P-256 verification/,
      /^ECDSA P-256 signature/,
      /^HTTPS request, keep-alive \(Fastify/,
      /bare node:https/,
      /^http-01 request/,
      /^SQLite commit/,
      /^SQLite primary-key read/,
    ])
      assert.ok(
        names.some((n) => wanted.test(n)),
        `${wanted} in ${names.join(', ')}`,
      );
    for (const r of report.results) {
      assert.ok(r.operations > 0, `${r.name}: operations`);
      assert.ok(r.cpuMicros > 0 && Number.isFinite(r.cpuMicros), `${r.name}: ${r.cpuMicros} µs`);
    }
    assert.deepEqual(
      report.results.filter((r) => r.storage).map((r) => r.name),
      names.filter((n) => n.startsWith('SQLite')),
    );
    assert.deepEqual(
      { protocolMs: report.protocolMs, withStorageMs: report.withStorageMs },
      perIssuance(report.results),
    );
    assert.ok(report.withStorageMs > report.protocolMs);
    const text = formatPrimitives(report);
    assert.match(text, /ECDSA P-256 verification \(DER signature\)\s+[\d.]+\s+8\s+[\d.]+/);
    assert.match(
      text,
      /signatures and HTTP of one issuance: [\d.]+ ms; with 4 commits and 4 reads: [\d.]+ ms/,
    );
  });

  it('counts each row as many times as an issuance needs it and leaves comparison rows out', () => {
    const row = (name: string, cpuMicros: number, count: number, storage = false): PrimitiveResult => ({
      name,
      cpuMicros,
      perIssuance: count,
      storage,
      operations: 1,
    });
    const sums = perIssuance([
      row('ECDSA P-256 verification', 50, 8),
      row('  the same, r||s', 80, 0),
      row('HTTPS request', 60, 8),
      row('SQLite commit of one row', 25, 4, true),
      row('SQLite primary-key read', 5, 4, true),
    ]);
    assert.equal(sums.protocolMs, 0.88);
    assert.equal(sums.withStorageMs, 1.0);
  });
});
