/**
 * dehydrated (the bash + curl + openssl ACME client, Debian package `dehydrated`) against a real
 * `akamu serve`: registration, one certificate for two names over http-01 (dehydrated writes the
 * challenge files into a web root that a plain HTTP server serves on akamu's va.http01_port), forced
 * renewal, revocation, alreadyRevoked on a second revocation, a certificate over tls-alpn-01 with the
 * RFC 8737 certificate dehydrated makes with the openssl command line (served by a TLS server on
 * va.tls_alpn01_port that reads dehydrated's alpn-certs directory), and account deactivation.
 */
import assert from 'node:assert/strict';
import { mkdir, readFile, realpath, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createSecureContext, createServer, type Server } from 'node:tls';
import { type AkamuProcess, freePort, requireTool } from '../helpers/akamu-process.ts';
import { opensslDnsNames, opensslVerifyFullChain, serialOf } from '../helpers/openssl.ts';
import { describeResult, runTool, type ToolResult } from '../helpers/run-tool.ts';
import { startWebrootInterop, type WebrootInterop, type WebrootServer } from '../helpers/webroot-server.ts';

const NAMES = ['blog.example.localhost', 'media.example.localhost'];

const skip =
  requireTool('dehydrated') && requireTool('openssl')
    ? false
    : 'dehydrated or openssl not installed: apt-get install dehydrated openssl';

describe('dehydrated against akamu', { timeout: 240_000 }, () => {
  let fixture: WebrootInterop;
  let akamu: AkamuProcess;
  let webroot: WebrootServer;
  let dir: string;
  let alpnServer: Server;
  const serials: string[] = [];

  before(async () => {
    if (skip) return;
    const alpnPort = await freePort();
    fixture = await startWebrootInterop('dehydrated', { va: { tls_alpn01_port: alpnPort } });
    ({ dir, webroot, akamu } = fixture);
    await mkdir(join(dir, 'state'));
    // What a web server does for `dehydrated --challenge tls-alpn-01`: answer acme-tls/1 handshakes with
    // the <name>.crt.pem / <name>.key.pem that dehydrated writes into its alpn-certs directory.
    alpnServer = createServer({
      ALPNProtocols: ['acme-tls/1'],
      SNICallback: (name, done) => {
        const file = (ext: string) => join(dir, 'alpn-certs', `${basename(name)}.${ext}.pem`);
        Promise.all([readFile(file('crt')), readFile(file('key'))]).then(
          ([cert, key]) => done(null, createSecureContext({ cert, key })),
          (error: Error) => done(error),
        );
      },
    });
    await new Promise<void>((done) => alpnServer.listen(alpnPort, '127.0.0.1', done));
    // dehydrated reads its settings from a shell file; CURL_CA_BUNDLE makes its curl trust akamu's root.
    await writeFile(
      join(dir, 'config'),
      [
        `CA="${akamu.directoryUrl}"`,
        `BASEDIR="${join(dir, 'state')}"`,
        `WELLKNOWN="${webroot.challengeDir}"`,
        'CONTACT_EMAIL="admin@example.com"',
        'KEY_ALGO=prime256v1',
        'CHALLENGETYPE="http-01"',
        '',
      ].join('\n'),
    );
  });

  after(async () => {
    alpnServer?.close();
    await fixture?.stop();
  });

  const live = (file: string) => join(dir, 'state', 'certs', NAMES[0]!, file);

  function dehydrated(...args: string[]): Promise<ToolResult> {
    return runTool('dehydrated', ['--config', join(dir, 'config'), ...args], {
      env: { CURL_CA_BUNDLE: akamu.rootCertPath },
      timeoutMs: 120_000,
    });
  }

  function assertOk(r: ToolResult): void {
    assert.equal(
      r.code,
      0,
      describeResult(
        r,
        `\n--- web root requests ---\n${webroot.requests.join('\n')}\n--- akamu stderr ---\n${akamu.stderr}`,
      ),
    );
  }

  /** The live certificate verifies against akamu's root and names exactly NAMES; returns its serial. */
  async function checkIssued(label: string): Promise<string> {
    const leaf = await opensslVerifyFullChain(akamu.rootCertPath, live('fullchain.pem'), dir, label);
    assert.equal((await readFile(live('cert.pem'), 'utf8')).trim(), leaf.trim(), 'cert.pem is the leaf');
    await writeFile(join(dir, `${label}.pem`), leaf);
    assert.deepEqual(await opensslDnsNames(join(dir, `${label}.pem`)), [...NAMES].sort());
    return serialOf(leaf);
  }

  const domains = NAMES.flatMap((name) => ['--domain', name]);

  test('registers and obtains one certificate for two names over http-01', { skip }, async () => {
    assertOk(await dehydrated('--register', '--accept-terms'));
    assertOk(await dehydrated('--cron', ...domains));
    serials.push(await checkIssued('issued'));
    const fetched = webroot.requests.filter((r) => r.startsWith('GET /.well-known/acme-challenge/'));
    assert.ok(fetched.length >= NAMES.length, `akamu fetched ${fetched.length} challenge files`);
  });

  test('renews it to a new certificate with --force', { skip }, async () => {
    assert.equal(serials.length, 1, 'issuance must have succeeded first');
    assertOk(await dehydrated('--cron', '--force', ...domains));
    const renewed = await checkIssued('renewed');
    assert.notEqual(renewed, serials[0], 'the renewed certificate has a new serial');
    serials.push(renewed);
  });

  test('revokes it, and a second revocation fails with alreadyRevoked', { skip }, async () => {
    assert.equal(serials.length, 2, 'renewal must have succeeded first');
    // dehydrated renames a revoked certificate: revoke a copy the second time.
    const copy = join(dir, 'revoked-copy.pem');
    await writeFile(copy, await readFile(await realpath(live('cert.pem'))));
    assertOk(await dehydrated('--revoke', live('cert.pem')));
    const again = await dehydrated('--revoke', copy);
    assert.ok(!again.timedOut, describeResult(again));
    assert.notEqual(again.code, 0, `dehydrated accepted a second revocation:\n${describeResult(again)}`);
    assert.match(`${again.stdout}\n${again.stderr}`, /urn:ietf:params:acme:error:alreadyRevoked/);
    assert.equal(serialOf(await readFile(copy, 'utf8')), serials[1]);
  });

  test('obtains a certificate over tls-alpn-01 with the RFC 8737 certificate it makes with openssl', {
    skip,
  }, async () => {
    const name = 'alpn.dehydrated.example.localhost';
    assertOk(
      await dehydrated(
        '--cron',
        '--domain',
        name,
        '--challenge',
        'tls-alpn-01',
        '--alpn',
        join(dir, 'alpn-certs'),
      ),
    );
    const fullchain = join(dir, 'state', 'certs', name, 'fullchain.pem');
    await opensslVerifyFullChain(akamu.rootCertPath, fullchain, dir, 'alpn');
    assert.deepEqual(await opensslDnsNames(join(dir, 'alpn.leaf.pem')), [name]);
  });

  test('deactivates the account, which then cannot order', { skip }, async () => {
    assert.equal(serials.length, 2, 'renewal must have succeeded first');
    assertOk(await dehydrated('--deactivate'));
    const refused = await dehydrated('--cron', '--force', ...domains);
    assert.notEqual(refused.code, 0, `a deactivated account ordered:\n${describeResult(refused)}`);
    assert.match(`${refused.stdout}\n${refused.stderr}`, /deactivated/i, describeResult(refused));
  });
});
