/**
 * uacme (the C client on libcurl + GnuTLS, Debian package `uacme`) and its tls-alpn-01 responder ualpn
 * against a real `akamu serve`: registration, one certificate for two names over http-01 (a hook writes
 * into a web root served on va.http01_port), forced renewal, a certificate for an IP address over
 * tls-alpn-01 (RFC 8738: ualpn answers for the reverse-DNS name on va.tls_alpn01_port), revocation by
 * the account key and by the certificate key, alreadyRevoked on a second revocation, and deactivation.
 *
 * uacme trusts only the system CA bundle and has no option or variable to change it, so it runs in a
 * mount namespace of its own where /etc/ssl/certs/ca-certificates.crt is akamu's root: a bind mount no
 * other process sees, which needs root (CI runs as root).
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { access, copyFile, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type AkamuProcess, freePort, requireTool } from '../helpers/akamu-process.ts';
import { opensslDnsNames, opensslVerifyFullChain, serialOf } from '../helpers/openssl.ts';
import { pollUntil } from '../helpers/poll.ts';
import { describeResult, runTool, type ToolResult } from '../helpers/run-tool.ts';
import { startWebrootInterop, type WebrootInterop, type WebrootServer } from '../helpers/webroot-server.ts';

const NAMES = ['mail.example.localhost', 'lists.example.localhost'];
const IP = '127.0.0.1';
const HOOKS = resolve(import.meta.dirname, 'hooks');
const SYSTEM_BUNDLE = '/etc/ssl/certs/ca-certificates.crt';

function skipReason(): string | false {
  const tools = ['uacme', 'ualpn', 'unshare', 'openssl'].filter((tool) => !requireTool(tool));
  if (tools.length > 0) return `${tools.join(', ')} not installed: apt-get install uacme util-linux openssl`;
  if (process.getuid?.() === 0) return false;
  const message = 'uacme runs in a mount namespace with akamu root as its CA bundle, which needs root';
  if (process.env.CI === 'true') throw new Error(`${message}, and CI=true requires the uacme tests`);
  process.stderr.write(`\n*** WARNING: ${message}; skipping the uacme tests ***\n\n`);
  return message;
}
const skip = skipReason();

describe('uacme and ualpn against akamu', { timeout: 240_000 }, () => {
  let fixture: WebrootInterop;
  let akamu: AkamuProcess;
  let webroot: WebrootServer;
  let ualpn: ChildProcess | undefined;
  let ualpnLog = '';
  let dir: string;
  const serials: string[] = [];

  before(async () => {
    if (skip) return;
    const [alpnPort, backendPort] = [await freePort(), await freePort()];
    fixture = await startWebrootInterop('uacme', { va: { tls_alpn01_port: alpnPort } });
    ({ dir, webroot, akamu } = fixture);
    // ualpn in server mode: answers acme-tls/1 for the identifiers its clients authorize, and proxies
    // every other connection to a backend (required; nothing listens there and nothing goes there).
    ualpn = spawn(
      'ualpn',
      [
        '--bind', `127.0.0.1@${alpnPort}`,
        '--connect', `127.0.0.1@${backendPort}`,
        '--proxy', '0',
        '--num-workers', '1',
        '--sock', join(dir, 'ualpn.sock'),
        '--pidfile', join(dir, 'ualpn.pid'),
        '--verbose', '--verbose',
      ], // biome-ignore format: one flag per line
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    ualpn.stdout?.on('data', (chunk: Buffer) => {
      ualpnLog += chunk.toString('utf8');
    });
    ualpn.stderr?.on('data', (chunk: Buffer) => {
      ualpnLog += chunk.toString('utf8');
    });
    await pollUntil(
      () => access(join(dir, 'ualpn.sock')).then(() => true),
      10_000,
      () => `ualpn did not start:\n${ualpnLog}`,
    );
  });

  after(async () => {
    if (ualpn && ualpn.exitCode === null) {
      const closed = new Promise((done) => ualpn?.once('close', done));
      ualpn.kill('SIGTERM');
      await closed;
    }
    await fixture?.stop();
  });

  const confdir = () => join(dir, 'uacme');
  const certPath = (ident: string) => join(confdir(), ident, 'cert.pem');

  /** uacme with its state in the temp dir, talking to akamu and trusting only akamu's root. */
  function uacme(...args: string[]): Promise<ToolResult> {
    const script = `mount --bind "$0" ${SYSTEM_BUNDLE} && exec "$@"`;
    return runTool(
      'unshare',
      [
        '--mount', '--propagation', 'private',
        'sh', '-c', script, akamu.rootCertPath,
        'uacme', '--verbose', '--confdir', confdir(), '--acme-url', akamu.directoryUrl, '--type', 'EC',
        ...args,
      ], // biome-ignore format: one flag per line
      {
        env: { UACME_CHALLENGE_DIR: webroot.challengeDir, UALPN_SOCK: join(dir, 'ualpn.sock') },
        timeoutMs: 120_000,
      },
    );
  }

  function assertOk(r: ToolResult): void {
    const context = `\n--- ualpn ---\n${ualpnLog}\n--- akamu stderr ---\n${akamu.stderr}`;
    assert.equal(r.code, 0, describeResult(r, context));
  }

  /** uacme's cert.pem is the leaf then its chain: verify it against akamu's root; returns the leaf. */
  async function checkIssued(ident: string, label: string): Promise<X509Certificate> {
    const leaf = await opensslVerifyFullChain(akamu.rootCertPath, certPath(ident), dir, label);
    return new X509Certificate(leaf);
  }

  test('registers and obtains one certificate for two names over http-01', { skip }, async () => {
    assertOk(await uacme('--yes', 'new', 'admin@example.com'));
    assertOk(await uacme('--hook', join(HOOKS, 'uacme-http01-hook.sh'), 'issue', ...NAMES));
    const leaf = await checkIssued(NAMES[0]!, 'issued');
    assert.deepEqual(await opensslDnsNames(join(dir, 'issued.leaf.pem')), [...NAMES].sort());
    serials.push(leaf.serialNumber);
    const fetched = webroot.requests.filter((r) => r.startsWith('GET /.well-known/acme-challenge/'));
    assert.ok(fetched.length >= NAMES.length, `akamu fetched ${fetched.length} challenge files`);
  });

  test('renews it to a new certificate with --force', { skip }, async () => {
    assert.equal(serials.length, 1, 'issuance must have succeeded first');
    assertOk(await uacme('--force', '--hook', join(HOOKS, 'uacme-http01-hook.sh'), 'issue', ...NAMES));
    const renewed = (await checkIssued(NAMES[0]!, 'renewed')).serialNumber;
    assert.notEqual(renewed, serials[0], 'the renewed certificate has a new serial');
    serials.push(renewed);
  });

  test('obtains a certificate for an IP address over tls-alpn-01 answered by ualpn', { skip }, async () => {
    // The http-01 hook is not offered here: the ualpn hook declines every other type.
    assertOk(await uacme('--hook', join(HOOKS, 'uacme-ualpn-hook.sh'), 'issue', IP));
    const leaf = await checkIssued(IP, 'ip');
    assert.equal(leaf.subjectAltName, `IP Address:${IP}`);
    // RFC 8738 §6: the validator's SNI is the reverse-DNS name of the address.
    assert.match(ualpnLog, /new auth \S+ for 127\.0\.0\.1 \(1\.0\.0\.127\.in-addr\.arpa\)/);
  });

  test('revokes by the account key and by the certificate key; a second revocation fails', {
    skip,
  }, async () => {
    assert.equal(serials.length, 2, 'renewal must have succeeded first');
    const copy = join(dir, 'copy.pem');
    await copyFile(certPath(NAMES[0]!), copy);
    assertOk(await uacme('--reason', '1', 'revoke', certPath(NAMES[0]!)));
    // uacme renames what it revoked; the copy is the same certificate.
    assert.equal(serialOf(await readFile(copy, 'utf8')), serials[1]);
    const again = await uacme('revoke', copy);
    assert.ok(!again.timedOut, describeResult(again));
    assert.notEqual(again.code, 0, `uacme accepted a second revocation:\n${describeResult(again)}`);
    assert.match(again.stderr, /urn:ietf:params:acme:error:alreadyRevoked/, describeResult(again));
    // RFC 8555 §7.6: signed with the certificate's own key (a jwk JWS), not the account's.
    assertOk(await uacme('revoke', certPath(IP), join(confdir(), 'private', IP, 'key.pem')));
  });

  test('deactivates the account, which then cannot order', { skip }, async () => {
    assertOk(await uacme('deactivate'));
    const refused = await uacme('--force', '--hook', join(HOOKS, 'uacme-http01-hook.sh'), 'issue', ...NAMES);
    assert.notEqual(refused.code, 0, `a deactivated account ordered:\n${describeResult(refused)}`);
    assert.match(refused.stderr, /urn:ietf:params:acme:error:unauthorized/, describeResult(refused));
  });
});
