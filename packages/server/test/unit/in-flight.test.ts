import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import Fastify from 'fastify';
import { InFlightRequests } from '../../src/wfe/in-flight.ts';

describe('in-flight requests (when signature checks move to the thread pool)', () => {
  it('counts requests from arrival until their response closes, aborted ones included', async () => {
    const inFlight = new InFlightRequests();
    const app = Fastify();
    inFlight.track(app);
    const seen: boolean[] = [];
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    app.get('/wait', async () => {
      seen.push(inFlight.busy());
      await gate;
      return 'ok';
    });
    app.get('/now', async () => {
      seen.push(inFlight.busy());
      return 'ok';
    });
    await app.listen({ host: '127.0.0.1', port: 0 });
    const { port } = app.server.address() as AddressInfo;
    const get = (path: string) =>
      new Promise<number>((resolve, reject) =>
        http
          .get({ host: '127.0.0.1', port, path }, (res) =>
            res.resume().on('end', () => resolve(res.statusCode!)),
          )
          .on('error', reject),
      );
    try {
      assert.equal(await get('/now'), 200);
      assert.deepEqual(seen, [false], 'alone: checked on the event loop');
      const waiting = get('/wait');
      while (inFlight.count < 1) await new Promise((r) => setTimeout(r, 5));
      assert.equal(await get('/now'), 200);
      assert.equal(seen.at(-1), true, 'another request in flight: busy');
      // A client that gives up: its response closes, the count goes down.
      const aborted = http.get({ host: '127.0.0.1', port, path: '/wait' });
      aborted.on('error', () => {});
      while (inFlight.count < 2) await new Promise((r) => setTimeout(r, 5));
      aborted.destroy();
      while (inFlight.count > 1) await new Promise((r) => setTimeout(r, 5));
      release();
      assert.equal(await waiting, 200);
      while (inFlight.count > 0) await new Promise((r) => setTimeout(r, 5));
      assert.equal(inFlight.count, 0);
    } finally {
      release();
      await app.close();
    }
  });
});
