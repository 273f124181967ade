import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { AcmeClient, generateKey } from '@akamu/client';
import { freePort, type Pebble, pebbleSkipReason, startPebble } from '../../client/test/pebble.ts';
import { MAIN, runCli, show } from './helpers/run-cli.ts';

/** The standalone responder answers a real tls-alpn-01 validation by Pebble, then stops on SIGTERM. */
describe('akamu tls-alpn-responder', { skip: pebbleSkipReason() }, () => {
  let pebble: Pebble;
  let tlsPort: number;
  before(async () => {
    tlsPort = await freePort();
    pebble = await startPebble({ httpPort: await freePort(), tlsPort });
  });
  after(() => pebble?.stop());

  it('serves the key authorization until stopped; Pebble validates the authorization', async () => {
    const client = new AcmeClient({
      directoryUrl: pebble.directoryUrl,
      accountKey: generateKey('ec:P-256'),
      caBundle: pebble.caBundle,
    });
    try {
      await client.newAccount({ termsOfServiceAgreed: true });
      const { order } = await client.newOrder({ identifiers: [{ type: 'ip', value: '127.0.0.1' }] });
      const authzUrl = order.authorizations[0]!;
      const authz = await client.getAuthorization(authzUrl);
      const challenge = authz.challenges.find((c) => c.type === 'tls-alpn-01')!;
      const child = spawn(
        process.execPath,
        [
          MAIN,
          'tls-alpn-responder',
          '-d',
          '127.0.0.1',
          '--port',
          String(tlsPort),
          '--host',
          '127.0.0.1',
          '--json',
        ],
        {
          stdio: ['ignore', 'pipe', 'pipe'],
          env: { ...process.env, AKAMU_KEY_AUTHORIZATION: client.keyAuthorization(challenge.token) },
        },
      );
      let stdout = '';
      let stderr = '';
      child.stderr.on('data', (c: Buffer) => {
        stderr += c.toString('utf8');
      });
      const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
      try {
        await new Promise<void>((resolve, reject) => {
          child.stdout.on('data', (c: Buffer) => {
            stdout += c.toString('utf8');
            if (stdout.includes('\n')) resolve();
          });
          child.once('close', () => reject(new Error(`responder exited\n${stderr}`)));
        });
        const ready = JSON.parse(stdout) as { ready: boolean; port: number; names: string[] };
        assert.deepEqual(ready, {
          ok: true,
          command: 'tls-alpn-responder',
          ready: true,
          port: tlsPort,
          names: ['127.0.0.1'],
        });
        await client.respondChallenge(challenge.url);
        const valid = await client.waitForAuthorization(authzUrl, { timeoutMs: 30_000 });
        assert.equal(valid.status, 'valid');
        child.kill('SIGTERM');
        assert.equal(await exited, 0, stderr);
      } finally {
        if (child.exitCode === null) child.kill('SIGKILL');
      }
    } finally {
      client.close();
    }
  });

  it('refuses to start without a well-formed key authorization (exit 2) or on a busy port (exit 7)', async () => {
    const none = await runCli(['tls-alpn-responder', '-d', 'a.example', '--port', '0'], {
      env: { AKAMU_KEY_AUTHORIZATION: '' },
    });
    assert.equal(none.code, 2, show(none));
    const busy = await runCli([
      'tls-alpn-responder',
      '-d',
      'a.example',
      '--host',
      '127.0.0.1',
      '--port',
      new URL(pebble.directoryUrl).port,
      '--key-authorization',
      'tok.thumb',
    ]);
    assert.equal(busy.code, 7, show(busy));
  });
});
