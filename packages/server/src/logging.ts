import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { AddressList } from './core/rate-limit-rules.ts';

/**
 * Structured JSON logs (pino through Fastify): one request id per request, secrets never written.
 * docs/operations.md "Health, metrics and logs".
 */

/** Paths pino replaces with "[Redacted]" wherever they appear in a log object. */
export const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-api-key"]',
  'headers.authorization',
  'headers.cookie',
  'authorization',
  // JWS bodies (RFC 7515 §7.2.1 flattened JSON): the signature, also of a nested EAB JWS.
  'signature',
  '*.signature',
  '*.*.signature',
  '*.*.*.signature',
  // EAB MAC keys (config and storage spellings) and tokens (admin API tokens, bearer tokens).
  'hmac_key',
  '*.hmac_key',
  '*.*.hmac_key',
  'hmacKey',
  '*.hmacKey',
  '*.*.hmacKey',
  'token',
  '*.token',
  '*.*.token',
  'password',
  '*.password',
];

/** A request id a proxy may hand in: short, printable, nothing that could forge a log line. */
const REQUEST_ID = /^[A-Za-z0-9._:@/+=-]{1,128}$/;

/**
 * Fastify's genReqId: the `X-Request-Id` header when the peer is one of `trustedProxies` (addresses or
 * CIDR blocks) and the id is well-formed, else a fresh random UUID.
 */
export function requestIdGenerator(trustedProxies: readonly string[]): (req: IncomingMessage) => string {
  let trusted: AddressList;
  try {
    trusted = new AddressList(trustedProxies);
  } catch {
    // A name Fastify's trustProxy accepts but is no address: trust no header rather than fail the start.
    trusted = new AddressList([]);
  }
  return (req) => {
    const header = req.headers['x-request-id'];
    if (typeof header === 'string' && REQUEST_ID.test(header) && trusted.has(req.socket?.remoteAddress)) {
      return header;
    }
    return randomUUID();
  };
}

/** The pino options of the server: level, redaction; merged under an embedder's own options. */
export function loggerOptions(
  level: string,
  override: boolean | Record<string, unknown> | undefined,
): false | Record<string, unknown> {
  if (override === false) return false;
  const base: Record<string, unknown> = {
    level,
    redact: { paths: REDACTED_PATHS, censor: '[Redacted]' },
  };
  return typeof override === 'object' ? { ...base, ...override } : base;
}

/** The part of a pino logger that Fastify and the server use. */
interface PinoLike {
  level: string;
  isLevelEnabled(level: string): boolean;
  child(bindings: Record<string, unknown>, options?: Record<string, unknown>): PinoLike;
  [method: string]: unknown;
}

const LOG_METHODS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace'] as const;

/**
 * Fastify's childLoggerFactory: the request's child logger (bindings: its request id) is made on its first
 * log line at an enabled level, not for every request. pino runs the bindings of every child through the
 * redaction paths (their wildcards match any key), which cost ~15–20 µs a request whether or not the
 * request ever logs; most requests log nothing at the default level ("warn").
 */
export function lazyChildLoggerFactory(
  logger: PinoLike,
  bindings: Record<string, unknown>,
  options: Record<string, unknown>,
): PinoLike {
  // A route with its own logLevel needs a real child: its level differs from the parent's.
  // So does a logger that is not pino (Fastify's no-op logger when logging is off has no isLevelEnabled).
  if ((options && Object.keys(options).length > 0) || typeof logger.isLevelEnabled !== 'function') {
    return logger.child(bindings, options);
  }
  return new LazyChildLogger(logger, bindings, options) as unknown as PinoLike;
}

/** The request logger of lazyChildLoggerFactory: one small object per request, its methods shared. */
class LazyChildLogger {
  readonly #parent: PinoLike;
  readonly #bindings: Record<string, unknown>;
  readonly #options: Record<string, unknown>;
  #child: PinoLike | undefined;

  constructor(parent: PinoLike, bindings: Record<string, unknown>, options: Record<string, unknown>) {
    this.#parent = parent;
    this.#bindings = bindings;
    this.#options = options;
  }

  #real(): PinoLike {
    this.#child ??= this.#parent.child(this.#bindings, this.#options);
    return this.#child;
  }

  #log(method: (typeof LOG_METHODS)[number], args: unknown[]): void {
    if (!this.#child && !this.#parent.isLevelEnabled(method)) return;
    (this.#real()[method] as (...a: unknown[]) => void)(...args);
  }

  get level(): string {
    return this.#child?.level ?? this.#parent.level;
  }
  set level(value: string) {
    this.#real().level = value;
  }
  isLevelEnabled(level: string): boolean {
    return (this.#child ?? this.#parent).isLevelEnabled(level);
  }
  child(more: Record<string, unknown>, opts?: Record<string, unknown>): PinoLike {
    return this.#real().child(more, opts);
  }
  bindings(): Record<string, unknown> {
    return (this.#real().bindings as () => Record<string, unknown>)();
  }
  silent(): void {}
  fatal(...args: unknown[]): void {
    this.#log('fatal', args);
  }
  error(...args: unknown[]): void {
    this.#log('error', args);
  }
  warn(...args: unknown[]): void {
    this.#log('warn', args);
  }
  info(...args: unknown[]): void {
    this.#log('info', args);
  }
  debug(...args: unknown[]): void {
    this.#log('debug', args);
  }
  trace(...args: unknown[]): void {
    this.#log('trace', args);
  }
}
