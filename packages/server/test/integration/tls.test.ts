/**
 * The HTTPS listener (docs/tls.md), with real handshakes on loopback: TLS 1.2/1.3 only and AEAD suites
 * only, the hybrid post-quantum group X25519MLKEM768 first (node:tls and `openssl s_client`), HTTP/2 for
 * clients that offer it and HTTP/1.1 for the rest (an ACME JWS POST over HTTP/2 included), renewal of the
 * auto-issued certificate and reloading of operator files without closing the listener.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import http2 from 'node:http2';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { generateKey, JwsSigner } from '@akamu/client';
import { requireTool } from '../../../../test/helpers/akamu-process.ts';
import { runTool } from '../../../../test/helpers/run-tool.ts';
import { encodePayload } from '../../../client/src/jws.ts';
import { FakeClock } from '../../src/clock.ts';
import { startTestCa, type TestCa } from '../helpers.ts';
import { httpsGet, makeClient, makeRoot, tlsHandshake, writePem } from './tls-support.ts';

/** One HTTP/1.1 request over an already open TLS socket (keep-alive), to prove an old connection still works. */
function requestOver(socket: import('node:tls').TLSSocket, pathName: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let data = '';
    const onData = (c: Buffer) => {
      data += c.toString('latin1');
      if (/\r\n\r\n/.test(data) && /^HTTP\/1\.1 \d{3}/.test(data)) {
        socket.off('data', onData);
        resolve(data.split('\r\n')[0]!);
      }
    };
    socket.on('data', onData);
    socket.once('error', reject);
    socket.write(`HEAD ${pathName} HTTP/1.1\r\nHost: localhost\r\nConnection: keep-alive\r\n\r\n`);
  });
}

function h2Request(
  session: http2.ClientHttp2Session,
  headers: http2.OutgoingHttpHeaders,
  body?: string,
): Promise<{ status: number; headers: http2.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const req = session.request(headers, { endStream: body === undefined });
    let data = '';
    let responseHeaders: http2.IncomingHttpHeaders = {};
    req.setTimeout(10_000, () => req.close(http2.constants.NGHTTP2_CANCEL));
    req.on('response', (h) => {
      responseHeaders = h;
    });
    req.setEncoding('utf8');
    req.on('data', (c: string) => {
      data += c;
    });
    req.on('end', () =>
      resolve({ status: Number(responseHeaders[':status']), headers: responseHeaders, body: data }),
    );
    req.on('error', reject);
    if (body !== undefined) req.end(body);
  });
}

describe('TLS listener', { timeout: 120_000 }, () => {
  let ca: TestCa;
  before(async () => {
    ca = await startTestCa();
  });
  after(async () => {
    await ca?.close();
  });

  test('speaks TLS 1.3 and 1.2 only, with forward-secret AEAD suites', async () => {
    const v13 = await tlsHandshake(ca.directoryUrl, { ca: ca.caBundle });
    assert.equal(v13.getProtocol(), 'TLSv1.3');
    v13.end();
    const v12 = await tlsHandshake(ca.directoryUrl, { ca: ca.caBundle, maxVersion: 'TLSv1.2' });
    assert.equal(v12.getProtocol(), 'TLSv1.2');
    assert.match(v12.getCipher().name, /^ECDHE-(ECDSA|RSA)-(AES\d+-GCM|CHACHA20-POLY1305)/);
    v12.end();
    await assert.rejects(
      tlsHandshake(ca.directoryUrl, {
        ca: ca.caBundle,
        minVersion: 'TLSv1',
        maxVersion: 'TLSv1.1',
        ciphers: 'DEFAULT@SECLEVEL=0',
      }),
      /protocol|version|alert/i,
    );
    await assert.rejects(
      tlsHandshake(ca.directoryUrl, {
        ca: ca.caBundle,
        maxVersion: 'TLSv1.2',
        ciphers: 'ECDHE-ECDSA-AES128-SHA256:ECDHE-ECDSA-AES128-SHA',
      }),
      /handshake|cipher|alert/i,
    );
  });

  test('offers the hybrid post-quantum group X25519MLKEM768 first, then X25519 and P-256', async () => {
    assert.deepEqual(ca.server.tls!.groups, ['X25519MLKEM768', 'X25519', 'P-256', 'P-384']);
    for (const [offer, expected] of [
      ['X25519MLKEM768', 'X25519MLKEM768'],
      ['X25519MLKEM768:X25519', 'X25519MLKEM768'],
      ['X25519', 'X25519'],
      ['prime256v1', 'prime256v1'],
    ] as const) {
      const s = await tlsHandshake(ca.directoryUrl, { ca: ca.caBundle, ecdhCurve: offer });
      const info = s.getEphemeralKeyInfo() as { name?: string };
      s.end();
      assert.equal(info.name, expected, `client offering ${offer}`);
    }
  });

  test('openssl s_client verifies the chain and shows the negotiated group', async (t) => {
    if (!requireTool('openssl')) return t.skip('openssl not installed');
    const rootFile = path.join(ca.dataDir, 'ca', 'root.pem');
    const port = new URL(ca.directoryUrl).port;
    const sClient = (groups: string) =>
      runTool(
        'openssl',
        ['s_client', '-connect', `127.0.0.1:${port}`, '-servername', 'localhost', '-CAfile', rootFile,
          '-verify_return_error', '-groups', groups, '-brief'], // biome-ignore format: flags in pairs
        { timeoutMs: 20_000 },
      );
    const classic = await sClient('X25519');
    const out = classic.stdout + classic.stderr;
    assert.equal(classic.code, 0, out);
    assert.match(out, /Verification: OK/);
    assert.match(out, /Protocol version: TLSv1\.3/);
    assert.match(out, /(Server Temp Key|Negotiated TLS1\.3 group): X25519/);

    const pq = await sClient('X25519MLKEM768');
    const pqOut = pq.stdout + pq.stderr;
    if (pq.code !== 0 && /group|curve|Error with command|Call to SSL_CONF_cmd/i.test(pqOut)) {
      const version = (await runTool('openssl', ['version'])).stdout.trim();
      process.stderr.write(
        `\n*** WARNING: ${version} has no X25519MLKEM768 (OpenSSL 3.5+ needed): openssl s_client cannot show the hybrid group; node:tls proved it above ***\n\n`,
      );
      return t.skip(`${version} lacks X25519MLKEM768`);
    }
    assert.equal(pq.code, 0, pqOut);
    assert.match(pqOut, /Verification: OK/);
    assert.match(pqOut, /X25519MLKEM768/);
  });

  test('HTTP/2 for clients that offer h2 (ACME JWS POST included), HTTP/1.1 for the rest', async () => {
    const session = http2.connect(new URL(ca.directoryUrl).origin, {
      ca: ca.caBundle,
      servername: 'localhost',
    });
    try {
      await new Promise<void>((resolve, reject) => {
        session.once('connect', () => resolve());
        session.once('error', reject);
      });
      assert.equal(session.alpnProtocol, 'h2');
      const dir = await h2Request(session, { ':path': '/acme/directory' });
      assert.equal(dir.status, 200, dir.body);
      const directory = JSON.parse(dir.body) as Record<string, string>;
      const nonce = await h2Request(session, {
        ':path': new URL(directory.newNonce!).pathname,
        ':method': 'HEAD',
      });
      assert.ok(nonce.headers['replay-nonce']);
      const signer = new JwsSigner(generateKey('ec:P-256'));
      const jws = signer.sign(
        { nonce: nonce.headers['replay-nonce'], url: directory.newAccount, jwk: signer.jwk },
        encodePayload({ termsOfServiceAgreed: true }),
      );
      const created = await h2Request(
        session,
        {
          ':path': new URL(directory.newAccount!).pathname,
          ':method': 'POST',
          'content-type': 'application/jose+json',
        },
        JSON.stringify(jws),
      );
      assert.equal(created.status, 201, created.body);
      assert.match(String(created.headers.location), /\/acme\/account\//);
    } finally {
      session.close();
    }
    const h1 = await httpsGet(ca.directoryUrl, { ca: ca.caBundle });
    assert.equal(h1.status, 200);
    assert.notEqual(h1.alpn, 'h2');
  });
});

describe('server certificate renewal and reload', { timeout: 120_000 }, () => {
  test('renews the auto-issued certificate at 2/3 of its lifetime (FakeClock); open connections keep working', async () => {
    // The fake clock starts 25 days back, so that certificates it dates are valid for real-time clients.
    const clock = new FakeClock(Date.now() - 25 * 86_400_000);
    const ca = await startTestCa({ tls: { auto_validity: '30d' } }, { clock });
    try {
      const tls = ca.server.tls!;
      const first = tls.certificate.serialNumber;
      const old = await tlsHandshake(ca.directoryUrl, { ca: ca.caBundle, ALPNProtocols: ['http/1.1'] });
      assert.equal(old.getPeerX509Certificate()!.serialNumber, first);
      clock.advance(19 * 86_400_000);
      assert.equal(await tls.renewIfDue(), false, 'not due before 20 days');
      clock.advance(86_400_000 + 1000);
      assert.equal(await tls.renewIfDue(), true);
      const second = tls.certificate.serialNumber;
      assert.notEqual(second, first);
      const fresh = await httpsGet(ca.directoryUrl, { ca: ca.caBundle });
      assert.equal(fresh.status, 200);
      assert.equal(fresh.peerCertificate.serialNumber, second);
      // The connection opened before the renewal still has the old certificate and still gets answers.
      assert.match(await requestOver(old, '/acme/directory'), /^HTTP\/1\.1 200/);
      old.end();
    } finally {
      await ca.close();
    }
  });

  test('a tiny auto_validity is renewed by the server on its own, without dropping the listener', async () => {
    const ca = await startTestCa({ tls: { auto_validity: '3s' } });
    try {
      const first = (await httpsGet(ca.directoryUrl, { ca: ca.caBundle })).peerCertificate;
      await new Promise((r) => setTimeout(r, 3_000));
      const later = await httpsGet(ca.directoryUrl, { ca: ca.caBundle });
      assert.equal(later.status, 200);
      assert.notEqual(later.peerCertificate.serialNumber, first.serialNumber);
      assert.ok(later.peerCertificate.validToDate > first.validToDate);
    } finally {
      await ca.close();
    }
  });

  test('reloadTls() swaps operator certificate files into the running listener', async () => {
    const root = makeRoot('Operator Root');
    const dir = path.join(process.env.TMPDIR ?? '/tmp', `akamu-tls-files-${process.pid}-${Date.now()}`);
    (await import('node:fs')).mkdirSync(dir, { recursive: true });
    const certFile = path.join(dir, 'server.pem');
    const keyFile = path.join(dir, 'server.key');
    const a = makeClient(root, {
      dnsNames: ['localhost'],
      commonName: 'server-a',
      extendedKeyUsages: ['1.3.6.1.5.5.7.3.1'],
    });
    writePem(certFile, a.chainPem);
    writePem(keyFile, a.keyPem);
    const ca = await startTestCa({ tls: { mode: 'files', cert_file: certFile, key_file: keyFile } });
    try {
      const before = await httpsGet(ca.directoryUrl, { ca: root.pem });
      assert.equal(before.peerCertificate.subject, 'CN=server-a');
      const b = makeClient(root, {
        dnsNames: ['localhost'],
        commonName: 'server-b',
        extendedKeyUsages: ['1.3.6.1.5.5.7.3.1'],
      });
      writeFileSync(certFile, b.chainPem);
      writeFileSync(keyFile, b.keyPem);
      await ca.server.reloadTls();
      const afterReload = await httpsGet(ca.directoryUrl, { ca: root.pem });
      assert.equal(afterReload.status, 200);
      assert.equal(afterReload.peerCertificate.subject, 'CN=server-b');
      // A key that does not match the certificate is refused and the listener keeps the last good pair.
      writeFileSync(keyFile, a.keyPem);
      await assert.rejects(ca.server.reloadTls(), /does not match/);
      assert.equal(
        (await httpsGet(ca.directoryUrl, { ca: root.pem })).peerCertificate.subject,
        'CN=server-b',
      );
    } finally {
      await ca.close();
      (await import('node:fs')).rmSync(dir, { recursive: true, force: true });
    }
  });

  test('tls.http2 = false serves HTTP/1.1 only', async () => {
    const ca = await startTestCa({ tls: { http2: false } });
    try {
      const s = await tlsHandshake(ca.directoryUrl, { ca: ca.caBundle, ALPNProtocols: ['h2', 'http/1.1'] });
      assert.notEqual(s.alpnProtocol, 'h2');
      s.end();
    } finally {
      await ca.close();
    }
  });
});
