import type { Identifier } from '@akamu/protocol';
import type { ChallengeValidator, ValidationOutcome, ValidationRequest } from './validator.ts';
import { problem } from './validator.ts';

/**
 * Runs validations off the request path: a bounded number at once, each with a timeout; the rest wait in
 * a FIFO queue. Stateless: results go to the callback, which the RA records.
 */
export class ValidationAuthority {
  readonly #validators = new Map<string, ChallengeValidator>();
  readonly #concurrency: number;
  readonly #timeoutMs: number;
  readonly #queue: (() => void)[] = [];
  #running = 0;
  #closed = false;

  constructor(validators: ChallengeValidator[], opts: { concurrency: number; timeoutMs: number }) {
    for (const v of validators) this.#validators.set(v.type, v);
    this.#concurrency = opts.concurrency;
    this.#timeoutMs = opts.timeoutMs;
  }

  /** The challenge types offered for an identifier, in registration order. */
  challengeTypesFor(identifier: Identifier, wildcard: boolean): string[] {
    return [...this.#validators.values()].filter((v) => v.supports(identifier, wildcard)).map((v) => v.type);
  }

  /** Extra fields a challenge type adds to its challenge objects (none for most types). */
  challengeFields(type: string, token: string): Record<string, unknown> {
    return this.#validators.get(type)?.challengeFields?.(token) ?? {};
  }

  get pending(): number {
    return this.#queue.length + this.#running;
  }

  /** Validates when a slot is free; never rejects: failures are outcomes. */
  async validate(req: Omit<ValidationRequest, 'signal'>): Promise<ValidationOutcome> {
    const validator = this.#validators.get(req.challengeType);
    if (!validator) return problem('serverInternal', `no validator for ${req.challengeType}`, req.identifier);
    if (this.#running >= this.#concurrency) await new Promise<void>((r) => this.#queue.push(r));
    if (this.#closed) return problem('serverInternal', 'the server is shutting down', req.identifier);
    this.#running++;
    // Not AbortSignal.timeout: its timer would still fire (and build a TimeoutError) long after the
    // validation ended; this one is cleared when it ends.
    const controller = new AbortController();
    const signal = controller.signal;
    const timer = setTimeout(
      () => controller.abort(new DOMException('the validation timed out', 'TimeoutError')),
      this.#timeoutMs,
    );
    try {
      const timedOut = new Promise<never>((_, reject) =>
        signal.addEventListener('abort', () => reject(signal.reason), { once: true }),
      );
      return await Promise.race([validator.validate({ ...req, signal }), timedOut]);
    } catch (e) {
      if (signal.aborted) {
        return problem('connection', `validation timed out after ${this.#timeoutMs} ms`, req.identifier);
      }
      return problem('serverInternal', `validation failed: ${(e as Error).message}`, req.identifier);
    } finally {
      clearTimeout(timer);
      this.#running--;
      this.#queue.shift()?.();
    }
  }

  close(): void {
    this.#closed = true;
    for (const wake of this.#queue.splice(0)) wake();
    for (const v of this.#validators.values()) (v as { close?: () => void }).close?.();
  }
}
