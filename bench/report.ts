/** The bench's result records, the akamu-vs-peer ratios, and their text tables. */

export type RunStatus = 'ok' | 'stalled' | 'failed' | 'error' | 'skipped';

export interface RunRecord {
  server: string;
  /** 1-based round (BENCH_ROUNDS); in a summary, the rounds it summarizes. */
  round?: number;
  rounds?: { ok: number; total: number };
  concurrency: number;
  planned: number;
  completed: number;
  failed: number;
  status: RunStatus;
  /** Why the run is not ok (stall, failures, start error, not installed). */
  note?: string;
  elapsedMs: number;
  /** Only for status ok. */
  issuancesPerSecond: number | null;
  p50Ms: number | null;
  p99Ms: number | null;
  /** utime+stime of the server process tree during the run. */
  serverCpuMs: number | null;
  serverCpuMsPerIssuance: number | null;
  /** CPU of the bench process itself (load generator + http-01 responder) per issuance. */
  benchCpuMsPerIssuance: number | null;
  /** HTTP requests the client sent per completed issuance (nonce fetches and retries included). */
  requestsPerIssuance: number | null;
  /** TCP connections the client opened during the run (keep-alive reuse: about `concurrency`). */
  connections: number;
  badNonceRetries: number;
  errors: { message: string; count: number }[];
}

export interface RatioRecord {
  peer: string;
  concurrency: number;
  /** With several rounds: the median ratio, and each round's throughput ratio (null: no ratio that round). */
  perRound?: (number | null)[];
  /** akamu issuances/s ÷ peer issuances/s (>1: akamu is faster). */
  throughputRatio: number | null;
  /** akamu server CPU per issuance ÷ peer's (<1: akamu uses less CPU). */
  cpuPerIssuanceRatio: number | null;
  note?: string;
}

/**
 * akamu ÷ each peer per concurrency. Peers are the other servers; akamu's own variants (akamu-postgres,
 * akamu-floor, …) are reported, not compared, unless named in `against`.
 */
export function computeRatios(
  records: RunRecord[],
  ours = 'akamu',
  against?: readonly string[],
): RatioRecord[] {
  const out: RatioRecord[] = [];
  const peers = [...new Set(records.map((r) => r.server))].filter((s) =>
    against ? against.includes(s) : s !== ours && !s.startsWith(`${ours}-`),
  );
  for (const peer of peers) {
    for (const mine of records.filter((r) => r.server === ours)) {
      const theirs = records.find((r) => r.server === peer && r.concurrency === mine.concurrency);
      if (!theirs) continue;
      const problems = [mine, theirs].filter((r) => r.status !== 'ok').map((r) => `${r.server} ${r.status}`);
      const ratio = (a: number | null, b: number | null) =>
        problems.length === 0 && a !== null && b !== null && b > 0 ? a / b : null;
      out.push({
        peer,
        concurrency: mine.concurrency,
        throughputRatio: ratio(mine.issuancesPerSecond, theirs.issuancesPerSecond),
        cpuPerIssuanceRatio: ratio(mine.serverCpuMsPerIssuance, theirs.serverCpuMsPerIssuance),
        ...(problems.length > 0 ? { note: problems.join(', ') } : {}),
      });
    }
  }
  return out;
}

/** The median of the numbers that are not null; null when there are none. */
export function median(values: (number | null | undefined)[]): number | null {
  const v = values
    .filter((x): x is number => typeof x === 'number' && Number.isFinite(x))
    .sort((a, b) => a - b);
  if (v.length === 0) return null;
  const mid = Math.floor(v.length / 2);
  return v.length % 2 === 1 ? v[mid]! : (v[mid - 1]! + v[mid]!) / 2;
}

/**
 * One record per server and concurrency over several rounds: medians of the rounds that completed (status
 * ok when at least one did), the flows of every round summed, and how many rounds completed.
 */
export function summarizeRounds(records: RunRecord[]): RunRecord[] {
  const keys: string[] = [];
  const groups = new Map<string, RunRecord[]>();
  for (const r of records) {
    const key = `${r.server}\u0000${r.concurrency}`;
    if (!groups.has(key)) {
      keys.push(key);
      groups.set(key, []);
    }
    groups.get(key)!.push(r);
  }
  return keys.map((key) => {
    const all = groups.get(key)!;
    const ok = all.filter((r) => r.status === 'ok');
    const m = (pick: (r: RunRecord) => number | null) => median(ok.map(pick));
    const first = ok[0] ?? all.find((r) => r.status !== 'skipped') ?? all[0]!;
    const sum = (pick: (r: RunRecord) => number) => all.reduce((n, r) => n + pick(r), 0);
    const notOk = all.filter((r) => r.status !== 'ok');
    return {
      ...first,
      round: undefined,
      rounds: { ok: ok.length, total: all.length },
      planned: sum((r) => r.planned),
      completed: sum((r) => r.completed),
      failed: sum((r) => r.failed),
      status: ok.length > 0 ? 'ok' : first.status,
      ...(notOk.length > 0
        ? { note: notOk.map((r) => `round ${r.round}: ${runSummary(r)}`).join('; ') }
        : { note: undefined }),
      elapsedMs: sum((r) => r.elapsedMs),
      issuancesPerSecond: m((r) => r.issuancesPerSecond),
      p50Ms: m((r) => r.p50Ms),
      p99Ms: m((r) => r.p99Ms),
      serverCpuMs: m((r) => r.serverCpuMs),
      serverCpuMsPerIssuance: m((r) => r.serverCpuMsPerIssuance),
      benchCpuMsPerIssuance: m((r) => r.benchCpuMsPerIssuance),
      requestsPerIssuance: m((r) => r.requestsPerIssuance),
      connections: Math.round(median(ok.map((r) => r.connections)) ?? first.connections),
      badNonceRetries: sum((r) => r.badNonceRetries),
      errors: all.flatMap((r) => r.errors),
    };
  });
}

/** Ratios within each round (same conditions), then their medians per peer and concurrency. */
export function computeRoundRatios(
  records: RunRecord[],
  rounds: number,
  against?: readonly string[],
): RatioRecord[] {
  const perRound = Array.from({ length: rounds }, (_, i) =>
    computeRatios(
      records.filter((r) => r.round === i + 1),
      'akamu',
      against,
    ),
  );
  const out: RatioRecord[] = [];
  for (const first of perRound[0] ?? []) {
    const same = perRound.map((list) =>
      list.find((x) => x.peer === first.peer && x.concurrency === first.concurrency),
    );
    const notes = same.flatMap((x, i) => (x?.note ? [`round ${i + 1}: ${x.note}`] : []));
    out.push({
      peer: first.peer,
      concurrency: first.concurrency,
      throughputRatio: median(same.map((x) => x?.throughputRatio)),
      cpuPerIssuanceRatio: median(same.map((x) => x?.cpuPerIssuanceRatio)),
      perRound: same.map((x) => x?.throughputRatio ?? null),
      ...(notes.length > 0 ? { note: notes.join('; ') } : {}),
    });
  }
  return out;
}

function fixed(value: number | null, digits: number): string {
  return value === null || !Number.isFinite(value) ? '-' : value.toFixed(digits);
}

/** Columns `leftAligned` (and text columns named in it) padded on the right, numbers on the left. */
export function table(header: string[], rows: string[][], leftAligned = [0]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (leftAligned.includes(i) ? c.padEnd(widths[i]!) : c.padStart(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

/** Status words for a run that produced no throughput. */
export function runSummary(r: RunRecord): string {
  switch (r.status) {
    case 'ok':
      return '';
    case 'stalled':
      return `STALLED after ${r.completed}/${r.planned} issuances (${r.note ?? ''})`;
    case 'failed':
      return `FAILED: ${r.failed} flows failed, ${r.completed}/${r.planned} completed (${r.note ?? ''})`;
    case 'error':
      return `ERROR: ${r.note ?? ''}`;
    case 'skipped':
      return `SKIPPED: ${r.note ?? ''}`;
  }
}

export function formatResults(records: RunRecord[]): string {
  const header = [
    'server',
    'conc',
    'done/planned',
    'iss/s',
    'p50 ms',
    'p99 ms',
    'srv CPU ms/iss',
    'bench CPU ms/iss',
    'req/iss',
    'conns',
  ];
  const withRounds = records.some((r) => r.rounds);
  if (withRounds) header.push('rounds ok');
  const rows: string[][] = [];
  const notes: string[] = [];
  for (const r of records) {
    const base = [r.server, String(r.concurrency), `${r.completed}/${r.planned}`];
    if (r.status === 'ok') {
      rows.push([
        ...base,
        fixed(r.issuancesPerSecond, 1),
        fixed(r.p50Ms, 0),
        fixed(r.p99Ms, 0),
        fixed(r.serverCpuMsPerIssuance, 2),
        fixed(r.benchCpuMsPerIssuance, 2),
        fixed(r.requestsPerIssuance, 1),
        String(r.connections),
        ...(withRounds ? [`${r.rounds?.ok ?? 0}/${r.rounds?.total ?? 0}`] : []),
      ]);
      if (r.failed > 0) notes.push(`${r.server} c=${r.concurrency}: ${r.failed} flows failed`);
    } else {
      rows.push([
        ...base,
        r.status.toUpperCase(),
        '-',
        '-',
        '-',
        '-',
        '-',
        '-',
        ...(withRounds ? [`${r.rounds?.ok ?? 0}/${r.rounds?.total ?? 0}`] : []),
      ]);
      notes.push(`${r.server} c=${r.concurrency}: ${runSummary(r)}`);
    }
    for (const e of r.errors) notes.push(`  ${r.server} c=${r.concurrency}: ${e.count}× ${e.message}`);
  }
  return [table(header, rows), ...(notes.length > 0 ? ['', ...notes] : [])].join('\n');
}

export function formatRatios(ratios: RatioRecord[]): string {
  if (ratios.length === 0) return '(no peer to compare with)';
  const withRounds = ratios.some((r) => r.perRound);
  return table(
    [
      'akamu vs',
      'conc',
      withRounds ? 'throughput × (median)' : 'throughput ×',
      'CPU/iss ×',
      ...(withRounds ? ['throughput × by round'] : []),
      'note',
    ],
    ratios.map((r) => [
      r.peer,
      String(r.concurrency),
      fixed(r.throughputRatio, 2),
      fixed(r.cpuPerIssuanceRatio, 2),
      ...(withRounds ? [(r.perRound ?? []).map((x) => fixed(x, 2)).join(' ')] : []),
      r.note ?? '',
    ]),
    withRounds ? [0, 4, 5] : [0, 4],
  );
}
