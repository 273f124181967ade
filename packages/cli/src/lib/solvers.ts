/** Challenge solvers for the CLI's `--http-port`, `--tls-port` and `--dns-hook` options. */
import { type ChallengeSolver, DnsHookSolver, Http01Solver, TlsAlpn01Solver } from '@akamu/client';
import { CliError, configError, EXIT } from './exit-codes.ts';

export interface SolverOptions {
  httpPort?: string;
  httpHost?: string;
  tlsPort?: string;
  tlsHost?: string;
  dnsHook?: string;
  dnsCleanHook?: string;
}

export interface StartedSolvers {
  solvers: ChallengeSolver[];
  stop(): Promise<void>;
}

export function parsePort(value: string | number, option: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535)
    throw configError(`invalid ${option} ${JSON.stringify(value)}`);
  return n;
}

/**
 * Starts the solvers the options ask for, in this order of preference: http-01, tls-alpn-01, dns-01.
 * With none of them, http-01 on port 80.
 */
export async function startSolvers(opts: SolverOptions, hookTimeoutMs = 120_000): Promise<StartedSolvers> {
  const started: { solver: ChallengeSolver; stop: () => Promise<void> }[] = [];
  const stopAll = async () => {
    await Promise.all(started.map((s) => s.stop()));
  };
  const none = opts.httpPort === undefined && opts.tlsPort === undefined && opts.dnsHook === undefined;
  try {
    if (opts.httpPort !== undefined || none) {
      const http = new Http01Solver({
        port: parsePort(opts.httpPort ?? '80', '--http-port'),
        host: opts.httpHost,
      });
      await listen(() => http.start(), `http-01 responder on port ${http.port}`);
      started.push({ solver: http, stop: () => http.stop() });
    }
    if (opts.tlsPort !== undefined) {
      const tls = new TlsAlpn01Solver({ port: parsePort(opts.tlsPort, '--tls-port'), host: opts.tlsHost });
      await listen(() => tls.start(), `tls-alpn-01 responder on port ${tls.port}`);
      started.push({ solver: tls, stop: () => tls.stop() });
    }
    if (opts.dnsHook !== undefined) {
      const dns = new DnsHookSolver({
        deploy: opts.dnsHook,
        clean: opts.dnsCleanHook ?? opts.dnsHook,
        timeoutMs: hookTimeoutMs,
      });
      started.push({ solver: dns, stop: async () => {} });
    }
  } catch (error) {
    await stopAll();
    throw error;
  }
  return { solvers: started.map((s) => s.solver), stop: stopAll };
}

export async function listen(start: () => Promise<void>, what: string): Promise<void> {
  try {
    await start();
  } catch (error) {
    throw new CliError(EXIT.SOLVER, `cannot start the ${what}: ${(error as Error).message}`, {
      cause: error,
    });
  }
}
