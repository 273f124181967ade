/**
 * RFC 8555 §8.3 http-01: serves `GET /.well-known/acme-challenge/<token>` with the key authorization
 * as text/plain, 404 for anything else. One started solver can serve any number of concurrent orders;
 * a token presented twice (a reused pending authorization) stays served until cleaned up twice.
 */
import { createServer, type Server } from 'node:http';
import type { ChallengeJson, Identifier } from '@akamu/protocol';
import type { ChallengeSolver } from './challenge-solver.ts';
import { boundPort, checkPort, listen } from './listen.ts';

const PREFIX = '/.well-known/acme-challenge/';
const TOKEN = /^[A-Za-z0-9_-]+$/;

export interface Http01SolverOptions {
  /** Port to listen on; 0 picks a free one (read it from `port` after start()). */
  port: number;
  /** Address to bind; default all interfaces. */
  host?: string;
}

export class Http01Solver implements ChallengeSolver {
  readonly type = 'http-01';
  readonly #options: Http01SolverOptions;
  readonly #tokens = new Map<string, { keyAuthorization: string; refs: number }>();
  #server: Server | undefined;

  constructor(opts: Http01SolverOptions) {
    checkPort(opts.port);
    this.#options = opts;
  }

  /** The bound port once started, else the configured one. */
  get port(): number {
    return boundPort(this.#server, this.#options.port);
  }

  get listening(): boolean {
    return this.#server?.listening ?? false;
  }

  async start(): Promise<void> {
    if (this.#server) return;
    const server = createServer((req, res) => {
      const path = (req.url ?? '').split('?', 1)[0]!;
      const entry = path.startsWith(PREFIX) ? this.#tokens.get(path.slice(PREFIX.length)) : undefined;
      if ((req.method !== 'GET' && req.method !== 'HEAD') || entry === undefined) {
        res.writeHead(404, { 'content-type': 'text/plain', 'content-length': 9 }).end('not found');
        return;
      }
      res
        .writeHead(200, {
          'content-type': 'text/plain',
          'content-length': Buffer.byteLength(entry.keyAuthorization),
        })
        .end(req.method === 'HEAD' ? undefined : entry.keyAuthorization);
    });
    this.#server = server;
    try {
      await listen(server, this.#options.port, this.#options.host);
    } catch (error) {
      this.#server = undefined;
      throw error;
    }
  }

  async stop(): Promise<void> {
    const server = this.#server;
    if (!server) return;
    this.#server = undefined;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }

  async present(_identifier: Identifier, challenge: ChallengeJson, keyAuthorization: string): Promise<void> {
    if (!this.#server) throw new Error('Http01Solver is not started: call start() first');
    if (!TOKEN.test(challenge.token))
      throw new TypeError(`invalid challenge token ${JSON.stringify(challenge.token)}`);
    const entry = this.#tokens.get(challenge.token);
    if (entry) entry.refs++;
    else this.#tokens.set(challenge.token, { keyAuthorization, refs: 1 });
  }

  async cleanup(
    _identifier: Identifier,
    challenge: ChallengeJson,
    _keyAuthorization?: string,
  ): Promise<void> {
    const entry = this.#tokens.get(challenge.token);
    if (entry && --entry.refs <= 0) this.#tokens.delete(challenge.token);
  }
}
