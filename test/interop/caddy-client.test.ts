/**
 * Caddy (Debian package `caddy`) as an ACME client of a real `akamu serve`: Caddy's automatic HTTPS
 * (CertMagic and acmez, the client Caddy users run) registers with an external account binding and
 * obtains one certificate over tls-alpn-01 and one over http-01, on the ports akamu's validator connects to, then serves HTTPS with them and staples akamu's
 * OCSP response (RFC 6960), which openssl verifies against akamu's root.
 */
import assert from 'node:assert/strict';
import { randomBytes, X509Certificate } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { connect } from 'node:tls';
import { type AkamuProcess, freePort, requireTool, startAkamu } from '../helpers/akamu-process.ts';
import { type CaddyProcess, startCaddy } from '../helpers/caddy-process.ts';
import { opensslVerifyFullChain, splitPemCertificates } from '../helpers/openssl.ts';
import { pollUntil } from '../helpers/poll.ts';
import { runToolOk } from '../helpers/run-tool.ts';

/** One name per challenge type: Caddy picks among the enabled ones, so each site enables one. */
const ALPN_NAME = 'alpn.caddy.example.localhost';
const HTTP_NAME = 'http.caddy.example.localhost';
const OBTAIN_TIMEOUT_MS = 60_000;

const skip =
  requireTool('caddy') && requireTool('openssl')
    ? false
    : 'caddy or openssl not installed: apt-get install caddy openssl';

describe('Caddy as an ACME client of akamu', { timeout: 240_000 }, () => {
  let akamu: AkamuProcess;
  let caddy: CaddyProcess | undefined;
  let dir: string;
  let httpsPort: number;
  let rootPem: string;

  before(async () => {
    if (skip) return;
    dir = await mkdtemp(join(tmpdir(), 'akamu-caddy-'));
    const httpPort = await freePort();
    httpsPort = await freePort();
    // One external account binding key per site: each site's issuer has its own account (its own email).
    const eabKeys = {
      alpn: randomBytes(32).toString('base64url'),
      http: randomBytes(32).toString('base64url'),
    };
    akamu = await startAkamu({
      config: {
        va: { http01_port: httpPort, tls_alpn01_port: httpsPort },
        // An OCSP URL in every certificate, for Caddy to fetch and staple.
        ocsp: { include_in_certificates: true },
        // Every account needs a binding (RFC 8555 §7.3.4), which Caddy's issuer sends with `eab`.
        acme: { external_account_required: true },
        eab: { keys: { 'caddy-alpn': { hmac_key: eabKeys.alpn }, 'caddy-http': { hmac_key: eabKeys.http } } },
      },
    });
    rootPem = await readFile(akamu.rootCertPath, 'utf8');
    const site = (name: string, disable: string, eab: 'alpn' | 'http') =>
      [
        `${name} {`,
        '\ttls {',
        '\t\tissuer acme {',
        `\t\t\tdir ${akamu.directoryUrl}`,
        `\t\t\ttrusted_roots ${akamu.rootCertPath}`,
        `\t\t\temail ${eab}@example.com`,
        `\t\t\teab caddy-${eab} ${eabKeys[eab]}`,
        `\t\t\t${disable}`,
        '\t\t}',
        '\t}',
        `\trespond "hello from ${name}"`,
        '}',
      ].join('\n');
    // SSL_CERT_FILE: Go's trust store for Caddy's own HTTPS requests (the OCSP fetch).
    caddy = await startCaddy(
      dir,
      [
        '{',
        '\tadmin off',
        `\tstorage file_system ${join(dir, 'storage')}`,
        `\thttp_port ${httpPort}`,
        `\thttps_port ${httpsPort}`,
        '\temail admin@example.com',
        '\tskip_install_trust',
        '}',
        site(ALPN_NAME, 'disable_http_challenge', 'alpn'),
        site(HTTP_NAME, 'disable_tlsalpn_challenge', 'http'),
      ],
      { SSL_CERT_FILE: akamu.rootCertPath },
    );
  });

  after(async () => {
    await caddy?.stop();
    await akamu?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const caddyLog = () => caddy?.log ?? '';
  const context = () =>
    `\n--- caddy ---\n${caddyLog().slice(-20_000)}\n--- akamu stderr ---\n${akamu.stderr}`;

  /** The certificate file Caddy stores for `name` once it has one: certificates/<issuer>/<name>/<name>.crt. */
  async function storedCertificate(name: string): Promise<string> {
    const root = join(dir, 'storage', 'certificates');
    return pollUntil(
      async () => {
        for (const issuer of await readdir(root).catch(() => [])) {
          const file = join(root, issuer, name, `${name}.crt`);
          if (await readFile(file, 'utf8').catch(() => undefined)) return file;
        }
        return undefined;
      },
      OBTAIN_TIMEOUT_MS,
      () => `Caddy stored no certificate for ${name}${context()}`,
    );
  }

  /** The certificate file verifies against akamu's root: the leaf and the intermediate, once each. */
  async function checkStored(name: string): Promise<X509Certificate> {
    const file = await storedCertificate(name);
    const pems = splitPemCertificates(await readFile(file, 'utf8'));
    assert.equal(pems.length, 2, `${file} holds ${pems.length} certificates, not leaf + intermediate`);
    const leaf = new X509Certificate(await opensslVerifyFullChain(akamu.rootCertPath, file, dir, name));
    assert.equal(leaf.subjectAltName, `DNS:${name}`);
    return leaf;
  }

  test('obtains a certificate over tls-alpn-01 and serves HTTPS with it', { skip }, async () => {
    const leaf = await checkStored(ALPN_NAME);
    assert.match(
      caddyLog(),
      new RegExp(`"identifier":"${ALPN_NAME}","challenge_type":"tls-alpn-01"`),
      context(),
    );
    assert.equal(await firstHttpsGet(ALPN_NAME), `hello from ${ALPN_NAME}`);
    assert.equal((await servedCertificate(ALPN_NAME)).serialNumber, leaf.serialNumber);
  });

  test('obtains a certificate over http-01 and serves HTTPS with it', { skip }, async () => {
    const leaf = await checkStored(HTTP_NAME);
    assert.match(caddyLog(), new RegExp(`"identifier":"${HTTP_NAME}","challenge_type":"http-01"`), context());
    assert.equal(await firstHttpsGet(HTTP_NAME), `hello from ${HTTP_NAME}`);
    assert.equal((await servedCertificate(HTTP_NAME)).serialNumber, leaf.serialNumber);
  });

  test('staples akamu’s OCSP response, which openssl verifies as good', { skip }, async () => {
    const file = await storedCertificate(ALPN_NAME);
    const [leafPem, issuerPem] = splitPemCertificates(await readFile(file, 'utf8'));
    await writeFile(join(dir, 'ocsp-leaf.pem'), leafPem!);
    await writeFile(join(dir, 'ocsp-issuer.pem'), issuerPem!);
    // Caddy fetches the staple when it loads the certificate: wait for it to appear in handshakes.
    const staple = await pollUntil(
      async () => (await servedCertificate(ALPN_NAME)).staple,
      OBTAIN_TIMEOUT_MS,
      () => `Caddy stapled no OCSP response${context()}`,
    );
    await writeFile(join(dir, 'staple.der'), staple);
    const r = await runToolOk('openssl', [
      'ocsp',
      '-respin', join(dir, 'staple.der'),
      '-issuer', join(dir, 'ocsp-issuer.pem'),
      '-cert', join(dir, 'ocsp-leaf.pem'),
      '-CAfile', akamu.rootCertPath,
    ]); // biome-ignore format: one flag per line
    assert.match(r.stdout, /ocsp-leaf\.pem: good/, `${r.stdout}${r.stderr}`);
    assert.match(r.stderr, /Response verify OK/, r.stderr);
  });

  /**
   * The first answer of GET / once Caddy serves `name`: Caddy writes the certificate to its storage a
   * moment before it loads it for handshakes, and in between it refuses them (TLS alert internal_error).
   */
  function firstHttpsGet(name: string): Promise<string> {
    return pollUntil(
      () => httpsGet(name),
      OBTAIN_TIMEOUT_MS,
      () => `Caddy never served HTTPS for ${name}${context()}`,
    );
  }

  /** GET / from Caddy's HTTPS port with SNI `name`, trusting only akamu's root. */
  function httpsGet(name: string): Promise<string> {
    return new Promise((done, fail) => {
      const req = request(
        {
          host: '127.0.0.1',
          port: httpsPort,
          servername: name,
          headers: { host: name },
          ca: rootPem,
          timeout: 10_000,
        },
        (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => {
            body += chunk;
          });
          res.on('end', () => done(body));
        },
      );
      req.on('timeout', () => req.destroy(new Error('HTTPS request to Caddy timed out')));
      req.on('error', fail);
      req.end();
    });
  }

  /** One TLS handshake with SNI `name` asking for OCSP: the certificate Caddy serves and its staple. */
  function servedCertificate(name: string): Promise<{ serialNumber: string; staple?: Buffer }> {
    return new Promise((done, fail) => {
      let staple: Buffer | undefined;
      const socket = connect({
        host: '127.0.0.1',
        port: httpsPort,
        servername: name,
        ca: rootPem,
        requestOCSP: true,
        ALPNProtocols: ['http/1.1'],
      });
      socket.setTimeout(10_000, () => socket.destroy(new Error('TLS handshake with Caddy timed out')));
      socket.on('OCSPResponse', (response: Buffer) => {
        staple = response.length > 0 ? response : undefined;
      });
      socket.once('secureConnect', () => {
        const serialNumber = socket.getPeerX509Certificate()?.serialNumber ?? '';
        socket.end();
        done({ serialNumber, staple });
      });
      socket.once('error', fail);
    });
  }
});
