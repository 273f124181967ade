import type { FastifyInstance } from 'fastify';

/**
 * Requests this server is working on. Signature checks move to libuv's thread pool only while another
 * request is in flight: then the event loop serves that request while a pool thread verifies (another
 * core's work); alone, a synchronous check is quicker than the hand-off to a pool thread and back.
 */
export class InFlightRequests {
  #count = 0;

  get count(): number {
    return this.#count;
  }

  /** True when some request besides the caller's is in flight. */
  busy(): boolean {
    return this.#count > 1;
  }

  /** Counts from onRequest until the response closes (sent, failed or aborted: 'close' always fires). */
  track(app: FastifyInstance): void {
    app.addHook('onRequest', (_request, reply, done) => {
      this.#count++;
      reply.raw.once('close', () => this.#count--);
      done();
    });
  }
}
