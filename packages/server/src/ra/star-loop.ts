import type { RenewalAuthority } from './renewal-authority.ts';

/**
 * The STAR background loop (RFC 8739 §3.1.3): every `intervalMs` it issues the certificates that are due.
 * Passes never overlap; exactly-once issuance per slot comes from storage (RenewalStorage.issueStarSlot),
 * so several processes may run this loop against one database.
 */
export class StarLoop {
  readonly #renewals: RenewalAuthority;
  readonly #intervalMs: number;
  readonly #onError: (err: unknown) => void;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<number> | undefined;

  constructor(renewals: RenewalAuthority, intervalMs: number, onError: (err: unknown) => void) {
    this.#renewals = renewals;
    this.#intervalMs = intervalMs;
    this.#onError = onError;
  }

  start(): void {
    if (this.#timer) return;
    void this.runOnce();
    this.#timer = setInterval(() => void this.runOnce(), Math.max(this.#intervalMs, 100));
    this.#timer.unref();
  }

  /** One pass (also what the timer runs); a pass already under way is joined, not doubled. */
  runOnce(): Promise<number> {
    this.#running ??= this.#renewals
      .renewDue()
      .catch((err) => {
        this.#onError(err);
        return 0;
      })
      .finally(() => {
        this.#running = undefined;
      });
    return this.#running;
  }

  async stop(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#running;
  }
}
