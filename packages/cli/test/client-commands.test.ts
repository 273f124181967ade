import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { AcmeClient, generateKey, importPrivateKeyPem } from '@akamu/client';
import { type AkamuProcess, freePort, startAkamu } from '../../../test/helpers/akamu-process.ts';
import { type Pebble, pebbleSkipReason, startPebble } from '../../client/test/pebble.ts';
import { type CliResult, errorKind, runCli, show } from './helpers/run-cli.ts';

function mode(file: string): number {
  return statSync(file).mode & 0o777;
}

function leaf(dir: string): X509Certificate {
  return new X509Certificate(readFileSync(path.join(dir, 'cert.pem')));
}

function ok(r: CliResult, command: string): Record<string, unknown> {
  assert.equal(r.code, 0, show(r));
  assert.ok(r.json, `stdout is one JSON object\n${show(r)}`);
  assert.equal(r.json.ok, true);
  assert.equal(r.json.command, command);
  return r.json;
}

/** Files written by obtain/renew: the chain verifies, the key matches, modes are right. */
function checkFiles(dir: string, names: string[]): X509Certificate {
  const cert = leaf(dir);
  for (const name of names)
    assert.ok(cert.checkHost(name) || cert.checkIP(name), `${name} in ${cert.subjectAltName}`);
  const key = importPrivateKeyPem(readFileSync(path.join(dir, 'key.pem')));
  assert.ok(cert.checkPrivateKey(key), 'key.pem is the certificate key');
  assert.equal(mode(path.join(dir, 'key.pem')), 0o600);
  assert.equal(mode(path.join(dir, 'cert.pem')), 0o644);
  const chain = readFileSync(path.join(dir, 'chain.pem'), 'utf8');
  const issuer = new X509Certificate(chain);
  assert.ok(cert.verify(issuer.publicKey), 'chain.pem holds the issuer');
  assert.equal(
    readFileSync(path.join(dir, 'fullchain.pem'), 'utf8'),
    readFileSync(path.join(dir, 'cert.pem'), 'utf8') + chain,
  );
  return cert;
}

/** `akamu certificate obtain --must-staple` for staple.cli.localhost over http-01 on 127.0.0.1. */
function obtainMustStaple(common: string[], httpPort: number, out: string): Promise<CliResult> {
  return runCli([
    'certificate', 'obtain', ...common, '-d', 'staple.cli.localhost', '--must-staple',
    '--http-port', String(httpPort), '--http-host', '127.0.0.1', '--out-dir', out,
  ]); // biome-ignore format: one command line
}

async function directoryHasRenewalInfo(ca: AkamuProcess): Promise<boolean> {
  const client = new AcmeClient({
    directoryUrl: ca.directoryUrl,
    accountKey: generateKey('ec:P-256'),
    caBundle: readFileSync(ca.rootCertPath),
    timeoutMs: 10_000,
  });
  try {
    return typeof (await client.directory()).renewalInfo === 'string';
  } finally {
    client.close();
  }
}

describe('akamu account and certificate commands against akamu', () => {
  let ca: AkamuProcess;
  let httpPort: number;
  let dir: string;
  const common = () => ['--account-key', path.join(dir, 'account.key'), '--json'];

  before(async () => {
    httpPort = await freePort();
    ca = await startAkamu({ config: { va: { http01_port: httpPort } } });
    dir = mkdtempSync(path.join(tmpdir(), 'akamu-cli-client-'));
  });
  after(async () => {
    await ca?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('registers, shows, updates and rolls over an account; the key is 0600 and its state sits next to it', async () => {
    const key = path.join(dir, 'account.key');
    const reg = ok(
      await runCli([
        'account',
        'register',
        ...common(),
        '--server',
        ca.directoryUrl,
        '--ca-bundle',
        ca.rootCertPath,
        '--agree-tos',
        '--contact',
        'ops@example.com',
        '--key-type',
        'ec:P-384',
      ]),
      'account register',
    );
    assert.equal(reg.created, true);
    assert.equal(reg.status, 'valid');
    assert.deepEqual(reg.contact, ['mailto:ops@example.com']);
    assert.equal(mode(key), 0o600);
    assert.equal(mode(`${key}.json`), 0o600);
    const state = JSON.parse(readFileSync(`${key}.json`, 'utf8'));
    assert.equal(state.accountUrl, reg.accountUrl);
    assert.equal(state.directoryUrl, ca.directoryUrl);

    // Registering the same key again finds the account.
    const again = ok(
      await runCli([
        'account',
        'register',
        ...common(),
        '--server',
        ca.directoryUrl,
        '--ca-bundle',
        ca.rootCertPath,
      ]),
      'account register',
    );
    assert.equal(again.created, false);
    assert.equal(again.accountUrl, reg.accountUrl);

    const shown = ok(await runCli(['account', 'show', ...common()]), 'account show');
    assert.equal(shown.accountUrl, reg.accountUrl);
    const updated = ok(
      await runCli(['account', 'update', ...common(), '-c', 'mailto:a@example.com', '-c', 'b@example.com']),
      'account update',
    );
    assert.deepEqual(updated.contact, ['mailto:a@example.com', 'mailto:b@example.com']);

    const before = readFileSync(key, 'utf8');
    const rolled = ok(
      await runCli(['account', 'rollover', ...common(), '--key-type', 'ec:P-256']),
      'account rollover',
    );
    assert.equal(rolled.accountUrl, reg.accountUrl);
    assert.notEqual(readFileSync(key, 'utf8'), before);
    assert.equal(mode(key), 0o600);
    assert.equal(importPrivateKeyPem(readFileSync(key)).asymmetricKeyDetails?.namedCurve, 'prime256v1');
    // The new key is the account's key now.
    ok(await runCli(['account', 'show', ...common()]), 'account show');
  });

  it('obtains, skips a renewal that is not due, renews with --force, and revokes', async () => {
    const out = path.join(dir, 'www');
    const names = ['www.cli.localhost', 'api.cli.localhost'];
    const obtained = ok(
      await runCli([
        'certificate',
        'obtain',
        ...common(),
        '-d',
        names[0]!,
        '-d',
        names[1]!,
        '--http-port',
        String(httpPort),
        '--http-host',
        '127.0.0.1',
        '--key-type',
        'rsa:2048',
        '--out-dir',
        out,
      ]),
      'certificate obtain',
    );
    const first = checkFiles(out, names);
    assert.equal(first.publicKey.asymmetricKeyType, 'rsa');
    assert.equal((obtained.certificate as { serial: string }).serial, first.serialNumber.toLowerCase());

    const notDue = ok(
      await runCli(['certificate', 'renew', ...common(), '--http-port', String(httpPort), '--out-dir', out]),
      'certificate renew',
    );
    assert.equal(notDue.renewed, false);
    // ARI when the CA publishes renewalInfo (RFC 9773), else two-thirds of the lifetime.
    const hasAri = await directoryHasRenewalInfo(ca);
    assert.equal(notDue.basis, hasAri ? 'ari' : 'lifetime');
    assert.equal(notDue.window !== undefined, hasAri);
    assert.ok(Date.parse(notDue.renewAt as string) > Date.now());
    assert.equal(leaf(out).serialNumber, first.serialNumber, 'nothing was rewritten');

    const forced = ok(
      await runCli([
        'certificate',
        'renew',
        ...common(),
        '--force',
        '--http-port',
        String(httpPort),
        '--http-host',
        '127.0.0.1',
        '--out-dir',
        out,
      ]),
      'certificate renew',
    );
    assert.equal(forced.renewed, true);
    assert.equal(forced.forced, true);
    assert.equal(forced.replaced, hasAri, 'a renewal under ARI names the certificate it replaces');
    const second = checkFiles(out, names);
    assert.notEqual(second.serialNumber, first.serialNumber);
    assert.equal(
      second.publicKey.asymmetricKeyType,
      'ec',
      'renew uses --key-type (default ec:P-256), not the old key',
    );

    const revoked = ok(
      await runCli([
        'certificate',
        'revoke',
        ...common(),
        '--cert',
        path.join(out, 'cert.pem'),
        '--reason',
        'superseded',
      ]),
      'certificate revoke',
    );
    assert.equal(revoked.serial, second.serialNumber.toLowerCase());
    assert.equal(revoked.reason, 4);
    // Revoking twice is an ACME problem (alreadyRevoked): exit 5 and the problem in the JSON.
    const twice = await runCli(['certificate', 'revoke', ...common(), '--cert', path.join(out, 'cert.pem')]);
    assert.equal(twice.code, 5, show(twice));
    assert.equal(twice.json?.ok, false);
    assert.match(JSON.stringify(twice.json?.error), /alreadyRevoked/);
  });

  it('exit codes say what failed: usage 64, config 2, network 4, validation 6, ACME problem 5', async () => {
    const usage = await runCli(['certificate', 'obtain', '--no-such-option']);
    assert.equal(usage.code, 64, show(usage));

    const noAccount = await runCli([
      'certificate',
      'obtain',
      '--json',
      '-d',
      'x.localhost',
      '--account-key',
      path.join(dir, 'missing.key'),
    ]);
    assert.equal(noAccount.code, 2, show(noAccount));
    assert.equal(errorKind(noAccount), 'config');
    assert.match(noAccount.stderr, /akamu account register/);

    const badKeyType = await runCli([
      'certificate',
      'obtain',
      ...common(),
      '-d',
      'x.localhost',
      '--key-type',
      'dsa:1024',
    ]);
    assert.equal(badKeyType.code, 2, show(badKeyType));

    const port = await freePort();
    const unreachable = await runCli([
      'account',
      'show',
      ...common(),
      '--server',
      `https://127.0.0.1:${port}/dir`,
      '--timeout',
      '5',
    ]);
    assert.equal(unreachable.code, 4, show(unreachable));
    assert.equal(errorKind(unreachable), 'network');

    // The responder listens on a port the CA's validator does not connect to: the authorization fails.
    const wrongPort = await freePort();
    const invalid = await runCli([
      'certificate',
      'obtain',
      ...common(),
      '-d',
      'fail.cli.localhost',
      '--http-port',
      String(wrongPort),
      '--out-dir',
      path.join(dir, 'fail'),
    ]);
    assert.equal(invalid.code, 6, show(invalid));
    assert.equal(errorKind(invalid), 'validation');

    // A port already in use by the CA's own validator target is a solver failure.
    const busy = await runCli([
      'certificate',
      'obtain',
      ...common(),
      '-d',
      'busy.cli.localhost',
      '--http-port',
      String(new URL(ca.directoryUrl).port),
    ]);
    assert.equal(busy.code, 7, show(busy));

    // OCSP Must-Staple from a CA that names no OCSP responder: badCSR, an ACME problem.
    const staple = await obtainMustStaple(common(), httpPort, path.join(dir, 'staple'));
    assert.equal(staple.code, 5, show(staple));
    assert.match(JSON.stringify(staple.json?.error), /badCSR.*no OCSP URL/);

    // A deactivated account: every later request is refused by the CA.
    ok(await runCli(['account', 'deactivate', ...common()]), 'account deactivate');
    const refused = await runCli(['account', 'show', ...common()]);
    assert.equal(refused.code, 5, show(refused));
    assert.match(JSON.stringify(refused.json?.error), /unauthorized/);
  });
});

describe('akamu certificate obtain --must-staple against akamu naming its OCSP responder', () => {
  let ca: AkamuProcess;
  let httpPort: number;
  let dir: string;
  before(async () => {
    httpPort = await freePort();
    ca = await startAkamu({
      config: { va: { http01_port: httpPort }, ocsp: { include_in_certificates: true } },
    });
    dir = mkdtempSync(path.join(tmpdir(), 'akamu-cli-staple-'));
  });
  after(async () => {
    await ca?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('gets a certificate with the TLS Feature status_request (RFC 7633)', async () => {
    const common = ['--account-key', path.join(dir, 'account.key'), '--json'];
    const server = ['--server', ca.directoryUrl, '--ca-bundle', ca.rootCertPath];
    ok(await runCli(['account', 'register', ...common, ...server, '--agree-tos']), 'account register');
    const out = path.join(dir, 'out');
    ok(await obtainMustStaple(common, httpPort, out), 'certificate obtain');
    checkFiles(out, ['staple.cli.localhost']);
    const text = spawnSync('openssl', ['x509', '-in', path.join(out, 'cert.pem'), '-noout', '-text'], {
      encoding: 'utf8',
    });
    assert.match(text.stdout, /TLS Feature:\s*\n\s*status_request/, text.stdout + text.stderr);
  });
});

describe('akamu certificate commands against Pebble', { skip: pebbleSkipReason() }, () => {
  let pebble: Pebble;
  let httpPort: number;
  let tlsPort: number;
  let dir: string;
  let caBundle: string;
  const common = () => ['--account-key', path.join(dir, 'account.key'), '--json'];

  before(async () => {
    httpPort = await freePort();
    tlsPort = await freePort();
    pebble = await startPebble({ httpPort, tlsPort });
    dir = mkdtempSync(path.join(tmpdir(), 'akamu-cli-pebble-'));
    caBundle = path.join(dir, 'pebble-tls.pem');
    writeFileSync(caBundle, pebble.caBundle);
  });
  after(async () => {
    await pebble?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('registers, obtains, renews (not due, then forced) and revokes; Pebble records the revocation', async () => {
    ok(
      await runCli([
        'account',
        'register',
        ...common(),
        '--server',
        pebble.directoryUrl,
        '--ca-bundle',
        caBundle,
        '--agree-tos',
        '-c',
        'ops@example.com',
      ]),
      'account register',
    );
    const out = path.join(dir, 'ip');
    const solver = ['--http-port', String(httpPort), '--http-host', '127.0.0.1', '--out-dir', out];
    ok(
      await runCli(['certificate', 'obtain', ...common(), '-d', '127.0.0.1', ...solver]),
      'certificate obtain',
    );
    const first = leaf(out);
    assert.ok(first.checkIP('127.0.0.1'));
    const key = importPrivateKeyPem(readFileSync(path.join(out, 'key.pem')));
    assert.ok(first.checkPrivateKey(key));
    assert.equal(mode(path.join(out, 'key.pem')), 0o600);

    const notDue = ok(await runCli(['certificate', 'renew', ...common(), ...solver]), 'certificate renew');
    assert.equal(notDue.renewed, false);
    const forced = ok(
      await runCli(['certificate', 'renew', ...common(), '--force', '--reuse-key', ...solver]),
      'certificate renew',
    );
    assert.equal(forced.renewed, true);
    const second = leaf(out);
    assert.notEqual(second.serialNumber, first.serialNumber);
    assert.ok(second.checkPrivateKey(key), '--reuse-key keeps key.pem');

    ok(
      await runCli([
        'certificate',
        'revoke',
        ...common(),
        '--cert',
        path.join(out, 'cert.pem'),
        '--reason',
        '1',
      ]),
      'certificate revoke',
    );
    const status = await pebble.certificateStatus(second.serialNumber.toLowerCase());
    assert.equal(status.Status, 'Revoked');
    assert.equal(status.Reason, 1);
  });

  it('obtains with tls-alpn-01 (--tls-port) for a fresh account, and revokes with the certificate key', async () => {
    const key = ['--account-key', path.join(dir, 'tls-account.key'), '--json'];
    ok(
      await runCli([
        'account',
        'register',
        ...key,
        '--server',
        pebble.directoryUrl,
        '--ca-bundle',
        caBundle,
        '--agree-tos',
      ]),
      'account register',
    );
    const out = path.join(dir, 'tls');
    const r = ok(
      await runCli([
        'certificate',
        'obtain',
        ...key,
        '-d',
        '127.0.0.1',
        '--tls-port',
        String(tlsPort),
        '--tls-host',
        '127.0.0.1',
        '--key-type',
        'ec:P-384',
        '--out-dir',
        out,
      ]),
      'certificate obtain',
    );
    const cert = leaf(out);
    assert.ok(cert.checkIP('127.0.0.1'));
    assert.equal(cert.publicKey.asymmetricKeyDetails?.namedCurve, 'secp384r1');
    assert.equal((r.certificate as { serial: string }).serial, cert.serialNumber.toLowerCase());
    // Revocation signed by the certificate's own key: no account involved.
    const byKey = await runCli([
      'certificate',
      'revoke',
      '--json',
      '--cert',
      path.join(out, 'fullchain.pem'),
      '--cert-key',
      path.join(out, 'key.pem'),
      '--server',
      pebble.directoryUrl,
      '--ca-bundle',
      caBundle,
      '--reason',
      'keyCompromise',
    ]);
    ok(byKey, 'certificate revoke');
    const status = await pebble.certificateStatus(cert.serialNumber.toLowerCase());
    assert.deepEqual([status.Status, status.Reason], ['Revoked', 1]);
  });
});

describe('akamu account register with external account binding (Pebble requiring EAB)', {
  skip: pebbleSkipReason(),
}, () => {
  const hmacKey = Buffer.from('a-mac-key-the-ca-handed-out-0123').toString('base64url');
  let pebble: Pebble;
  let dir: string;
  before(async () => {
    pebble = await startPebble({ httpPort: await freePort(), externalAccountMACKeys: { 'kid-1': hmacKey } });
    dir = mkdtempSync(path.join(tmpdir(), 'akamu-cli-eab-'));
    writeFileSync(path.join(dir, 'ca.pem'), pebble.caBundle);
  });
  after(async () => {
    await pebble?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('is refused without the binding (exit 5) and accepted with --eab-kid/--eab-hmac-key', async () => {
    const args = [
      'account',
      'register',
      '--json',
      '--account-key',
      path.join(dir, 'a.key'),
      '--server',
      pebble.directoryUrl,
    ];
    const common = [...args, '--ca-bundle', path.join(dir, 'ca.pem'), '--agree-tos'];
    const without = await runCli(common);
    assert.equal(without.code, 5, show(without));
    assert.match(JSON.stringify(without.json?.error), /externalAccountRequired/);
    const half = await runCli([...common, '--eab-kid', 'kid-1']);
    assert.equal(half.code, 2, show(half));
    const bound = await runCli([...common, '--eab-kid', 'kid-1', '--eab-hmac-key', hmacKey]);
    assert.equal(ok(bound, 'account register').status, 'valid');
  });
});
