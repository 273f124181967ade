/**
 * @akamu/client against a second real ACME server besides Pebble: Caddy's `acme_server` (Debian package
 * `caddy`, which embeds Smallstep's step-ca), started the way the bench starts it
 * (bench/targets/caddy.ts). Caddy validates http-01 on port 80 only, so the Http01Solver binds
 * 127.0.0.1:80, which needs root (CI runs as root). Account, issuance for an IP address, key change
 * (which step-ca answers 501: the client reports the problem and keeps its key), revocation (and the
 * second revocation refused), deactivation.
 */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { caddy } from '../../../bench/targets/caddy.ts';
import type { RunningTarget } from '../../../bench/targets/target.ts';
import { requireTool } from '../../../test/helpers/akamu-process.ts';
import { AcmeClient, AcmeProblemError, generateKey, Http01Solver, obtainCertificate } from '../src/index.ts';

function skipReason(): string | false {
  if (!requireTool('caddy')) return 'caddy is not installed: apt-get install caddy';
  if (process.getuid?.() === 0) return false;
  const message = "Caddy's acme_server validates http-01 on port 80 only, which needs root";
  if (process.env.CI === 'true') throw new Error(`${message}, and CI=true requires this test`);
  process.stderr.write(`\n*** WARNING: ${message}; skipping the Caddy acme_server client test ***\n\n`);
  return message;
}
const skip = skipReason();

describe("the client against Caddy's acme_server (step-ca)", { skip, timeout: 120_000 }, () => {
  let dir: string;
  let server: RunningTarget;
  let solver: Http01Solver;
  let client: AcmeClient;
  let certificatePem: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'akamu-client-caddy-'));
    server = await caddy.start({ workDir: dir, http01Port: 80 });
    solver = new Http01Solver({ port: 80, host: '127.0.0.1' });
    await solver.start();
    client = new AcmeClient({
      directoryUrl: server.directoryUrl,
      accountKey: generateKey('ec:P-256'),
      caBundle: server.caBundle,
      timeoutMs: 30_000,
    });
  });

  after(async () => {
    client?.close();
    await solver?.stop();
    await server?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('registers an account', async () => {
    const { account, created } = await client.newAccount({
      termsOfServiceAgreed: true,
      contact: ['mailto:ops@example.com'],
    });
    assert.equal(account.status, 'valid');
    assert.equal(created, true);
    assert.match(client.accountUrl ?? '', /^https:\/\/localhost:\d+\/acme\/local\/account\//);
  });

  test('obtains a certificate for 127.0.0.1 over http-01', async () => {
    const obtained = await obtainCertificate(client, {
      identifiers: [{ type: 'ip', value: '127.0.0.1' }],
      solvers: [solver],
    });
    const [leaf] = obtained.certificatePem.match(
      /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g,
    )!;
    const cert = new X509Certificate(leaf!);
    assert.ok(cert.checkIP('127.0.0.1'), cert.subjectAltName);
    assert.ok(cert.checkPrivateKey(obtained.certificateKey));
    certificatePem = leaf!;
  });

  test('key change, which step-ca does not implement: a 501 problem, and the old key keeps working', async () => {
    await assert.rejects(client.keyChange(generateKey('ec:P-384')), (e: unknown) => {
      assert.ok(e instanceof AcmeProblemError, String(e));
      assert.equal(e.status, 501);
      return true;
    });
    assert.equal((await client.getAccount()).status, 'valid');
  });

  test('revokes the certificate; a second revocation is an ACME problem', async () => {
    const der = new X509Certificate(certificatePem).raw;
    await client.revokeCertificate(der, { reason: 4 });
    await assert.rejects(client.revokeCertificate(der, { reason: 4 }), (e: unknown) => {
      assert.ok(e instanceof AcmeProblemError, String(e));
      return true;
    });
  });

  test('deactivates the account', async () => {
    assert.equal((await client.deactivateAccount()).status, 'deactivated');
  });
});
