import assert from 'node:assert/strict';
import { createServer, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { Http01Validator } from '../../src/va/http-01.ts';
import { NetworkGuard } from '../../src/va/network-guard.ts';
import { SystemHostResolver } from '../../src/va/resolver.ts';
import { ValidationAuthority } from '../../src/va/validation-authority.ts';

/** va.timeout: a challenge server that accepts the connection and never answers. */
describe('validation timeout (ValidationAuthority)', () => {
  const sockets = new Set<Socket>();
  const silent = createServer((socket) => {
    sockets.add(socket);
    socket.resume(); // read (and drop) the request, so the client's close is seen
    socket.on('close', () => sockets.delete(socket));
  });
  let va: ValidationAuthority;

  before(async () => {
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const port = (silent.address() as { port: number }).port;
    const http01 = new Http01Validator({
      port,
      resolver: new SystemHostResolver(),
      guard: new NetworkGuard(true),
    });
    va = new ValidationAuthority([http01], { concurrency: 4, timeoutMs: 300 });
  });
  after(async () => {
    va.close();
    for (const s of sockets) s.destroy();
    await new Promise((resolve) => silent.close(resolve));
  });

  const request = () => ({
    identifier: { type: 'ip' as const, value: '127.0.0.1' },
    wildcard: false,
    challengeType: 'http-01',
    token: 'tok',
    keyAuthorization: 'tok.thumb',
    accountId: 'acc',
    accountUrl: 'https://ca.test/acme/acct/acc',
  });

  it('ends a validation that gets no answer with a connection problem, and closes its connection', async () => {
    const started = performance.now();
    const outcome = await va.validate(request());
    const elapsed = performance.now() - started;
    assert.equal(
      outcome && 'type' in outcome ? outcome.type : undefined,
      'urn:ietf:params:acme:error:connection',
    );
    assert.match(outcome && 'detail' in outcome ? (outcome.detail ?? '') : '', /timed out after 300 ms/);
    assert.ok(elapsed >= 290 && elapsed < 5_000, `took ${elapsed} ms`);
    assert.equal(va.pending, 0);
    // The hung request was aborted: its socket closes.
    for (let i = 0; i < 50 && sockets.size > 0; i++) await new Promise((r) => setTimeout(r, 20));
    assert.equal(sockets.size, 0);
  });

  it('several at once each time out on their own', async () => {
    const outcomes = await Promise.all(Array.from({ length: 6 }, () => va.validate(request())));
    for (const o of outcomes)
      assert.match(o && 'detail' in o ? (o.detail ?? '') : '', /timed out after 300 ms/);
    assert.equal(va.pending, 0);
  });
});
