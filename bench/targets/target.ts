/** What the bench needs from a server under test, and helpers the three targets share. */
import { get } from 'node:https';
import { createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Child } from './child.ts';

export interface StartOptions {
  /** A fresh, empty directory the server may use for config, data and HOME. */
  workDir: string;
  /** Port the server must connect to for http-01 validation (the bench's responder listens there). */
  http01Port: number;
}

export interface RunningTarget {
  directoryUrl: string;
  /** PEM the HTTPS endpoint of the directory chains to. */
  caBundle: string;
  /** The server process (CPU is read for it and its descendants). */
  pid: number;
  child: Child;
  /** SIGTERM, SIGKILL after a grace period. */
  stop(): Promise<void>;
}

export interface TargetDefinition {
  name: string;
  /** Why this server cannot run here (not installed), or undefined. */
  unavailable(): string | undefined;
  /** Version string for the report. */
  version(): string;
  /** The http-01 port the server validates on; 0 when it can be configured (the bench picks one). */
  readonly http01Port: number;
  /** Checks run once before `unavailable()` is asked (e.g. that the database answers). */
  prepare?(): Promise<void>;
  start(opts: StartOptions): Promise<RunningTarget>;
}

/** A currently free TCP port on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

function tryGet(url: string, ca: string): Promise<number> {
  return new Promise((resolve) => {
    const req = get(url, { ca, agent: false, timeout: 2000 }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(0));
  });
}

/** Polls the directory until it answers 200, the process exits or `timeoutMs` passes. */
export async function waitForDirectory(
  url: string,
  ca: () => string | undefined,
  child: Child,
  timeoutMs = 30_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!child.running) throw new Error(`${child.name} exited (${child.exitDescription()})\n${child.tail()}`);
    const bundle = ca();
    if (bundle !== undefined && (await tryGet(url, bundle)) === 200) return;
    await sleep(100);
  }
  throw new Error(`${child.name}: ${url} did not answer within ${timeoutMs} ms\n${child.tail()}`);
}
