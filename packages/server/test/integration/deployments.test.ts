import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { generateKey, Http01Solver, JwsSigner, obtainCertificate } from '@akamu/client';
import { b64u } from '@akamu/protocol';
import { createServer } from '../../src/index.ts';
import { startTestCa } from '../helpers.ts';

function opensslVerify(rootPem: string, chainPem: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'akamu-verify-'));
  const certs = chainPem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\n?/g)!;
  writeFileSync(path.join(dir, 'root.pem'), rootPem);
  writeFileSync(path.join(dir, 'leaf.pem'), certs[0]!);
  writeFileSync(path.join(dir, 'chain.pem'), certs.slice(1).join(''));
  const r = spawnSync('openssl', ['verify', '-CAfile', 'root.pem', '-untrusted', 'chain.pem', 'leaf.pem'], {
    cwd: dir,
    encoding: 'utf8',
  });
  return r.stdout + r.stderr;
}

function request(port: number, method: string, path: string, body?: string) {
  return new Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }>(
    (resolve, reject) => {
      const req = http.request(
        {
          host: '127.0.0.1',
          port,
          path,
          method,
          headers: body ? { 'content-type': 'application/jose+json' } : {},
        },
        (res) => {
          let text = '';
          res.on('data', (c) => {
            text += c;
          });
          res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: text }));
        },
      );
      req.on('error', reject);
      req.end(body);
    },
  );
}

/** Deployment shapes an operator chooses: CA key types, an existing issuing CA, a reverse proxy. */
describe('deployments', () => {
  for (const keyType of ['ec:P-384', 'rsa:2048', 'ed25519'] as const) {
    it(`issues from a generated ${keyType} CA, over HTTPS with a ${keyType} server certificate`, async () => {
      const ca = await startTestCa({ ca: { key_type: keyType } });
      try {
        const client = await ca.account();
        const { certificatePem } = await obtainCertificate(client, {
          identifiers: [{ type: 'dns', value: 'kt.example.localhost' }],
          solvers: [ca.solver],
        });
        assert.match(opensslVerify(ca.caBundle, certificatePem), /leaf\.pem: OK/);
      } finally {
        await ca.close();
      }
    });
  }

  it("issues from the operator's own issuing CA given as PEM files", async () => {
    const first = await startTestCa();
    const caDir = path.join(first.dataDir, 'ca');
    const operatorRoot = readFileSync(path.join(caDir, 'root.pem'), 'utf8');
    const keyFile = path.join(caDir, 'intermediate.key.pem');
    const chainFile = path.join(first.dataDir, 'operator-chain.pem');
    writeFileSync(chainFile, readFileSync(path.join(caDir, 'intermediate.pem'), 'utf8') + operatorRoot);
    const ca = await startTestCa({ ca: { issuer_key_file: keyFile, issuer_cert_file: chainFile } });
    try {
      assert.equal(ca.caBundle, operatorRoot);
      const client = await ca.account();
      const { certificatePem } = await obtainCertificate(client, {
        identifiers: [{ type: 'dns', value: 'own.example.localhost' }],
        solvers: [ca.solver],
      });
      assert.match(opensslVerify(operatorRoot, certificatePem), /leaf\.pem: OK/);
    } finally {
      await ca.close();
      await first.close();
    }
  });

  it('behind a reverse proxy: plain HTTP, every link built from base_url', async () => {
    const solver = new Http01Solver({ port: 0, host: '127.0.0.1' });
    await solver.start();
    const server = await createServer({
      data_dir: mkdtempSync(path.join(tmpdir(), 'akamu-proxy-')),
      server: { port: 0, behind_proxy: true, base_url: 'https://ca.example.test/', log_level: 'silent' },
      va: { http01_port: solver.port },
    });
    await server.listen();
    try {
      const address = server.app.server.address() as { port: number };
      const dir = JSON.parse((await request(address.port, 'GET', '/acme/directory')).body);
      assert.equal(dir.newAccount, 'https://ca.example.test/acme/new-account');
      assert.equal(dir.newNonce, 'https://ca.example.test/acme/new-nonce');
      // The JWS url must be the external URL the proxy serves (RFC 8555 §6.4), not the internal one.
      const signer = new JwsSigner(generateKey('ec:P-256'));
      const post = async (url: string) => {
        const nonce = await request(address.port, 'HEAD', '/acme/new-nonce');
        const jws = signer.sign({ nonce: nonce.headers['replay-nonce'], url, jwk: signer.jwk }, b64u('{}'));
        return request(address.port, 'POST', '/acme/new-account', JSON.stringify(jws));
      };
      assert.equal((await post('https://ca.example.test/acme/new-account')).status, 201);
      const internal = await post(`http://127.0.0.1:${address.port}/acme/new-account`);
      assert.equal(internal.status, 403);
      assert.equal(JSON.parse(internal.body).type, 'urn:ietf:params:acme:error:unauthorized');
    } finally {
      await server.close();
      await solver.stop();
    }
  });
});
