import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { AcmeClient, createCsr, generateKey, Http01Solver, HttpTransport } from '@akamu/client';
import { prepareFlows, runFlow } from '../../bench/flow.ts';
import { akamuFloor } from '../../bench/targets/floor.ts';
import type { RunningTarget } from '../../bench/targets/target.ts';
import { opensslVerifyFullChain } from '../helpers/openssl.ts';

describe('bench calibration server akamu-floor (bench/floor-server.ts)', () => {
  const workDir = mkdtempSync(path.join(tmpdir(), 'akamu-floor-test-'));
  const solver = new Http01Solver({ port: 0 });
  let server: RunningTarget;
  let transport: HttpTransport;

  before(async () => {
    await solver.start();
    server = await akamuFloor.start({ workDir, http01Port: solver.port });
    transport = new HttpTransport({ caBundle: server.caBundle, timeoutMs: 10_000 });
  });
  after(async () => {
    transport?.close();
    await server?.stop();
    await solver.stop();
    rmSync(workDir, { recursive: true, force: true });
  });

  it("completes the bench's flow, validating http-01 against the bench's responder", async () => {
    const directory = await new AcmeClient({
      directoryUrl: server.directoryUrl,
      accountKey: generateKey('ec:P-256'),
      transport,
    }).directory();
    const flows = prepareFlows(3, {
      directoryUrl: server.directoryUrl,
      directory,
      transport,
      identifierFor: () => ({ type: 'ip', value: '127.0.0.1' }),
    });
    const opts = { signal: AbortSignal.timeout(20_000), waitTimeoutMs: 10_000, nonceMethod: 'GET' as const };
    for (const flow of flows) await runFlow(flow, solver, opts);
  });

  it('issues a chain that openssl verifies against its root, and refuses a replayed nonce', async () => {
    const client = new AcmeClient({
      directoryUrl: server.directoryUrl,
      accountKey: generateKey('ec:P-256'),
      transport,
    });
    await client.newAccount({ termsOfServiceAgreed: true });
    const { order } = await client.newOrder({ identifiers: [{ type: 'ip', value: '127.0.0.1' }] });
    const authzUrl = order.authorizations[0]!;
    const authz = await client.getAuthorization(authzUrl);
    const challenge = authz.challenges.find((c) => c.type === 'http-01')!;
    const identifier = { type: 'ip' as const, value: '127.0.0.1' };
    await solver.present(identifier, challenge, client.keyAuthorization(challenge.token));
    await client.respondChallenge(challenge.url);
    assert.equal((await client.waitForAuthorization(authzUrl, { timeoutMs: 10_000 })).status, 'valid');
    const finalized = await client.finalize(
      order,
      createCsr({ key: generateKey('ec:P-256'), ipAddresses: ['127.0.0.1'] }),
    );
    assert.equal(finalized.status, 'valid');
    const { pem } = await client.downloadCertificate(finalized.certificate!);
    const chainFile = path.join(workDir, 'fullchain.pem');
    writeFileSync(chainFile, pem);
    await opensslVerifyFullChain(path.join(workDir, 'ca', 'root.pem'), chainFile, workDir, 'floor');

    // A nonce is single-use (RFC 8555 §6.5): the replay is refused with badNonce, and the client's one
    // retry with the fresh nonce of that answer succeeds.
    const dir = await client.directory();
    const res = await transport.request('GET', dir.newNonce, { keepNonce: true });
    const nonce = res.headers['replay-nonce'] as string;
    transport.putNonce(nonce);
    await client.getAuthorization(authzUrl);
    const retriesBefore = transport.stats.badNonceRetries;
    transport.putNonce(nonce);
    await client.getAuthorization(authzUrl);
    assert.equal(transport.stats.badNonceRetries, retriesBefore + 1);
  });
});
