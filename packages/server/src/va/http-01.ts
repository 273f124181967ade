import http from 'node:http';
import https from 'node:https';
import type { Identifier } from '@akamu/protocol';
import type { NetworkGuard } from './network-guard.ts';
import type { HostResolver } from './resolver.ts';
import {
  type ChallengeValidator,
  problem,
  type ValidationOutcome,
  type ValidationRequest,
} from './validator.ts';

const MAX_REDIRECTS = 10;
const MAX_BODY = 8 * 1024;

export interface Http01Options {
  port: number;
  resolver: HostResolver;
  guard: NetworkGuard;
}

/**
 * RFC 8555 §8.3 http-01: GET http://<identifier>:<port>/.well-known/acme-challenge/<token> must answer 200
 * with the key authorization (trailing whitespace ignored). Redirects are followed (at most 10) to http or
 * https on the standard ports or the configured one; a redirect target's TLS certificate is not checked
 * (§8.3). The body is read up to 8 KiB. Not offered for wildcard names (§7.1.3).
 */
export class Http01Validator implements ChallengeValidator {
  readonly type = 'http-01';
  readonly #opts: Http01Options;
  readonly #agent = new http.Agent({ keepAlive: true, maxSockets: 64, keepAliveMsecs: 5_000 });
  readonly #tlsAgent = new https.Agent({ keepAlive: true, maxSockets: 64, rejectUnauthorized: false });

  constructor(opts: Http01Options) {
    this.#opts = opts;
  }

  supports(identifier: Identifier, wildcard: boolean): boolean {
    // ".onion" names are reachable only over Tor, which akamu does not use (RFC 9799 §3.1.2).
    if (identifier.type === 'dns' && identifier.value.endsWith('.onion')) return false;
    return !wildcard && (identifier.type === 'dns' || identifier.type === 'ip');
  }

  async validate(req: ValidationRequest): Promise<ValidationOutcome> {
    const host =
      req.identifier.type === 'ip' && req.identifier.value.includes(':')
        ? `[${req.identifier.value}]`
        : req.identifier.value;
    let url = new URL(`http://${host}:${this.#opts.port}/.well-known/acme-challenge/${req.token}`);
    for (let hop = 0; ; hop++) {
      const r = await this.#fetch(url, req);
      if ('problem' in r) return r.problem;
      if (r.status >= 300 && r.status < 400 && r.location !== undefined) {
        if (hop >= MAX_REDIRECTS)
          return problem('connection', `too many redirects from ${url}`, req.identifier);
        let next: URL;
        try {
          next = new URL(r.location, url);
        } catch {
          return problem('connection', `${url} redirected to an invalid URL`, req.identifier);
        }
        const refused = this.#checkRedirect(next);
        if (refused) return problem('connection', `${url} redirected to ${next}: ${refused}`, req.identifier);
        url = next;
        continue;
      }
      if (r.status !== 200) {
        return problem('unauthorized', `${url} answered HTTP ${r.status}, not 200`, req.identifier);
      }
      const body = r.body.replace(/\s+$/, '');
      if (body !== req.keyAuthorization) {
        const shown = body.length > 100 ? `${body.slice(0, 100)}…` : body;
        return problem(
          'incorrectResponse',
          `${url} answered ${JSON.stringify(shown)}, not the key authorization`,
          req.identifier,
        );
      }
      return undefined;
    }
  }

  #checkRedirect(u: URL): string | undefined {
    if (u.protocol !== 'http:' && u.protocol !== 'https:') return `scheme ${u.protocol} is not http or https`;
    const port = u.port === '' ? (u.protocol === 'http:' ? 80 : 443) : Number(u.port);
    if (port !== 80 && port !== 443 && port !== this.#opts.port) return `port ${port} is not allowed`;
    return undefined;
  }

  async #fetch(
    url: URL,
    req: ValidationRequest,
  ): Promise<{ status: number; location?: string; body: string } | { problem: ReturnType<typeof problem> }> {
    const hostname = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
    let addresses: string[];
    try {
      addresses = await this.#opts.resolver.resolve(hostname);
    } catch (e) {
      return {
        problem: problem('dns', `no address for ${hostname}: ${(e as Error).message}`, req.identifier),
      };
    }
    if (addresses.length === 0)
      return { problem: problem('dns', `no address for ${hostname}`, req.identifier) };
    let lastError = '';
    for (const address of addresses) {
      const refused = this.#opts.guard.check(address);
      if (refused) {
        lastError = refused;
        continue;
      }
      try {
        return await this.#get(url, address, req.signal);
      } catch (e) {
        lastError = `${address}: ${(e as Error).message}`;
        if (req.signal.aborted) break;
      }
    }
    return { problem: problem('connection', `fetching ${url}: ${lastError}`, req.identifier) };
  }

  #get(
    url: URL,
    address: string,
    signal: AbortSignal,
  ): Promise<{ status: number; location?: string; body: string }> {
    const tls = url.protocol === 'https:';
    const mod = tls ? https : http;
    return new Promise((resolve, reject) => {
      const r = mod.request(
        {
          host: address,
          port: url.port === '' ? (tls ? 443 : 80) : Number(url.port),
          path: url.pathname + url.search,
          method: 'GET',
          headers: { host: url.host, 'user-agent': 'akamu-va', accept: '*/*' },
          agent: tls ? this.#tlsAgent : this.#agent,
          servername: tls ? url.hostname : undefined,
          signal,
        },
        (res) => {
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (c: Buffer) => {
            size += c.length;
            if (size > MAX_BODY) {
              res.destroy();
              reject(new Error(`the response body is larger than ${MAX_BODY} bytes`));
              return;
            }
            chunks.push(c);
          });
          res.on('end', () =>
            resolve({
              status: res.statusCode ?? 0,
              location: typeof res.headers.location === 'string' ? res.headers.location : undefined,
              body: Buffer.concat(chunks).toString('utf8'),
            }),
          );
          res.on('error', reject);
        },
      );
      r.on('error', reject);
      r.end();
    });
  }

  close(): void {
    this.#agent.destroy();
    this.#tlsAgent.destroy();
  }
}
