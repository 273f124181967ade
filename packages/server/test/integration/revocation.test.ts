import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type AcmeClient, obtainCertificate } from '@akamu/client';
import { derToPem, explicit, integer, NULL, octetString, oid, sequence } from '@akamu/protocol';
import { runTool } from '../../../../test/helpers/run-tool.ts';
import { type AkamuServer, type ConfigInput, createServer } from '../../src/index.ts';
import { startTestCa, type TestCa } from '../helpers.ts';

/**
 * CRL (RFC 5280 §5) and OCSP (RFC 6960) end to end: certificates issued and revoked through the ACME API
 * with @akamu/client, their status checked with the openssl command line as a relying party would.
 */
const opensslMissing = spawnSync('openssl', ['version']).error !== undefined;
if (opensslMissing && process.env.CI === 'true') throw new Error('openssl is required under CI=true');
if (opensslMissing)
  console.warn('SKIPPING revocation tests: openssl is not installed (apt-get install openssl)');
const skip = opensslMissing ? 'openssl is not installed' : false;

interface Issued {
  pem: string;
  der: Buffer;
  serial: string;
  path: string;
}

interface Fixture {
  ca: TestCa;
  dir: string;
  base: string;
  client: AcmeClient;
  root: string;
  intermediate: string;
  issue(name: string): Promise<Issued>;
  get(urlPath: string, headers?: Record<string, string>): Promise<HttpResult>;
  post(urlPath: string, body: Buffer, contentType?: string): Promise<HttpResult>;
  openssl(args: string[]): Promise<{ code: number | null; out: string }>;
  /** `openssl ocsp -issuer intermediate.pem -cert <cert> -url <base>/ca/ocsp -CAfile root.pem` plus extra args. */
  ocsp(certPath: string, extra?: string[]): Promise<{ code: number | null; out: string }>;
  /** GET /ca/crl[/n] written to <dir>/<name>.der and as PEM to <dir>/<name>.pem; returns `openssl crl -text`. */
  crl(urlPath: string, name: string): Promise<{ text: string; pemPath: string; der: Buffer }>;
  close(): Promise<void>;
}

interface HttpResult {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

let counter = 0;

async function fixture(config: ConfigInput): Promise<Fixture> {
  const ca = await startTestCa(config);
  const dir = mkdtempSync(path.join(tmpdir(), 'akamu-revocation-'));
  const base = ca.directoryUrl.replace(/\/acme\/directory$/, '');
  const root = path.join(dir, 'root.pem');
  const intermediate = path.join(dir, 'intermediate.pem');
  writeFileSync(root, ca.caBundle);
  writeFileSync(intermediate, ca.server.ca.chainPem);
  const client = await ca.account();
  const request = (method: string, urlPath: string, body?: Buffer, headers: Record<string, string> = {}) =>
    new Promise<HttpResult>((resolve, reject) => {
      const req = https.request(`${base}${urlPath}`, { method, ca: ca.caBundle, headers }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }),
        );
      });
      req.on('error', reject);
      req.end(body);
    });
  // Asynchronous: the server answering openssl runs in this process.
  const run = async (args: string[]) => {
    const r = await runTool('openssl', args, { cwd: dir, timeoutMs: 30_000 });
    return { code: r.code, out: `${r.stdout}${r.stderr}` };
  };
  const f: Fixture = {
    ca,
    dir,
    base,
    client,
    root,
    intermediate,
    async issue(name) {
      const got = await obtainCertificate(client, {
        identifiers: [{ type: 'dns', value: name }],
        solvers: [ca.solver],
      });
      const pem = got.certificatePem.match(
        /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\n?/,
      )![0];
      const x = new X509Certificate(pem);
      const file = path.join(dir, `leaf-${counter++}.pem`);
      writeFileSync(file, pem);
      return { pem, der: x.raw, serial: x.serialNumber.toLowerCase(), path: file };
    },
    get: (urlPath, headers) => request('GET', urlPath, undefined, headers),
    post: (urlPath, body, contentType = 'application/ocsp-request') =>
      request('POST', urlPath, body, { 'content-type': contentType }),
    openssl: run,
    ocsp: (certPath, extra = []) =>
      run([
        'ocsp',
        '-issuer',
        intermediate,
        '-cert',
        certPath,
        '-url',
        `${base}/ca/ocsp`,
        '-CAfile',
        root,
        ...extra,
      ]),
    async crl(urlPath, name) {
      const r = await request('GET', urlPath);
      assert.equal(r.status, 200, r.body.toString());
      assert.equal(r.headers['content-type'], 'application/pkix-crl');
      writeFileSync(path.join(dir, `${name}.der`), r.body);
      const pemPath = path.join(dir, `${name}.pem`);
      writeFileSync(pemPath, derToPem(r.body, 'X509 CRL'));
      const t = await run(['crl', '-inform', 'DER', '-in', `${name}.der`, '-noout', '-text']);
      assert.equal(t.code, 0, t.out);
      return { text: t.out, pemPath, der: r.body };
    },
    async close() {
      await ca.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return f;
}

function crlNumber(text: string): number {
  const m = /X509v3 CRL Number:\s*\n\s*(\d+)/.exec(text);
  assert.ok(m, text);
  return Number(m[1]);
}

/** openssl prints serials in CRLs as upper-case hex. */
const crlSerial = (serial: string) => serial.toUpperCase().padStart(serial.length + (serial.length % 2), '0');

describe('CRL and OCSP with the delegated responder', { skip }, () => {
  let f: Fixture;
  before(async () => {
    f = await fixture({ crl: { include_in_certificates: true }, ocsp: { include_in_certificates: true } });
  });
  after(() => f?.close());

  it('writes the CRL distribution point and the OCSP URL into issued certificates', async () => {
    const leaf = await f.issue('urls.example.localhost');
    const r = await f.openssl([
      'x509',
      '-in',
      leaf.path,
      '-noout',
      '-ext',
      'crlDistributionPoints,authorityInfoAccess',
    ]);
    assert.match(r.out, new RegExp(`URI:${f.base}/ca/crl\\n`));
    assert.match(r.out, new RegExp(`OCSP - URI:${f.base}/ca/ocsp`));
  });

  it('openssl ocsp reports good, then revoked with the reason after an ACME revocation; the nonce is echoed', async () => {
    const leaf = await f.issue('ocsp.example.localhost');
    const good = await f.ocsp(leaf.path, ['-resp_text']);
    assert.equal(good.code, 0, good.out);
    assert.match(good.out, /Response verify OK/);
    assert.match(good.out, new RegExp(`${leaf.path}: good`));
    // openssl sends a nonce by default and warns when the response lacks it.
    assert.match(good.out, /OCSP Nonce:/);
    assert.doesNotMatch(good.out, /WARNING: no nonce in response/);
    // The delegated responder certificate: id-kp-OCSPSigning and ocsp-nocheck.
    assert.match(good.out, /OCSP Signing/);
    assert.match(good.out, /OCSP No Check/);
    assert.match(good.out, /Responder Id: [0-9A-F]{40}/);

    await f.client.revokeCertificate(leaf.der, { reason: 1 });
    const revoked = await f.ocsp(leaf.path);
    assert.equal(revoked.code, 0, revoked.out);
    assert.match(revoked.out, /Response verify OK/);
    assert.match(revoked.out, new RegExp(`${leaf.path}: revoked`));
    assert.match(revoked.out, /Reason: keyCompromise/);
    assert.match(revoked.out, /Revocation Time: /);
  });

  it('serves the cached response to a request without a nonce, and drops it at a revocation', async () => {
    const leaf = await f.issue('cache.example.localhost');
    const reqPath = path.join(f.dir, 'cache-req.der');
    assert.equal(
      (
        await f.openssl([
          'ocsp',
          '-issuer',
          f.intermediate,
          '-cert',
          leaf.path,
          '-no_nonce',
          '-reqout',
          reqPath,
        ])
      ).code,
      0,
    );
    const body = readFileSync(reqPath);
    const first = await f.post('/ca/ocsp', body);
    const second = await f.post('/ca/ocsp', body);
    assert.equal(first.status, 200);
    assert.equal(first.headers['content-type'], 'application/ocsp-response');
    assert.ok(first.body.equals(second.body), 'the second answer is the cached bytes');
    await f.client.revokeCertificate(leaf.der, { reason: 4 });
    const third = await f.post('/ca/ocsp', body);
    assert.ok(!third.body.equals(first.body), 'a revocation replaces the cached response');
    const respPath = path.join(f.dir, 'cache-resp.der');
    writeFileSync(respPath, third.body);
    const r = await f.openssl([
      'ocsp',
      '-respin',
      respPath,
      '-issuer',
      f.intermediate,
      '-cert',
      leaf.path,
      '-CAfile',
      f.root,
    ]);
    assert.match(r.out, /: revoked/);
    assert.match(r.out, /Reason: superseded/);
  });

  it('answers GET /ca/ocsp/<url-encoded base64 request> with RFC 5019 caching headers', async () => {
    const leaf = await f.issue('get.example.localhost');
    const reqPath = path.join(f.dir, 'get-req.der');
    assert.equal(
      (
        await f.openssl([
          'ocsp',
          '-issuer',
          f.intermediate,
          '-cert',
          leaf.path,
          '-no_nonce',
          '-reqout',
          reqPath,
        ])
      ).code,
      0,
    );
    const encoded = encodeURIComponent(readFileSync(reqPath).toString('base64'));
    const res = await f.get(`/ca/ocsp/${encoded}`);
    assert.equal(res.status, 200);
    assert.equal(res.headers['content-type'], 'application/ocsp-response');
    assert.match(
      String(res.headers['cache-control']),
      /^public, max-age=\d+, no-transform, must-revalidate$/,
    );
    assert.ok(res.headers['last-modified'] && res.headers.expires && res.headers.etag);
    const respPath = path.join(f.dir, 'get-resp.der');
    writeFileSync(respPath, res.body);
    const r = await f.openssl([
      'ocsp',
      '-respin',
      respPath,
      '-issuer',
      f.intermediate,
      '-cert',
      leaf.path,
      '-CAfile',
      f.root,
    ]);
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /Response verify OK/);
    assert.match(r.out, /: good/);
  });

  it('reports unknown for a serial this CA never issued', async () => {
    const r = await f.openssl([
      'ocsp',
      '-issuer',
      f.intermediate,
      '-serial',
      '0x0123456789abcdef',
      '-url',
      `${f.base}/ca/ocsp`,
      '-CAfile',
      f.root,
    ]);
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /Response verify OK/);
    assert.match(r.out, /0x0123456789abcdef: unknown/);
  });

  it('answers malformed requests with malformedRequest (HTTP 200), never a 500', async () => {
    const malformed = Buffer.from([0x30, 0x03, 0x0a, 0x01, 0x01]);
    for (const body of [Buffer.from('not der'), Buffer.from([0x30, 0x00]), Buffer.from([0x30, 0x82, 0xff])]) {
      const r = await f.post('/ca/ocsp', body);
      assert.equal(r.status, 200);
      assert.equal(r.headers['content-type'], 'application/ocsp-response');
      assert.deepEqual(r.body, malformed);
    }
    assert.deepEqual((await f.post('/ca/ocsp', Buffer.from([0x30, 0x00]), 'text/plain')).body, malformed);
    assert.deepEqual((await f.post('/ca/ocsp', Buffer.alloc(0))).body, malformed);
    assert.deepEqual((await f.post('/ca/ocsp', Buffer.alloc(100_000, 0x30))).body, malformed);
    // A path that is not valid percent-encoding never reaches the route: the router answers 400.
    assert.equal((await f.get('/ca/ocsp/%%%')).status, 400);
    for (const p of ['/ca/ocsp/not*base64', '/ca/ocsp/MAA%3D', '/ca/ocsp/AAAA', '/ca/ocsp/']) {
      const r = await f.get(p);
      assert.equal(r.status, 200, p);
      assert.deepEqual(r.body, malformed, p);
    }
    // A nonce longer than 32 octets (RFC 8954 §2.1), in an otherwise well-formed request.
    const certId = sequence(
      sequence(oid('1.3.14.3.2.26'), NULL),
      octetString(Buffer.alloc(20)),
      octetString(Buffer.alloc(20)),
      integer(1),
    );
    const nonce = (n: number) =>
      explicit(
        2,
        sequence(sequence(oid('1.3.6.1.5.5.7.48.1.2'), octetString(octetString(Buffer.alloc(n, 7))))),
      );
    const withNonce = (n: number) => sequence(sequence(sequence(sequence(certId)), nonce(n)));
    assert.deepEqual((await f.post('/ca/ocsp', withNonce(33))).body, malformed);
    const ok = await f.post('/ca/ocsp', withNonce(32));
    assert.notDeepEqual(ok.body, malformed);
    assert.ok(ok.body.includes(nonce(32).subarray(4)), 'the 32-octet nonce is echoed');
  });

  it('lists a revoked certificate in the CRL with its reason; openssl verify -crl_check fails for it and passes for a good one', async () => {
    const before = await f.crl('/ca/crl', 'before');
    const good = await f.issue('crl-good.example.localhost');
    const bad = await f.issue('crl-bad.example.localhost');
    await f.client.revokeCertificate(bad.der, { reason: 5 });
    const after = await f.crl('/ca/crl', 'after');
    assert.ok(crlNumber(after.text) > crlNumber(before.text), 'the CRL number increases');
    assert.match(after.text, /Version 2 \(0x1\)/);
    assert.match(after.text, /X509v3 Authority Key Identifier/);
    const entry = new RegExp(
      `Serial Number: ${crlSerial(bad.serial)}\\n\\s+Revocation Date: [^\\n]+\\n\\s+CRL entry extensions:\\n\\s+X509v3 CRL Reason Code:\\s*\\n\\s+Cessation Of Operation`,
    );
    assert.match(after.text, entry);
    assert.doesNotMatch(after.text, new RegExp(crlSerial(good.serial)));

    const verify = (cert: string) =>
      f.openssl([
        'verify',
        '-crl_check',
        '-CAfile',
        f.root,
        '-untrusted',
        f.intermediate,
        '-CRLfile',
        after.pemPath,
        cert,
      ]);
    const ok = await verify(good.path);
    assert.equal(ok.code, 0, ok.out);
    assert.match(ok.out, /: OK/);
    const refused = await verify(bad.path);
    assert.notEqual(refused.code, 0, refused.out);
    assert.match(refused.out, /certificate revoked/);
  });

  it('omits the reason code extension for unspecified and answers If-None-Match with 304', async () => {
    const leaf = await f.issue('unspecified.example.localhost');
    await f.client.revokeCertificate(leaf.der);
    const { text } = await f.crl('/ca/crl', 'unspecified');
    assert.match(
      text,
      new RegExp(
        `Serial Number: ${crlSerial(leaf.serial)}\\n\\s+Revocation Date: [^\\n]+\\n(?!\\s+CRL entry extensions)`,
      ),
    );
    const first = await f.get('/ca/crl');
    const again = await f.get('/ca/crl', { 'if-none-match': String(first.headers.etag) });
    assert.equal(again.status, 304);
    assert.equal(again.body.length, 0);
    assert.equal((await f.get('/ca/crl/0')).status, 404, 'no shards without crl.shards');
  });
});

describe('OCSP signed by the CA itself, and partitioned CRLs', { skip }, () => {
  let f: Fixture;
  before(async () => {
    f = await fixture({ ocsp: { responder: 'ca' }, crl: { shards: 3, include_in_certificates: true } });
  });
  after(() => f?.close());

  it('signs OCSP responses with the issuing CA (no responder certificate) and omits the AIA without a URL', async () => {
    const leaf = await f.issue('ca-signed.example.localhost');
    const r = await f.ocsp(leaf.path, ['-resp_text']);
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /Response verify OK/);
    assert.match(r.out, /: good/);
    assert.doesNotMatch(r.out, /Certificate:/, 'no certs in the response');
    const ext = await f.openssl(['x509', '-in', leaf.path, '-noout', '-ext', 'authorityInfoAccess']);
    assert.doesNotMatch(ext.out, /OCSP/);
  });

  it('points each certificate at its shard, whose Issuing Distribution Point names it and lists its revocations', async () => {
    const leaves = await Promise.all([0, 1, 2, 3, 4, 5].map((i) => f.issue(`shard${i}.example.localhost`)));
    const shardOf = async (leaf: Issued) => {
      const r = await f.openssl(['x509', '-in', leaf.path, '-noout', '-ext', 'crlDistributionPoints']);
      const m = new RegExp(`URI:${f.base}/ca/crl/(\\d)\\n`).exec(r.out);
      assert.ok(m, r.out);
      return Number(m[1]);
    };
    const bad = leaves[0]!;
    const shard = await shardOf(bad);
    await f.client.revokeCertificate(bad.der, { reason: 1 });
    const crl = await f.crl(`/ca/crl/${shard}`, `shard${shard}`);
    assert.match(crl.text, /X509v3 Issuing Distribution Point: critical/);
    assert.match(crl.text, new RegExp(`URI:${f.base}/ca/crl/${shard}(?!\\d)`));
    assert.match(crl.text, /Only User Certificates/);
    assert.match(crl.text, new RegExp(crlSerial(bad.serial)));
    const verify = (leaf: Issued, crlPath: string) =>
      f.openssl([
        'verify',
        '-crl_check',
        '-CAfile',
        f.root,
        '-untrusted',
        f.intermediate,
        '-CRLfile',
        crlPath,
        leaf.path,
      ]);
    assert.match((await verify(bad, crl.pemPath)).out, /certificate revoked/);
    for (const leaf of leaves.slice(1)) {
      if ((await shardOf(leaf)) === shard) assert.match((await verify(leaf, crl.pemPath)).out, /: OK/);
    }
    // Other shards do not list it, and the complete CRL does.
    for (let n = 0; n < 3; n++) {
      if (n === shard) continue;
      const other = await f.crl(`/ca/crl/${n}`, `other${n}`);
      assert.doesNotMatch(other.text, new RegExp(crlSerial(bad.serial)));
    }
    assert.match((await f.crl('/ca/crl', 'full')).text, new RegExp(crlSerial(bad.serial)));
    assert.equal((await f.get('/ca/crl/3')).status, 404);
    assert.equal((await f.get('/ca/crl/x')).status, 404);
  });
});

describe('two processes sharing one database', { skip }, () => {
  let f: Fixture;
  let other: AkamuServer;
  let otherBase: string;
  before(async () => {
    f = await fixture({ ocsp: { revocation_poll: '100ms' } });
    // The same data directory (CA) and database, another server: what a second node of a cluster is.
    const { database } = f.ca.server.config;
    other = await createServer({
      data_dir: f.ca.dataDir,
      ...(database.url ? { database: { url: database.url } } : {}),
      server: { port: 0, log_level: 'silent' },
      ocsp: { revocation_poll: '100ms' },
    });
    otherBase = (await other.listen()).replace(/\/acme\/directory$/, '');
  });
  after(async () => {
    await other?.close();
    await f?.close();
  });

  const postTo = (base: string, body: Buffer) =>
    new Promise<Buffer>((resolve, reject) => {
      const req = https.request(
        `${base}/ca/ocsp`,
        { method: 'POST', ca: f.ca.caBundle, headers: { 'content-type': 'application/ocsp-request' } },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve(Buffer.concat(chunks)));
        },
      );
      req.on('error', reject);
      req.end(body);
    });

  it('sees a revocation made through the other process in its cached OCSP response and its CRL', async () => {
    const leaf = await f.issue('shared.example.localhost');
    const reqPath = path.join(f.dir, 'shared-req.der');
    const made = await f.openssl([
      'ocsp',
      '-issuer',
      f.intermediate,
      '-cert',
      leaf.path,
      '-no_nonce',
      '-reqout',
      reqPath,
    ]);
    assert.equal(made.code, 0, made.out);
    const body = readFileSync(reqPath);
    const status = async (base: string) => {
      const respPath = path.join(f.dir, 'shared-resp.der');
      writeFileSync(respPath, await postTo(base, body));
      const r = await f.openssl([
        'ocsp',
        '-respin',
        respPath,
        '-issuer',
        f.intermediate,
        '-cert',
        leaf.path,
        '-CAfile',
        f.root,
      ]);
      assert.match(r.out, /Response verify OK/);
      return /: (good|revoked|unknown)/.exec(r.out)![1];
    };
    assert.equal(await status(otherBase), 'good', 'now cached by the other process');
    await f.client.revokeCertificate(leaf.der, { reason: 1 });
    assert.equal(await status(f.base), 'revoked');
    // The other process learns of it from the revocation counter (polled every 100 ms here).
    let seen = await status(otherBase);
    for (let i = 0; i < 100 && seen !== 'revoked'; i++) {
      await new Promise((r) => setTimeout(r, 50));
      seen = await status(otherBase);
    }
    assert.equal(seen, 'revoked');
    const crl = await new Promise<Buffer>((resolve, reject) => {
      https
        .get(`${otherBase}/ca/crl`, { ca: f.ca.caBundle }, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve(Buffer.concat(chunks)));
        })
        .on('error', reject);
    });
    writeFileSync(path.join(f.dir, 'shared.der'), crl);
    const text = await f.openssl(['crl', '-inform', 'DER', '-in', 'shared.der', '-noout', '-text']);
    assert.match(text.out, new RegExp(crlSerial(leaf.serial)));
  });
});
