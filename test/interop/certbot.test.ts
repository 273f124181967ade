/**
 * certbot (EFF's ACME client, Debian package `certbot`) against a real `akamu serve`: account, one
 * certificate for two names over http-01 (certbot's standalone server on akamu's va.http01_port),
 * forced renewal, revocation, and the alreadyRevoked problem on a second revocation.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type AkamuProcess, freePort, requireTool, startAkamu } from '../helpers/akamu-process.ts';
import { opensslDnsNames, opensslVerifyFullChain, serialOf } from '../helpers/openssl.ts';
import { describeResult, runTool, type ToolResult } from '../helpers/run-tool.ts';

const NAMES = ['api.example.localhost', 'www.example.localhost'];
const CERT_NAME = 'interop';

const skip =
  requireTool('certbot') && requireTool('openssl')
    ? false
    : 'certbot or openssl not installed: apt-get install certbot openssl';

describe('certbot against akamu', { timeout: 240_000 }, () => {
  let akamu: AkamuProcess;
  let dir: string;
  let http01Port: number;
  const serials: string[] = [];

  before(async () => {
    if (skip) return;
    dir = await mkdtemp(join(tmpdir(), 'akamu-certbot-'));
    http01Port = await freePort();
    akamu = await startAkamu({ config: { va: { http01_port: http01Port } } });
  });

  after(async () => {
    await akamu?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const configDir = () => join(dir, 'config');
  const live = (file: string) => join(configDir(), 'live', CERT_NAME, file);
  const archive = (file: string) => join(configDir(), 'archive', CERT_NAME, file);
  const certbotLog = () => readFile(join(dir, 'logs', 'letsencrypt.log'), 'utf8');

  /** certbot with its state in the temp dir, talking to akamu and trusting akamu's root. */
  function certbot(...args: string[]): Promise<ToolResult> {
    return runTool(
      'certbot',
      [
        ...args,
        '--non-interactive',
        '--server', akamu.directoryUrl,
        '--config-dir', configDir(),
        '--work-dir', join(dir, 'work'),
        '--logs-dir', join(dir, 'logs'),
      ], // biome-ignore format: one flag per line
      { env: { REQUESTS_CA_BUNDLE: akamu.rootCertPath }, timeoutMs: 120_000 },
    );
  }

  async function assertOk(r: ToolResult): Promise<void> {
    if (r.code === 0) return;
    const log = await certbotLog().catch(() => '(no certbot log)');
    assert.fail(describeResult(r, `\n--- certbot log ---\n${log}\n--- akamu stderr ---\n${akamu.stderr}`));
  }

  /** Verifies one issued full chain against akamu's root and checks its names; returns the leaf serial. */
  async function checkIssued(fullChainPath: string, certPath: string, label: string): Promise<string> {
    const leaf = await opensslVerifyFullChain(akamu.rootCertPath, fullChainPath, dir, label);
    assert.equal(leaf.trim(), (await readFile(certPath, 'utf8')).trim(), `${certPath} is the chain's leaf`);
    assert.deepEqual(await opensslDnsNames(certPath), NAMES);
    return serialOf(leaf);
  }

  test('registers an account', { skip }, async () => {
    await assertOk(await certbot('register', '--agree-tos', '-m', 'admin@example.com'));
    const files = await readdir(join(configDir(), 'accounts'), { recursive: true });
    const regr = files.find((f) => f.endsWith('regr.json'));
    assert.ok(regr, `certbot stored no account: ${files.join(', ')}`);
    const { uri } = JSON.parse(await readFile(join(configDir(), 'accounts', regr), 'utf8')) as {
      uri: string;
    };
    assert.ok(
      uri.startsWith(new URL(akamu.directoryUrl).origin),
      `account URL ${uri} is not on ${akamu.directoryUrl}`,
    );
  });

  test('obtains one certificate for two names over http-01', { skip }, async () => {
    await assertOk(
      await certbot(
        'certonly',
        '--standalone',
        '--preferred-challenges', 'http',
        '--http-01-port', String(http01Port),
        '--cert-name', CERT_NAME,
        ...NAMES.flatMap((name) => ['-d', name]),
      ), // biome-ignore format: one flag per line
    );
    serials.push(await checkIssued(live('fullchain.pem'), live('cert.pem'), 'issued'));
  });

  test('renews it to a new certificate', { skip }, async () => {
    assert.equal(serials.length, 1, 'issuance must have succeeded first');
    await assertOk(
      await certbot('renew', '--cert-name', CERT_NAME, '--force-renewal', '--no-random-sleep-on-renew'),
    );
    // certbot keeps every version: archive/<name>/cert1.pem is the first, cert2.pem the renewal.
    assert.equal(await checkIssued(archive('fullchain1.pem'), archive('cert1.pem'), 'first'), serials[0]);
    const renewed = await checkIssued(live('fullchain.pem'), live('cert.pem'), 'renewed');
    assert.equal(renewed, await checkIssued(archive('fullchain2.pem'), archive('cert2.pem'), 'second'));
    assert.notEqual(renewed, serials[0], 'the renewed certificate has a new serial');
    serials.push(renewed);
  });

  test('revokes it with reason keyCompromise', { skip }, async () => {
    assert.equal(serials.length, 2, 'renewal must have succeeded first');
    await assertOk(
      await certbot(
        'revoke',
        '--cert-path', live('cert.pem'),
        '--reason', 'keycompromise',
        '--no-delete-after-revoke',
      ), // biome-ignore format: one flag per line
    );
  });

  test('a second revocation fails with alreadyRevoked', { skip }, async () => {
    assert.equal(serials.length, 2, 'renewal must have succeeded first');
    const r = await certbot(
      'revoke',
      '--cert-path', live('cert.pem'),
      '--reason', 'keycompromise',
      '--no-delete-after-revoke',
    ); // biome-ignore format: one flag per line
    assert.ok(!r.timedOut, describeResult(r));
    assert.notEqual(r.code, 0, `certbot accepted a second revocation:\n${describeResult(r)}`);
    // certbot 2.1 crashes while printing the problem (a josepy bug), so read it from certbot's log.
    const log = await certbotLog();
    assert.match(
      `${log}\n${r.stderr}`,
      /urn:ietf:params:acme:error:alreadyRevoked/,
      `no alreadyRevoked problem:\n${describeResult(r, `\n--- certbot log ---\n${log}`)}`,
    );
  });
});
