/**
 * Keeps the signed CRLs (RFC 5280 §5) in memory: the complete CRL and, when the operator asks for
 * partitions, one CRL per shard. Requests are served from the cached bytes; a build reads the revoked
 * certificates once, encodes every entry once, and signs each CRL with a new CRL number.
 *
 * Freshness: a revocation through this process marks the CRLs dirty and rebuilds them at once, and a
 * request that arrives before that rebuild finished waits for it, so a CRL fetched after a revocation
 * lists it. A CRL older than `refresh` is rebuilt in the background (the old one is served meanwhile,
 * while it is before its nextUpdate). Revocations made by another process sharing the database appear
 * within `refresh`.
 */
import { createHash } from 'node:crypto';
import { type CrlSigner, encodeCrlEntries, isCrlReason } from '../ca/crl.ts';
import type { Clock } from '../clock.ts';
import { ConfigError } from '../config.ts';
import { crlShardOf } from '../core/crl-shard.ts';
import type { StorageAuthority } from '../sa/storage-authority.ts';

export interface BuiltCrl {
  der: Buffer;
  crlNumber: number;
  thisUpdate: number;
  nextUpdate: number;
  /** A strong validator for HTTP caching: the CRL's scope and number. */
  etag: string;
  entries: number;
}

export interface CrlServiceOptions {
  sa: StorageAuthority;
  signer: CrlSigner;
  clock: Clock;
  lifetimeMs: number;
  refreshMs: number;
  shards: number;
  /** The URL shard n names in its Issuing Distribution Point. */
  shardUrl: (n: number) => string | undefined;
  onError: (err: unknown) => void;
}

/** The scope key of the complete CRL in the crl_numbers table; shards use their number. */
export const FULL_CRL = 'full';

export class CrlService {
  readonly #o: CrlServiceOptions;
  #crls = new Map<string, BuiltCrl>();
  #builtAt = 0;
  /** Revocations seen (incremented by revoked()); a build covers the generation current when it started. */
  #dirtyGen = 0;
  #builtGen = -1;
  #building: Promise<void> | undefined;
  #timer: NodeJS.Timeout | undefined;
  /** Duration of the last build and of its database read, for operators and the benchmark. */
  lastBuildMs = 0;
  lastReadMs = 0;

  constructor(opts: CrlServiceOptions) {
    if (!(opts.refreshMs > 0 && opts.refreshMs < opts.lifetimeMs)) {
      throw new ConfigError('crl.refresh must be positive and shorter than crl.lifetime');
    }
    this.#o = opts;
  }

  get shards(): number {
    return this.#o.shards;
  }

  /** The current CRL of a scope: FULL_CRL or a shard number; undefined for a shard that does not exist. */
  async get(scope: typeof FULL_CRL | number): Promise<BuiltCrl | undefined> {
    if (
      scope !== FULL_CRL &&
      !(this.#o.shards > 1 && Number.isInteger(scope) && scope >= 0 && scope < this.#o.shards)
    ) {
      return undefined;
    }
    const key = String(scope);
    for (;;) {
      const current = this.#crls.get(key);
      const now = this.#o.clock.now();
      if (current && this.#builtGen >= this.#dirtyGen && now < current.nextUpdate) {
        if (now - this.#builtAt >= this.#o.refreshMs) this.#rebuildInBackground();
        return current;
      }
      await this.#build();
    }
  }

  /** A certificate was revoked: rebuild now, and make requests wait until the CRLs list it. */
  revoked(): void {
    this.#dirtyGen++;
    this.#rebuildInBackground();
  }

  /** Builds now (first start) and then whenever the CRLs are older than `refresh`. */
  start(): void {
    this.#rebuildInBackground();
    const period = Math.max(1_000, Math.min(this.#o.refreshMs, 60_000));
    this.#timer = setInterval(() => {
      if (this.#o.clock.now() - this.#builtAt >= this.#o.refreshMs) this.#rebuildInBackground();
    }, period);
    this.#timer.unref();
  }

  async stop(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    await this.#building?.catch(() => {});
  }

  #rebuildInBackground(): void {
    if (this.#building) {
      // Requests after a revocation loop in get() until a build covers it; a running scheduled build
      // needs no second one.
      if (this.#builtGen >= this.#dirtyGen) return;
      this.#building
        .catch(() => {})
        .then(() => (this.#builtGen < this.#dirtyGen ? this.#build() : undefined))
        .catch(this.#o.onError);
      return;
    }
    this.#build().catch(this.#o.onError);
  }

  /** One build at a time; callers share it. */
  #build(): Promise<void> {
    this.#building ??= this.#doBuild().finally(() => {
      this.#building = undefined;
    });
    return this.#building;
  }

  async #doBuild(): Promise<void> {
    const started = performance.now();
    const gen = this.#dirtyGen;
    const { sa, signer, clock, lifetimeMs, shards } = this.#o;
    // Whole seconds: CRL times have no fractions, and thisUpdate must not be later than the build.
    const now = Math.floor(clock.now() / 1000) * 1000;
    // RFC 5280 §5: an entry stays until it appeared on one scheduled CRL issued after the certificate
    // expired; every CRL built within `lifetime` after notAfter still lists it.
    const revoked = await sa.listRevokedCertificates(now - lifetimeMs);
    const readMs = performance.now() - started;
    for (const r of revoked) if (!isCrlReason(r.reason)) r.reason = 0;
    const encoded = encodeCrlEntries(revoked);
    const byShard: Buffer[][] = shards > 1 ? Array.from({ length: shards }, () => []) : [];
    if (shards > 1)
      for (let i = 0; i < revoked.length; i++)
        byShard[crlShardOf(revoked[i]!.serial, shards)]!.push(encoded[i]!);
    const thisUpdate = new Date(now);
    const nextUpdate = new Date(now + lifetimeMs);
    const next = new Map<string, BuiltCrl>();
    const scopes: [string, Buffer[], string | undefined][] = [[FULL_CRL, encoded, undefined]];
    for (let n = 0; n < byShard.length; n++) scopes.push([String(n), byShard[n]!, this.#o.shardUrl(n)]);
    for (const [scope, entries, idp] of scopes) {
      const crlNumber = await sa.nextCrlNumber(scope, now);
      const der = signer.buildEncoded(
        { crlNumber, thisUpdate, nextUpdate, entries: [], ...(idp ? { issuingDistributionPoint: idp } : {}) },
        entries,
      );
      const etag = `"${scope}-${crlNumber}-${createHash('sha256').update(der.subarray(-32)).digest('hex').slice(0, 8)}"`;
      next.set(scope, {
        der,
        crlNumber,
        thisUpdate: now,
        nextUpdate: now + lifetimeMs,
        etag,
        entries: entries.length,
      });
    }
    this.#crls = next;
    this.#builtAt = now;
    if (gen > this.#builtGen) this.#builtGen = gen;
    this.lastBuildMs = performance.now() - started;
    this.lastReadMs = readMs;
  }
}
