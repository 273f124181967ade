/** An endpoint's `rate_limit`: spaces HTTP requests so at most N go out per period. */
import { setTimeout as sleep } from 'node:timers/promises';
import { HttpTransport, type HttpTransportOptions } from '@akamu/client';

export class RequestSpacer {
  readonly intervalMs: number;
  #next = 0;

  constructor(limit: { requests: number; periodMs: number }) {
    this.intervalMs = limit.periodMs / limit.requests;
  }

  /** Resolves when the next request may go out. */
  async take(signal?: AbortSignal): Promise<void> {
    const now = Date.now();
    const at = Math.max(now, this.#next);
    this.#next = at + this.intervalMs;
    if (at > now) await sleep(at - now, undefined, { signal });
  }
}

/** An HttpTransport whose every request (JWS POSTs, directory and nonce fetches) waits for the spacer. */
export class RateLimitedTransport extends HttpTransport {
  readonly #spacer: RequestSpacer;

  constructor(opts: HttpTransportOptions, spacer: RequestSpacer) {
    super(opts);
    this.#spacer = spacer;
  }

  override async post(...args: Parameters<HttpTransport['post']>): ReturnType<HttpTransport['post']> {
    await this.#spacer.take(args[3].signal);
    return super.post(...args);
  }

  override async request(
    ...args: Parameters<HttpTransport['request']>
  ): ReturnType<HttpTransport['request']> {
    await this.#spacer.take(args[2]?.signal);
    return super.request(...args);
  }
}
