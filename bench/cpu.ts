/**
 * CPU time of a process tree from /proc (Linux only): utime + stime of the process and of every live
 * descendant, plus cutime + cstime (children already reaped). Clock ticks per second from `getconf CLK_TCK`.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

let ticksPerSecond: number | undefined;

/** `getconf CLK_TCK` (normally 100), read once. */
export function clockTicksPerSecond(): number {
  if (ticksPerSecond === undefined) {
    const value = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
    if (!Number.isInteger(value) || value <= 0) throw new Error(`getconf CLK_TCK returned "${value}"`);
    ticksPerSecond = value;
  }
  return ticksPerSecond;
}

interface ProcStat {
  ppid: number;
  /** utime + stime + cutime + cstime, in clock ticks. */
  ticks: number;
}

/** Fields of /proc/<pid>/stat after the `(comm)` field, which may itself contain spaces and parentheses. */
function readStat(pid: number): ProcStat | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // proc(5): field 3 is state; ppid is field 4, utime 14, stime 15, cutime 16, cstime 17.
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const field = (n: number) => Number(rest[n - 3]);
  return { ppid: field(4), ticks: field(14) + field(15) + field(16) + field(17) };
}

/** Live descendants of `root` (scans /proc once). */
function descendants(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const name of readdirSync('/proc')) {
    const pid = Number(name);
    if (!Number.isInteger(pid)) continue;
    const stat = readStat(pid);
    if (!stat) continue;
    const list = children.get(stat.ppid);
    if (list) list.push(pid);
    else children.set(stat.ppid, [pid]);
  }
  const out: number[] = [];
  for (let queue = [root]; queue.length > 0; ) {
    const next: number[] = [];
    for (const pid of queue) for (const child of children.get(pid) ?? []) next.push(child);
    out.push(...next);
    queue = next;
  }
  return out;
}

/** CPU milliseconds used so far by `pid` and its children; throws when the process is gone. */
export function processTreeCpuMs(pid: number): number {
  const root = readStat(pid);
  if (!root) throw new Error(`process ${pid} is not running`);
  let ticks = root.ticks;
  for (const child of descendants(pid)) ticks += readStat(child)?.ticks ?? 0;
  return (ticks * 1000) / clockTicksPerSecond();
}
