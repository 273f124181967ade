import { Resolver } from 'node:dns/promises';
import { isIP } from 'node:net';
import type { HostResolver } from './resolver.ts';

/** A CAA record as published (RFC 8659 §4.1): flags, tag, value. */
export interface CaaRecord {
  flags: number;
  tag: string;
  value: string;
}

/** A lookup that failed for a reason other than "no such name" or "no such record" (SERVFAIL, timeout…). */
export class DnsLookupError extends Error {
  override name = 'DnsLookupError';
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.code = code;
  }
}

export interface DnsResolverOptions {
  /** Name servers ("127.0.0.1:5353", "[::1]:53", "10.0.0.2"); empty: the system's. */
  servers: string[];
  /** Time limit of one query attempt, in ms. */
  timeoutMs: number;
  /** Attempts per server. */
  tries: number;
}

/** NXDOMAIN and NODATA mean "no records", not a failure (RFC 2308). */
const EMPTY = new Set(['ENOTFOUND', 'ENODATA']);

/**
 * Every DNS query the server makes for validation and CAA goes through here: node:dns `Resolver` with the
 * configured servers (`[dns] resolvers`), a timeout per attempt and a number of tries, cancelled when the
 * validation's signal aborts. CNAMEs are followed by the resolver (RFC 1034 §4.3.2).
 */
export class DnsResolver {
  readonly #opts: DnsResolverOptions;

  constructor(opts: DnsResolverOptions) {
    this.#opts = opts;
  }

  /** TXT records, each record's character-strings joined (RFC 8555 §8.4, RFC 1035 §3.3.14). */
  async txt(name: string, signal?: AbortSignal): Promise<string[]> {
    const records = await this.#query(name, 'TXT', signal, (r) => r.resolveTxt(name));
    return records.map((chunks) => chunks.join(''));
  }

  /** The CAA RRset of exactly this name (RFC 8659 §4.1); empty when there is none. */
  async caa(name: string, signal?: AbortSignal): Promise<CaaRecord[]> {
    const records = await this.#query(name, 'CAA', signal, (r) => r.resolveCaa(name));
    return records.map((r) => {
      // node:dns gives { critical, <tag>: value } (and, in Node 24, a `type: 'CAA'` member).
      const {
        critical,
        type: _type,
        ...rest
      } = r as unknown as Record<string, unknown> & { critical: number };
      const [tag, value] = Object.entries(rest)[0] ?? ['', ''];
      return { flags: critical, tag, value: String(value) };
    });
  }

  async addresses(name: string, signal?: AbortSignal): Promise<string[]> {
    const [v4, v6] = await Promise.allSettled([
      this.#query(name, 'A', signal, (r) => r.resolve4(name)),
      this.#query(name, 'AAAA', signal, (r) => r.resolve6(name)),
    ]);
    const found = [
      ...(v4.status === 'fulfilled' ? v4.value : []),
      ...(v6.status === 'fulfilled' ? v6.value : []),
    ];
    if (found.length === 0 && v4.status === 'rejected') throw v4.reason;
    if (found.length === 0 && v6.status === 'rejected') throw v6.reason;
    return found;
  }

  async #query<T>(
    name: string,
    type: string,
    signal: AbortSignal | undefined,
    run: (r: Resolver) => Promise<T[]>,
  ): Promise<T[]> {
    if (signal?.aborted) throw new DnsLookupError('ECANCELLED', `${type} ${name}: cancelled`);
    const resolver = new Resolver({ timeout: this.#opts.timeoutMs, tries: this.#opts.tries });
    if (this.#opts.servers.length > 0) resolver.setServers(this.#opts.servers);
    const cancel = () => resolver.cancel();
    signal?.addEventListener('abort', cancel, { once: true });
    try {
      return await run(resolver);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code ?? 'EUNKNOWN';
      if (EMPTY.has(code)) return [];
      throw new DnsLookupError(code, `${type} ${name}: ${describe(code)}`);
    } finally {
      signal?.removeEventListener('abort', cancel);
    }
  }
}

function describe(code: string): string {
  switch (code) {
    case 'ESERVFAIL':
      return 'the name server answered SERVFAIL';
    case 'EREFUSED':
      return 'the name server refused the query';
    case 'ETIMEOUT':
      return 'the query timed out';
    case 'ECONNREFUSED':
      return 'the name server could not be reached';
    case 'ECANCELLED':
      return 'cancelled';
    default:
      return `lookup failed (${code})`;
  }
}

/**
 * http-01 and tls-alpn-01 target names through the configured resolvers instead of getaddrinfo, with
 * the same RFC 6761 §6.3 rule as SystemHostResolver: "localhost" and "*.localhost" are loopback.
 */
export class DnsHostResolver implements HostResolver {
  readonly #dns: DnsResolver;
  constructor(dns: DnsResolver) {
    this.#dns = dns;
  }
  async resolve(name: string): Promise<string[]> {
    if (isIP(name)) return [name];
    if (name === 'localhost' || name.endsWith('.localhost')) return ['127.0.0.1', '::1'];
    return this.#dns.addresses(name);
  }
}
