/**
 * golang.org/x/crypto/acme — the client inside Go's autocert and the base of cert-manager's ACME
 * issuer — against a real `akamu serve`. test/interop/go-acme/main.go is built here with Debian's Go and
 * the package's Debian source (`golang-go`, `golang-golang-x-crypto-dev`; no module download), then runs
 * the whole flow against a server that requires external account binding (RFC 8555 §7.3.4): http-01 for two names, tls-alpn-01 with the package's own RFC 8737 certificate, the
 * certificate fetched again as a bundle, revocation (checked with `openssl ocsp` against akamu's
 * responder), key rollover, and deactivation.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type AkamuProcess, freePort, requireTool, startAkamu } from '../helpers/akamu-process.ts';
import { opensslDnsNames, opensslVerifyFullChain, splitPemCertificates } from '../helpers/openssl.ts';
import { describeResult, runTool, runToolOk } from '../helpers/run-tool.ts';

const SOURCE = resolve(import.meta.dirname, 'go-acme');
const GOPATH = '/usr/share/gocode';
const HTTP_NAMES = ['api.go.example.localhost', 'www.go.example.localhost'];
const ALPN_NAME = 'alpn.go.example.localhost';

function skipReason(): string | false {
  const tools = ['go', 'openssl'].filter((tool) => !requireTool(tool));
  if (tools.length > 0) return `${tools.join(', ')} not installed: apt-get install golang-go openssl`;
  if (existsSync(join(GOPATH, 'src/golang.org/x/crypto/acme'))) return false;
  const message = 'golang.org/x/crypto/acme is not installed (apt-get install golang-golang-x-crypto-dev)';
  if (process.env.CI === 'true') throw new Error(`${message}, and CI=true requires its interop test`);
  process.stderr.write(`\n*** WARNING: ${message}; skipping its interop test ***\n\n`);
  return message;
}
const skip = skipReason();

type Step = { step: string; error?: string; [field: string]: unknown };

describe('golang.org/x/crypto/acme against akamu', { timeout: 240_000 }, () => {
  let akamu: AkamuProcess;
  let dir: string;
  let steps: Map<string, Step>;

  before(async () => {
    if (skip) return;
    dir = await mkdtemp(join(tmpdir(), 'akamu-go-acme-'));
    // GOPATH mode on Debian's packaged sources: nothing is downloaded.
    const goEnv = { GO111MODULE: 'off', GOPATH, GOCACHE: join(dir, 'gocache'), GOFLAGS: '' };
    await runToolOk('go', ['build', '-o', join(dir, 'go-acme'), '.'], {
      cwd: SOURCE,
      env: goEnv,
      timeoutMs: 180_000,
    });
    const [httpPort, alpnPort] = [await freePort(), await freePort()];
    // A binding is required for every account, as CAs that serve cert-manager often do.
    const eabKey = randomBytes(32).toString('base64url');
    akamu = await startAkamu({
      config: {
        va: { http01_port: httpPort, tls_alpn01_port: alpnPort },
        acme: { external_account_required: true },
        eab: { keys: { 'go-acme': { hmac_key: eabKey } } },
      },
    });
    const r = await runTool(join(dir, 'go-acme'), [
      '-directory', akamu.directoryUrl,
      '-root', akamu.rootCertPath,
      '-http-port', String(httpPort),
      '-alpn-port', String(alpnPort),
      '-http-names', HTTP_NAMES.join(','),
      '-alpn-name', ALPN_NAME,
      '-out', dir,
      '-eab-kid', 'go-acme',
      `-eab-key=${eabKey}`,
    ]); // biome-ignore format: one flag per line
    const lines = r.stdout.trim().split('\n').filter(Boolean);
    steps = new Map(lines.map((line) => JSON.parse(line) as Step).map((s) => [s.step, s]));
    assert.equal(r.code, 0, describeResult(r, `\n--- akamu stderr ---\n${akamu.stderr}`));
  });

  after(async () => {
    await akamu?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const step = (name: string): Step => {
    const s = steps.get(name);
    assert.ok(s, `go-acme reported no "${name}" step: ${JSON.stringify([...steps.values()])}`);
    assert.equal(s.error, undefined, s.error);
    return s;
  };

  test('registers with an external account binding and obtains a certificate for two names over http-01', {
    skip,
  }, async () => {
    assert.equal(step('register').status, 'valid');
    assert.equal(
      step('http01').certificates,
      2,
      'CreateOrderCert(bundle) returns the leaf and the intermediate',
    );
    await opensslVerifyFullChain(akamu.rootCertPath, join(dir, 'http01.pem'), dir, 'http01');
    assert.deepEqual(await opensslDnsNames(join(dir, 'http01.leaf.pem')), [...HTTP_NAMES].sort());
  });

  test('obtains a certificate over tls-alpn-01 with the package’s RFC 8737 certificate', {
    skip,
  }, async () => {
    assert.equal(step('alpn').certificates, 2);
    await opensslVerifyFullChain(akamu.rootCertPath, join(dir, 'alpn.pem'), dir, 'alpn');
    assert.deepEqual(await opensslDnsNames(join(dir, 'alpn.leaf.pem')), [ALPN_NAME]);
  });

  test('fetches the certificate again as the same bundle', { skip }, () => {
    const fetched = step('fetch');
    assert.equal(fetched.certificates, 2);
    assert.equal(fetched.same, true, 'FetchCert returns the leaf CreateOrderCert returned');
  });

  test('revokes it; akamu’s OCSP responder then says revoked, keyCompromise', { skip }, async () => {
    step('revoke');
    // x/crypto/acme takes alreadyRevoked as success: the second call must not have failed either.
    step('revoke-again');
    const [, issuer] = splitPemCertificates(await readFile(join(dir, 'http01.pem'), 'utf8'));
    await writeFile(join(dir, 'issuer.pem'), issuer!);
    const r = await runToolOk('openssl', [
      'ocsp',
      '-issuer', join(dir, 'issuer.pem'),
      '-cert', join(dir, 'http01.leaf.pem'),
      '-url', `${new URL(akamu.directoryUrl).origin}/ca/ocsp`,
      '-CAfile', akamu.rootCertPath,
    ]); // biome-ignore format: one flag per line
    assert.match(r.stdout, /http01\.leaf\.pem: revoked/, r.stdout);
    assert.match(r.stdout, /Reason: keyCompromise/, r.stdout);
  });

  test('rolls the account key over: the same account, and the old key finds none', { skip }, () => {
    const rolled = step('key-rollover');
    assert.equal(rolled.uri, step('register').uri);
    assert.match(String(rolled.oldKey), /account does not exist/);
  });

  test('deactivates the account, whose next order is unauthorized', { skip }, () => {
    const refused = step('deactivated-order');
    assert.equal(refused.type, 'urn:ietf:params:acme:error:unauthorized');
    assert.equal(refused.status, 403);
  });
});
