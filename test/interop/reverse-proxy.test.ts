/**
 * akamu behind a real TLS-terminating reverse proxy, as docs/operator-guide.md describes it: Caddy
 * (Debian package `caddy`) serves HTTPS with the operator's certificate and forwards to `akamu serve`
 * running plain HTTP with `server.behind_proxy` and `server.base_url` set to the proxy's URL. certbot and
 * lego, trusting only the proxy's certificate, register, get a certificate and revoke it through the
 * proxy: every link they follow must be the proxy's, and every JWS `url` the external one.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type AkamuProcess, freePort, requireTool, startAkamu } from '../helpers/akamu-process.ts';
import { type CaddyProcess, startCaddy } from '../helpers/caddy-process.ts';
import { opensslVerifyFullChain } from '../helpers/openssl.ts';
import { pollUntil } from '../helpers/poll.ts';
import { describeResult, runTool, runToolOk } from '../helpers/run-tool.ts';

const skip =
  requireTool('caddy') && requireTool('certbot') && requireTool('lego') && requireTool('openssl')
    ? false
    : 'caddy, certbot, lego or openssl not installed: apt-get install caddy certbot lego openssl';

describe('behind a TLS-terminating reverse proxy (Caddy) with certbot and lego', { timeout: 240_000 }, () => {
  let akamu: AkamuProcess;
  let caddy: CaddyProcess | undefined;
  const caddyLog = () => caddy?.log ?? '';
  let dir: string;
  let proxyUrl: string;
  let http01Port: number;
  const proxyCert = () => join(dir, 'proxy.crt');

  before(async () => {
    if (skip) return;
    dir = await mkdtemp(join(tmpdir(), 'akamu-proxy-'));
    const proxyPort = await freePort();
    http01Port = await freePort();
    proxyUrl = `https://localhost:${proxyPort}`;
    // The operator's own certificate for the proxy (self-signed here; the clients trust exactly it).
    await runToolOk('openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '2',
      '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost',
      '-keyout', join(dir, 'proxy.key'), '-out', proxyCert(),
    ]); // biome-ignore format: one command
    // akamu's own plain-HTTP port, which only the proxy talks to.
    const internalPort = await freePort();
    akamu = await startAkamu({
      config: {
        server: {
          port: internalPort,
          behind_proxy: true,
          base_url: proxyUrl,
          trusted_proxies: ['127.0.0.1', '::1'],
        },
        va: { http01_port: http01Port },
      },
    });
    assert.equal(new URL(akamu.directoryUrl).origin, proxyUrl, 'akamu prints the proxy URL as its directory');
    caddy = await startCaddy(dir, [
      '{',
      '\tadmin off',
      '\tauto_https off',
      `\tstorage file_system ${join(dir, 'storage')}`,
      '}',
      `${proxyUrl} {`,
      `\ttls ${proxyCert()} ${join(dir, 'proxy.key')}`,
      `\treverse_proxy 127.0.0.1:${internalPort}`,
      '}',
    ]);
    // Ready once the directory answers through the proxy.
    await pollUntil(
      () => getThroughProxy('/acme/directory'),
      30_000,
      () => `the proxy did not answer:\n${caddyLog()}`,
    );
  });

  after(async () => {
    await caddy?.stop();
    await akamu?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  async function getThroughProxy(path: string): Promise<string> {
    const ca = await readFile(proxyCert());
    return new Promise((done, fail) => {
      const req = request(`${proxyUrl}${path}`, { ca, timeout: 5_000 }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => {
          body += c;
        });
        res.on('end', () =>
          res.statusCode === 200 ? done(body) : fail(new Error(`HTTP ${res.statusCode}`)),
        );
      });
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.on('error', fail);
      req.end();
    });
  }

  const context = () =>
    `\n--- akamu stderr ---\n${akamu.stderr}\n--- caddy ---\n${caddyLog().slice(-10_000)}`;

  test('every link of the directory is the proxy’s', { skip }, async () => {
    const directory = JSON.parse(await getThroughProxy('/acme/directory')) as Record<string, unknown>;
    for (const key of ['newNonce', 'newAccount', 'newOrder', 'revokeCert', 'keyChange'])
      assert.ok(String(directory[key]).startsWith(`${proxyUrl}/acme/`), `${key}: ${directory[key]}`);
  });

  test('lego registers, obtains and revokes through the proxy', { skip }, async () => {
    const name = 'proxied-lego.example.localhost';
    const lego = (...args: string[]) =>
      runTool(
        'lego',
        [
          '--server', `${proxyUrl}/acme/directory`, '--email', 'admin@example.com', '--accept-tos',
          '--path', join(dir, 'lego'), '--domains', name, '--http', '--http.port', `:${http01Port}`,
          ...args,
        ], // biome-ignore format: one flag per line
        { env: { LEGO_CA_CERTIFICATES: proxyCert() } },
      );
    const run = await lego('run');
    assert.equal(run.code, 0, describeResult(run, context()));
    await opensslVerifyFullChain(
      akamu.rootCertPath,
      join(dir, 'lego', 'certificates', `${name}.crt`),
      dir,
      'lego',
    );
    const revoke = await lego('revoke', '--reason', '4');
    assert.equal(revoke.code, 0, describeResult(revoke, context()));
  });

  test('certbot registers, obtains and revokes through the proxy', { skip }, async () => {
    const certbot = (...args: string[]) =>
      runTool(
        'certbot',
        [
          ...args, '--non-interactive', '--server', `${proxyUrl}/acme/directory`,
          '--config-dir', join(dir, 'certbot'), '--work-dir', join(dir, 'certbot-work'),
          '--logs-dir', join(dir, 'certbot-logs'),
        ], // biome-ignore format: one flag per line
        { env: { REQUESTS_CA_BUNDLE: proxyCert() } },
      );
    const issued = await certbot(
      'certonly', '--standalone', '--agree-tos', '-m', 'admin@example.com', '--http-01-port', String(http01Port),
      '--cert-name', 'proxied', '-d', 'proxied-certbot.example.localhost',
    ); // biome-ignore format: one command
    assert.equal(issued.code, 0, describeResult(issued, context()));
    const fullchain = join(dir, 'certbot', 'live', 'proxied', 'fullchain.pem');
    await opensslVerifyFullChain(akamu.rootCertPath, fullchain, dir, 'certbot');
    const revoked = await certbot(
      'revoke',
      '--cert-path',
      join(dir, 'certbot', 'live', 'proxied', 'cert.pem'),
      '--no-delete-after-revoke',
    );
    assert.equal(revoked.code, 0, describeResult(revoked, context()));
  });
});
