import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import Fastify from 'fastify';
import { lazyChildLoggerFactory, loggerOptions } from '../../src/logging.ts';

function capture() {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      for (const line of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(line));
      done();
    },
  });
  return { lines, stream };
}

describe('per-request loggers made on first use', () => {
  it('a request that logs nothing at an enabled level makes no child; one that does logs with its id, redacted', async () => {
    const { lines, stream } = capture();
    const app = Fastify({
      logger: { ...(loggerOptions('warn', undefined) as object), stream },
      childLoggerFactory: lazyChildLoggerFactory as never,
      genReqId: () => 'req-1',
    });
    let children = 0;
    const original = app.log.child;
    app.log.child = function (this: typeof app.log, ...args: Parameters<typeof original>) {
      children++;
      return original.apply(this, args);
    } as typeof original;
    app.get('/quiet', async (request) => {
      request.log.info('below the level');
      request.log.debug({ a: 1 }, 'also below');
      assert.equal(
        (request.log as unknown as { isLevelEnabled(l: string): boolean }).isLevelEnabled('info'),
        false,
      );
      return 'ok';
    });
    app.get('/loud', async (request) => {
      request.log.warn({ signature: 'secret-sig', token: 'secret-token' }, 'something happened');
      request.log.child({ part: 'x' }).error('from a grandchild');
      return 'ok';
    });
    try {
      assert.equal((await app.inject('/quiet')).statusCode, 200);
      assert.equal(children, 0, 'no child logger for a request that logged nothing visible');
      assert.equal(lines.length, 0);
      assert.equal((await app.inject('/loud')).statusCode, 200);
      // One for the request; pino children inherit from their parent, so the grandchild counts too.
      assert.equal(children, 2);
      const warn = lines.find((l) => l.msg === 'something happened')!;
      assert.equal(warn.reqId, 'req-1');
      assert.equal(warn.signature, '[Redacted]');
      assert.equal(warn.token, '[Redacted]');
      const grandchild = lines.find((l) => l.msg === 'from a grandchild')!;
      assert.equal(grandchild.reqId, 'req-1');
      assert.equal(grandchild.part, 'x');
    } finally {
      await app.close();
    }
  });

  it('works when logging is off (Fastify no-op logger) and with a route log level', async () => {
    const off = Fastify({ logger: false, childLoggerFactory: lazyChildLoggerFactory as never });
    off.get('/', async (request) => {
      request.log.error('nowhere');
      return 'ok';
    });
    assert.equal((await off.inject('/')).statusCode, 200);
    await off.close();

    const { lines, stream } = capture();
    const app = Fastify({
      logger: { ...(loggerOptions('warn', undefined) as object), stream },
      childLoggerFactory: lazyChildLoggerFactory as never,
    });
    app.get('/verbose', { logLevel: 'debug' }, async (request) => {
      request.log.debug('visible on this route');
      return 'ok';
    });
    assert.equal((await app.inject('/verbose')).statusCode, 200);
    assert.ok(lines.some((l) => l.msg === 'visible on this route'));
    await app.close();
  });
});
