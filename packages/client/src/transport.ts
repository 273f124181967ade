/**
 * HTTP for RFC 8555 §6: keep-alive agents, JWS POSTs, the Replay-Nonce pool (§7.2), the one badNonce
 * retry (§6.5), and the response checks every request shares (size limit, timeout, problem documents).
 * Uses node:http/node:https directly so a private CA bundle can be trusted without undici.
 */
import {
  type Agent as HttpAgent,
  type IncomingHttpHeaders,
  Agent as PlainAgent,
  request as plainRequest,
} from 'node:http';
import { Agent as TlsAgent, request as tlsRequest } from 'node:https';
import { version as nodeVersion } from 'node:process';
import type { ProblemJson } from '@akamu/protocol';
import { AcmeClientError, AcmeProblemError, AcmeTimeoutError, AcmeTransportError } from './errors.ts';
import { encodePayload, type JwsSigner } from './jws.ts';

export const DEFAULT_TIMEOUT_MS = 30_000;
export const DEFAULT_MAX_RESPONSE_BYTES = 1024 * 1024;
export const DEFAULT_MAX_REQUEST_BYTES = 1024 * 1024;
export const DEFAULT_USER_AGENT = `akamu-client/0.1.0 node/${nodeVersion}`;
const MAX_POOLED_NONCES = 256;

export interface HttpTransportOptions {
  /** PEM CA certificates to trust for https:// instead of the system store. */
  caBundle?: string | Buffer;
  /** Per-request limit, from sending to the end of the response body. Default 30 000. */
  timeoutMs?: number;
  /** RFC 8555 §6.1: clients must send a User-Agent. */
  userAgent?: string;
  /** Default 1 MiB. */
  maxResponseBytes?: number;
  /** Default 1 MiB. */
  maxRequestBytes?: number;
  /** Concurrent sockets per origin. Default unlimited. */
  maxSockets?: number;
}

export interface HttpResponse {
  url: string;
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

export interface TransportStats {
  /** HTTP requests sent (including nonce fetches and retries). */
  requests: number;
  /** HEAD newNonce requests made because the pool was empty. */
  nonceFetches: number;
  /** Requests resent after a badNonce problem. */
  badNonceRetries: number;
  /** Requests resent after a reused keep-alive connection was reset before answering. */
  connectionRetries: number;
}

export interface PostOptions {
  /** The newNonce URL, for when the pool is empty. */
  nonceUrl: string;
  /** Account URL for a `kid` header; omit to send the signer's `jwk` (newAccount, revoke by certificate key). */
  kid?: string;
  accept?: string;
  signal?: AbortSignal;
}

type Attempt = { ok: true; res: HttpResponse } | { ok: false; error: unknown; retryable: boolean };

/**
 * One transport can be shared by many AcmeClient instances (nonces are not tied to an account),
 * which is what a load generator wants: one pool of keep-alive connections and one nonce pool.
 */
export class HttpTransport {
  readonly timeoutMs: number;
  readonly userAgent: string;
  readonly maxResponseBytes: number;
  readonly maxRequestBytes: number;
  readonly stats: TransportStats = { requests: 0, nonceFetches: 0, badNonceRetries: 0, connectionRetries: 0 };
  readonly #tlsAgent: TlsAgent;
  readonly #plainAgent: HttpAgent;
  readonly #nonces: string[] = [];

  constructor(opts: HttpTransportOptions = {}) {
    this.timeoutMs = positive(opts.timeoutMs, DEFAULT_TIMEOUT_MS, 'timeoutMs');
    this.maxResponseBytes = positive(opts.maxResponseBytes, DEFAULT_MAX_RESPONSE_BYTES, 'maxResponseBytes');
    this.maxRequestBytes = positive(opts.maxRequestBytes, DEFAULT_MAX_REQUEST_BYTES, 'maxRequestBytes');
    this.userAgent = opts.userAgent ?? DEFAULT_USER_AGENT;
    const maxSockets = opts.maxSockets ?? Number.POSITIVE_INFINITY;
    this.#tlsAgent = new TlsAgent({
      keepAlive: true,
      maxSockets,
      ...(opts.caBundle ? { ca: opts.caBundle } : {}),
    });
    this.#plainAgent = new PlainAgent({ keepAlive: true, maxSockets });
  }

  /** Nonces currently pooled. */
  get pooledNonces(): number {
    return this.#nonces.length;
  }

  /** Adds a nonce to the pool (every Replay-Nonce the transport sees goes here). */
  putNonce(nonce: string): void {
    if (this.#nonces.length >= MAX_POOLED_NONCES) this.#nonces.shift();
    this.#nonces.push(nonce);
  }

  /** A fresh nonce: the newest pooled one, else one from HEAD newNonce (RFC 8555 §7.2). */
  async takeNonce(nonceUrl: string, signal?: AbortSignal): Promise<string> {
    const pooled = this.#nonces.pop();
    if (pooled !== undefined) return pooled;
    this.stats.nonceFetches++;
    const res = await this.request('HEAD', nonceUrl, { signal, keepNonce: true });
    const nonce = replayNonce(res);
    if (nonce === undefined) throw new AcmeTransportError('newNonce response has no Replay-Nonce', nonceUrl);
    return nonce;
  }

  /**
   * A JWS POST (RFC 8555 §6.2): protected header {alg, nonce, url, kid | jwk}. `payload` '' makes a
   * POST-as-GET (§6.3). A badNonce answer is retried once with the nonce that answer carried (§6.5).
   * Throws AcmeProblemError for problem documents.
   */
  async post(url: string, payload: object | '', signer: JwsSigner, opts: PostOptions): Promise<HttpResponse> {
    const encoded = encodePayload(payload);
    const headers = { 'content-type': 'application/jose+json', accept: opts.accept ?? 'application/json' };
    let nonce = await this.takeNonce(opts.nonceUrl, opts.signal);
    for (let attempt = 0; ; attempt++) {
      const header = opts.kid === undefined ? { jwk: signer.jwk, nonce, url } : { kid: opts.kid, nonce, url };
      const body = JSON.stringify(signer.sign(header, encoded));
      const res = await this.#send('POST', url, body, headers, opts.signal);
      const next = replayNonce(res);
      if (res.status < 400) {
        if (next !== undefined) this.putNonce(next);
        return res;
      }
      const error = responseError(res);
      if (attempt === 0 && error instanceof AcmeProblemError && error.isType('badNonce')) {
        this.stats.badNonceRetries++;
        nonce = next ?? (await this.takeNonce(opts.nonceUrl, opts.signal));
        continue;
      }
      if (next !== undefined) this.putNonce(next);
      throw error;
    }
  }

  /** An unauthenticated request (GET directory, HEAD newNonce). Pools any Replay-Nonce unless keepNonce. */
  async request(
    method: 'GET' | 'HEAD',
    url: string,
    opts: { accept?: string; signal?: AbortSignal; keepNonce?: boolean } = {},
  ): Promise<HttpResponse> {
    const res = await this.#send(
      method,
      url,
      undefined,
      { accept: opts.accept ?? 'application/json' },
      opts.signal,
    );
    if (res.status >= 400) throw responseError(res);
    if (!opts.keepNonce) {
      const nonce = replayNonce(res);
      if (nonce !== undefined) this.putNonce(nonce);
    }
    return res;
  }

  /** Closes pooled connections. In-flight requests fail; the transport must not be used afterwards. */
  close(): void {
    this.#tlsAgent.destroy();
    this.#plainAgent.destroy();
  }

  async #send(
    method: string,
    url: string,
    body: string | undefined,
    headers: Record<string, string>,
    signal: AbortSignal | undefined,
  ): Promise<HttpResponse> {
    signal?.throwIfAborted();
    if (body !== undefined && Buffer.byteLength(body) > this.maxRequestBytes) {
      throw new AcmeTransportError(`request body exceeds ${this.maxRequestBytes} bytes`, url);
    }
    const first = await this.#attempt(method, url, body, headers, signal);
    if (first.ok) return first.res;
    if (!first.retryable) throw first.error;
    // Node's documented keep-alive race: the server closed an idle connection as we reused it,
    // so the request was not read. The same bytes (same nonce) go out once more.
    this.stats.connectionRetries++;
    const second = await this.#attempt(method, url, body, headers, signal);
    if (second.ok) return second.res;
    throw second.error;
  }

  #attempt(
    method: string,
    url: string,
    body: string | undefined,
    headers: Record<string, string>,
    signal: AbortSignal | undefined,
  ): Promise<Attempt> {
    let target: URL;
    try {
      target = new URL(url);
    } catch {
      return Promise.resolve({ ok: false, error: new TypeError(`invalid URL ${url}`), retryable: false });
    }
    const tls = target.protocol === 'https:';
    if (!tls && target.protocol !== 'http:') {
      return Promise.resolve({
        ok: false,
        error: new TypeError(`unsupported URL scheme ${url}`),
        retryable: false,
      });
    }
    this.stats.requests++;
    const allHeaders: Record<string, string | number> = { ...headers, 'user-agent': this.userAgent };
    if (body !== undefined) allHeaders['content-length'] = Buffer.byteLength(body);
    const limit = this.maxResponseBytes;
    return new Promise<Attempt>((resolve) => {
      let settled = false;
      let responded = false;
      const finish = (result: Attempt) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        resolve(result);
      };
      const fail = (error: unknown, retryable = false) => finish({ ok: false, error, retryable });
      const options = { method, headers: allHeaders, agent: tls ? this.#tlsAgent : this.#plainAgent };
      const req = (tls ? tlsRequest : plainRequest)(target, options, (res) => {
        responded = true;
        const declared = Number(res.headers['content-length']);
        if (declared > limit) {
          req.destroy();
          fail(
            new AcmeTransportError(`response exceeds ${limit} bytes`, url, { statusCode: res.statusCode }),
          );
          return;
        }
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > limit) {
            req.destroy();
            fail(
              new AcmeTransportError(`response exceeds ${limit} bytes`, url, { statusCode: res.statusCode }),
            );
          } else chunks.push(chunk);
        });
        res.on('end', () =>
          finish({
            ok: true,
            res: {
              url,
              status: res.statusCode ?? 0,
              headers: res.headers,
              body: Buffer.concat(chunks, size),
            },
          }),
        );
        res.on('error', (cause) => fail(transportError(url, cause)));
      });
      const timer = setTimeout(() => {
        req.destroy();
        fail(new AcmeTimeoutError(`${method} request`, url, this.timeoutMs));
      }, this.timeoutMs);
      const onAbort = () => {
        req.destroy();
        fail(signal?.reason);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      req.on('error', (cause: NodeJS.ErrnoException) => {
        const retryable =
          !responded && req.reusedSocket && (cause.code === 'ECONNRESET' || cause.code === 'EPIPE');
        fail(transportError(url, cause), retryable);
      });
      req.end(body);
    });
  }
}

function transportError(url: string, cause: unknown): AcmeClientError {
  if (cause instanceof AcmeClientError) return cause;
  const message = cause instanceof Error ? cause.message : String(cause);
  return new AcmeTransportError(`request failed: ${message}`, url, { cause });
}

function positive(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (!Number.isFinite(value) || value <= 0) throw new TypeError(`${name} must be a positive number`);
  return value;
}

/** The error for a response with status >= 400: its problem document, else a transport error. */
export function responseError(res: HttpResponse): AcmeClientError {
  const type = String(res.headers['content-type'] ?? '');
  const problem = parseJsonObject(res.body) as ProblemJson | undefined;
  if (problem && typeof problem.type === 'string') return new AcmeProblemError(problem, res.status, res.url);
  const detail = type.startsWith('application/problem+json') ? ' with an unparseable problem document' : '';
  return new AcmeTransportError(`HTTP ${res.status}${detail}`, res.url, { statusCode: res.status });
}

function parseJsonObject(body: Buffer): Record<string, unknown> | undefined {
  if (body.length === 0) return undefined;
  try {
    const value: unknown = JSON.parse(body.toString('utf8'));
    return value !== null && typeof value === 'object' && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

/** The response body as a JSON object; AcmeTransportError when it is not one. */
export function jsonBody<T>(res: HttpResponse): T {
  const value = parseJsonObject(res.body);
  if (value === undefined)
    throw new AcmeTransportError(`expected a JSON object (HTTP ${res.status})`, res.url);
  return value as T;
}

export function replayNonce(res: HttpResponse): string | undefined {
  const value = res.headers['replay-nonce'];
  return typeof value === 'string' && value.length > 0 ? value : undefined;
}

/** The absolute Location URL (RFC 8555 §7.3, §7.4: created resources). */
export function location(res: HttpResponse): string {
  const value = res.headers.location;
  if (typeof value !== 'string' || value === '')
    throw new AcmeTransportError('response has no Location header', res.url);
  return new URL(value, res.url).href;
}

/** Absolute targets of the RFC 8288 Link headers with the given rel. */
export function links(res: HttpResponse, rel: string): string[] {
  const raw = res.headers.link;
  if (raw === undefined) return [];
  const out: string[] = [];
  const re = /<([^>]*)>((?:\s*;\s*[^;,]+)*)/g;
  for (const header of Array.isArray(raw) ? raw : [raw]) {
    for (let m = re.exec(header); m; m = re.exec(header)) {
      const relParam = /;\s*rel\s*=\s*(?:"([^"]*)"|([^\s;,]+))/i.exec(m[2] ?? '');
      const rels = (relParam?.[1] ?? relParam?.[2] ?? '').toLowerCase().split(/\s+/);
      if (rels.includes(rel)) out.push(new URL(m[1]!, res.url).href);
    }
  }
  return out;
}

/** Retry-After (RFC 9110 §10.2.3) in milliseconds from `now`: delay-seconds or an HTTP-date. */
export function retryAfterMs(res: HttpResponse, now = Date.now()): number | undefined {
  const value = res.headers['retry-after'];
  if (typeof value !== 'string' || value.trim() === '') return undefined;
  if (/^\s*\d+\s*$/.test(value)) return Number(value) * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}
