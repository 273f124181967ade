import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { NonceService } from './nonce/nonce-service.ts';
import type { PoolStats } from './sa/connect.ts';

/** The events the RA reports; AkamuMetrics implements them as counters (docs/operations.md). */
export interface RaMetrics {
  certificateIssued(): void;
  validation(challengeType: string, outcome: 'valid' | 'invalid'): void;
  eabKeyConsumed(): void;
}

type LatencyChild = { observe(v: number): void };

/**
 * Prometheus metrics (prom-client) on a registry of this server's own (several servers may share a
 * process). Every metric is a counter bumped where the event already happens, or a gauge read at scrape
 * time; the per-request cost is two map lookups, one increment and one histogram observation.
 */
export class AkamuMetrics implements RaMetrics {
  readonly registry = new Registry();
  /** Responses counted in a plain map and handed to prom-client at scrape time (no label hashing per request). */
  readonly #requestCounts = new Map<
    string,
    { labels: { route: string; method: string; status: string }; n: number }
  >();
  readonly #latency = new Histogram({
    name: 'akamu_http_request_duration_seconds',
    help: 'HTTP request latency by route pattern and method',
    labelNames: ['route', 'method'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });
  readonly #issued = new Counter({
    name: 'akamu_certificates_issued_total',
    help: 'Certificates issued (finalizations and STAR renewals)',
    registers: [this.registry],
  });
  readonly #validations = new Counter({
    name: 'akamu_validations_total',
    help: 'Challenge validations by challenge type and outcome (valid, invalid)',
    labelNames: ['type', 'outcome'] as const,
    registers: [this.registry],
  });
  readonly #revocations = new Counter({
    name: 'akamu_revocations_total',
    help: 'Certificates revoked',
    registers: [this.registry],
  });
  readonly #noncesIssued = new Counter({
    name: 'akamu_nonces_issued_total',
    help: 'Replay nonces handed out',
    registers: [this.registry],
  });
  readonly #nonceRedemptions = new Counter({
    name: 'akamu_nonce_redemptions_total',
    help: 'Replay nonces presented, by outcome (accepted, refused: unknown, expired or already used)',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });
  readonly #eab = new Counter({
    name: 'akamu_eab_keys_consumed_total',
    help: 'External account binding keys consumed by a new account',
    registers: [this.registry],
  });
  readonly #rateLimited = new Counter({
    name: 'akamu_rate_limit_refusals_total',
    help: 'Requests refused with rateLimited, by limit',
    labelNames: ['limit'] as const,
    registers: [this.registry],
  });
  readonly #latencyChildren = new Map<string, LatencyChild>();
  readonly #nonceAccepted = this.#nonceRedemptions.labels('accepted');
  readonly #nonceRefused = this.#nonceRedemptions.labels('refused');

  constructor(opts: { poolStats?: () => PoolStats } = {}) {
    collectDefaultMetrics({ register: this.registry, prefix: 'akamu_' });
    const counts = this.#requestCounts;
    new Counter({
      name: 'akamu_http_requests_total',
      help: 'HTTP requests by route pattern, method and status code',
      labelNames: ['route', 'method', 'status'] as const,
      registers: [this.registry],
      collect() {
        this.reset();
        for (const c of counts.values()) this.inc(c.labels, c.n);
      },
    });
    const stats = opts.poolStats;
    if (stats) {
      new Gauge({
        name: 'akamu_db_pool_connections',
        help: 'Database pool connections by state (in_use, idle) and requests waiting for one (waiting)',
        labelNames: ['state'] as const,
        registers: [this.registry],
        collect() {
          const s = stats();
          this.set({ state: 'in_use' }, s.total - s.idle);
          this.set({ state: 'idle' }, s.idle);
          this.set({ state: 'waiting' }, s.waiting);
        },
      });
    }
  }

  /** Counts every response by its route pattern (never the raw URL: unmatched URLs are "unmatched"). */
  observeRequest(request: FastifyRequest, reply: FastifyReply): void {
    const route = request.routeOptions.url ?? 'unmatched';
    const method = request.method;
    const status = reply.statusCode;
    const key = `${method} ${route} ${status}`;
    const count = this.#requestCounts.get(key);
    if (count) count.n++;
    else this.#requestCounts.set(key, { labels: { route, method, status: String(status) }, n: 1 });
    const lkey = `${method} ${route}`;
    let lat = this.#latencyChildren.get(lkey);
    if (!lat) {
      lat = this.#latency.labels(route, method);
      this.#latencyChildren.set(lkey, lat);
    }
    lat.observe(reply.elapsedTime / 1000);
  }

  certificateIssued(): void {
    this.#issued.inc();
  }

  validation(challengeType: string, outcome: 'valid' | 'invalid'): void {
    this.#validations.labels(challengeType, outcome).inc();
  }

  revoked(): void {
    this.#revocations.inc();
  }

  eabKeyConsumed(): void {
    this.#eab.inc();
  }

  rateLimited(limit: string): void {
    this.#rateLimited.labels(limit).inc();
  }

  /** The nonce service with its issues and redemptions counted. */
  countNonces(nonces: NonceService): NonceService {
    return {
      issue: () => {
        this.#noncesIssued.inc();
        return nonces.issue();
      },
      redeem: async (nonce) => {
        const ok = await nonces.redeem(nonce);
        (ok ? this.#nonceAccepted : this.#nonceRefused).inc();
        return ok;
      },
    };
  }

  /** The onResponse hook and GET <path> in the Prometheus text format (no nonce, no ACME headers). */
  register(app: FastifyInstance, path: string): void {
    app.addHook('onResponse', (request, reply, done) => {
      this.observeRequest(request, reply);
      done();
    });
    app.get(path, { config: { acme: false } }, async (_request, reply) =>
      reply.type(this.registry.contentType).send(await this.registry.metrics()),
    );
  }
}
