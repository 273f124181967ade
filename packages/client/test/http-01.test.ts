import assert from 'node:assert/strict';
import { request } from 'node:http';
import { test } from 'node:test';
import type { ChallengeJson } from '@akamu/protocol';
import { Http01Solver } from '../src/index.ts';

function get(
  port: number,
  path: string,
  method = 'GET',
): Promise<{ status: number; type: string; body: string }> {
  return new Promise((resolve, reject) => {
    request({ host: '127.0.0.1', port, path, method, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        body += c;
      });
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type']), body }),
      );
    })
      .on('error', reject)
      .end();
  });
}

const identifier = { type: 'dns', value: 'a.example' };
const challenge = (token: string): ChallengeJson => ({
  type: 'http-01',
  url: 'https://ca/chall',
  status: 'pending',
  token,
});

test('Http01Solver serves key authorizations under /.well-known/acme-challenge/ and 404s the rest', async () => {
  const solver = new Http01Solver({ port: 0, host: '127.0.0.1' });
  await assert.rejects(solver.present(identifier, challenge('tok'), 'tok.thumb'), /not started/);
  await solver.start();
  try {
    assert.ok(solver.listening);
    assert.ok(solver.port > 0);
    await solver.present(identifier, challenge('tok_1-A'), 'tok_1-A.thumb');
    assert.deepEqual(await get(solver.port, '/.well-known/acme-challenge/tok_1-A'), {
      status: 200,
      type: 'text/plain',
      body: 'tok_1-A.thumb',
    });
    assert.equal((await get(solver.port, '/.well-known/acme-challenge/tok_1-A', 'HEAD')).status, 200);
    assert.equal((await get(solver.port, '/.well-known/acme-challenge/tok_1-A', 'POST')).status, 404);
    assert.equal((await get(solver.port, '/.well-known/acme-challenge/other')).status, 404);
    assert.equal((await get(solver.port, '/tok_1-A')).status, 404);
    await assert.rejects(solver.present(identifier, challenge('../etc'), 'x'), TypeError);

    // Presented twice (a shared pending authorization): served until cleaned up twice.
    await solver.present(identifier, challenge('tok_1-A'), 'tok_1-A.thumb');
    await solver.cleanup(identifier, challenge('tok_1-A'));
    assert.equal((await get(solver.port, '/.well-known/acme-challenge/tok_1-A')).status, 200);
    await solver.cleanup(identifier, challenge('tok_1-A'));
    assert.equal((await get(solver.port, '/.well-known/acme-challenge/tok_1-A')).status, 404);
  } finally {
    await solver.stop();
  }
  assert.equal(solver.listening, false);
  await solver.stop();
});

test('Http01Solver.start fails when the port is taken', async () => {
  const first = new Http01Solver({ port: 0, host: '127.0.0.1' });
  await first.start();
  try {
    const second = new Http01Solver({ port: first.port, host: '127.0.0.1' });
    await assert.rejects(second.start(), /EADDRINUSE/);
    assert.equal(second.listening, false);
  } finally {
    await first.stop();
  }
});
