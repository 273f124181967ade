import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type AkamuProcess, freePort, startAkamu } from '../../../test/helpers/akamu-process.ts';
import { type Pebble, pebbleSkipReason, startPebble } from '../../client/test/pebble.ts';
import { MAIN, runCli, show } from './helpers/run-cli.ts';

/** The log lines (JSON) the daemon printed. */
function events(stdout: string): Record<string, unknown>[] {
  return stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

function serial(file: string): string {
  return new X509Certificate(readFileSync(file)).serialNumber;
}

/**
 * The daemon keeps three declared certificates issued — http-01 with ec:P-256 and with rsa:2048 at
 * akamu, tls-alpn-01 with ec:P-384 at Pebble — survives a restart without reissuing, renews one forced
 * into its renewal window (renew_before longer than the lifetime), runs its hooks, picks up a new
 * certificate on SIGHUP and stops cleanly on SIGTERM.
 */
/** `openssl x509 -text` of a PEM certificate file. */
function opensslText(file: string): string {
  const r = spawnSync('openssl', ['x509', '-in', file, '-noout', '-text'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout;
}

describe('akamu daemon', { skip: pebbleSkipReason() }, () => {
  let ca: AkamuProcess;
  let pebble: Pebble;
  let dir: string;
  let httpPort: number;
  let tlsPort: number;
  let configFile: string;
  let hookLog: string;

  const certFile = (name: string) => path.join(dir, 'certs', name, 'cert.pem');

  function config(opts: { renewBefore?: string; extra?: boolean }): string {
    return `
state_dir = "state"
log_format = "json"
check_interval = "1h"
retry_min = "1s"
retry_max = "10s"

[[endpoint]]
name = "akamu"
directory = "${ca.directoryUrl}"
ca_bundle = "${ca.rootCertPath}"
tos_agreed = true
rate_limit = "50/s"

[[endpoint]]
name = "pebble"
directory = "${pebble.directoryUrl}"
ca_bundle = "pebble-tls.pem"
tos_agreed = true

[[account]]
name = "ops"
endpoint = "akamu"
contacts = ["mailto:ops@example.com"]

[[account]]
name = "pebble-ops"
endpoint = "pebble"
key_type = "ec:P-384"

[[hook]]
name = "record"
cmd = "${path.join(dir, 'hook.sh')}"
args = ["{event}", "{certificate}"]
events = ["before_challenge", "after_challenge", "after_issuance"]

[[certificate]]
name = "web-ec"
account = "ops"
key_type = "ec:P-256"
directory = "certs/web-ec"
hooks = ["record"]
${opts.renewBefore ? `renew_before = "${opts.renewBefore}"` : ''}
identifier = [
  { dns = "www.daemon.localhost", challenge = "http-01", http_port = ${httpPort}, http_host = "127.0.0.1" },
  { dns = "static.daemon.localhost", challenge = "http-01", http_port = ${httpPort}, http_host = "127.0.0.1" },
]

[[certificate]]
name = "web-rsa"
account = "ops"
key_type = "rsa:2048"
key_reuse = true
must_staple = true
directory = "certs/web-rsa"
file_mode = "0640"
hooks = ["record"]
${opts.renewBefore ? `renew_before = "${opts.renewBefore}"` : ''}
identifier = [{ dns = "api.daemon.localhost", challenge = "http-01", http_port = ${httpPort}, http_host = "127.0.0.1" }]

[[certificate]]
name = "tls"
account = "pebble-ops"
key_type = "ec:P-384"
directory = "certs/tls"
hooks = ["record"]
identifier = [{ ip = "127.0.0.1", challenge = "tls-alpn-01", tls_port = ${tlsPort}, tls_host = "127.0.0.1" }]
${
  opts.extra
    ? `
[[certificate]]
name = "extra"
account = "ops"
directory = "certs/extra"
hooks = ["record"]
identifier = [{ dns = "extra.daemon.localhost", challenge = "http-01", http_port = ${httpPort}, http_host = "127.0.0.1" }]
`
    : ''
}`;
  }

  /** Lines "<event> <certificate> <AKAMU_* data>" the hook wrote. */
  function hookLines(): string[] {
    return existsSync(hookLog) ? readFileSync(hookLog, 'utf8').trim().split('\n') : [];
  }

  before(async () => {
    httpPort = await freePort();
    tlsPort = await freePort();
    // The OCSP URL in every certificate lets web-rsa ask for OCSP Must-Staple.
    ca = await startAkamu({
      config: { va: { http01_port: httpPort }, ocsp: { include_in_certificates: true } },
    });
    pebble = await startPebble({ httpPort: await freePort(), tlsPort });
    dir = mkdtempSync(path.join(tmpdir(), 'akamu-daemon-'));
    writeFileSync(path.join(dir, 'pebble-tls.pem'), pebble.caBundle);
    hookLog = path.join(dir, 'hooks.log');
    // A hook as an operator writes one: an executable with its own shebang, data in AKAMU_* variables.
    const hook = path.join(dir, 'hook.sh');
    writeFileSync(
      hook,
      `#!/bin/sh\necho "$1 $2 serial=$AKAMU_SERIAL identifier=$AKAMU_IDENTIFIER challenge=$AKAMU_CHALLENGE valid=$AKAMU_CHALLENGE_VALID cert=$AKAMU_CERT_FILE" >> '${hookLog}'\n`,
    );
    chmodSync(hook, 0o755);
    configFile = path.join(dir, 'certificates.toml');
  });
  after(async () => {
    await ca?.stop();
    await pebble?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('issues the three declared certificates, runs the hooks, keeps state, and does nothing on a restart', async () => {
    writeFileSync(configFile, config({}));
    const check = await runCli(['daemon', '-c', configFile, '--check-config']);
    assert.equal(check.code, 0, show(check));

    const first = await runCli(['daemon', '-c', configFile, '--once']);
    assert.equal(first.code, 0, show(first));
    const issued = events(first.stdout).filter((e) => e.event === 'certificate.issued');
    assert.deepEqual(issued.map((e) => e.certificate).sort(), ['tls', 'web-ec', 'web-rsa']);
    assert.ok(issued.every((e) => e.reason === 'missing'));

    const ec = new X509Certificate(readFileSync(certFile('web-ec')));
    assert.equal(ec.publicKey.asymmetricKeyDetails?.namedCurve, 'prime256v1');
    assert.ok(ec.checkHost('www.daemon.localhost') && ec.checkHost('static.daemon.localhost'));
    const rsa = new X509Certificate(readFileSync(certFile('web-rsa')));
    assert.equal(rsa.publicKey.asymmetricKeyType, 'rsa');
    // must_staple: the TLS Feature extension (RFC 7633, id-pe-tlsfeature) with status_request; not on web-ec.
    assert.match(opensslText(certFile('web-rsa')), /TLS Feature:\s*\n\s*status_request/);
    assert.doesNotMatch(opensslText(certFile('web-ec')), /TLS Feature/);
    assert.equal(statSync(certFile('web-rsa')).mode & 0o777, 0o640, 'file_mode');
    assert.equal(
      statSync(path.join(dir, 'certs', 'web-rsa', 'key.pem')).mode & 0o777,
      0o600,
      'key_mode default',
    );
    const tls = new X509Certificate(readFileSync(certFile('tls')));
    assert.ok(tls.checkIP('127.0.0.1'));
    assert.equal(tls.publicKey.asymmetricKeyDetails?.namedCurve, 'secp384r1');
    assert.equal(statSync(path.join(dir, 'state', 'accounts', 'ops.key')).mode & 0o777, 0o600);

    const lines = hookLines();
    for (const name of ['web-ec', 'web-rsa', 'tls']) {
      assert.ok(
        lines.some(
          (l) => l.startsWith(`after_issuance ${name} serial=`) && l.includes(`cert=${certFile(name)}`),
        ),
        lines.join('\n'),
      );
    }
    assert.ok(
      lines.some(
        (l) =>
          l.startsWith('before_challenge tls ') && l.includes('identifier=127.0.0.1 challenge=tls-alpn-01'),
      ),
      lines.join('\n'),
    );
    assert.ok(
      lines.some(
        (l) =>
          l.startsWith('after_challenge web-ec ') &&
          l.includes('challenge=http-01') &&
          l.includes('valid=true'),
      ),
    );
    const afterIssuance = lines.find((l) => l.startsWith('after_issuance web-ec '))!;
    assert.match(afterIssuance, new RegExp(`serial=${ec.serialNumber.toLowerCase()}`));

    const state = JSON.parse(readFileSync(path.join(dir, 'state', 'state.json'), 'utf8'));
    assert.equal(state.certificates['web-ec'].serial, ec.serialNumber.toLowerCase());
    assert.equal(state.certificates.tls.failures, 0);
    assert.match(state.accounts.ops.url, /^https:\/\//);
    assert.equal(statSync(path.join(dir, 'state', 'state.json')).mode & 0o777, 0o600);

    // A restart: nothing is due, nothing is reissued, no hook runs.
    const second = await runCli(['daemon', '-c', configFile, '--once']);
    assert.equal(second.code, 0, show(second));
    assert.equal(
      events(second.stdout).filter((e) => e.event === 'certificate.issued').length,
      0,
      second.stdout,
    );
    assert.equal(serial(certFile('web-ec')), ec.serialNumber);
    assert.equal(hookLines().length, lines.length);
  });

  it('renews a certificate forced into its window, picks up a new certificate on SIGHUP, and exits 0 on SIGTERM', async () => {
    writeFileSync(configFile, config({}));
    const before = {
      ec: serial(certFile('web-ec')),
      rsa: serial(certFile('web-rsa')),
      tls: serial(certFile('tls')),
    };
    const rsaKey = readFileSync(path.join(dir, 'certs', 'web-rsa', 'key.pem'), 'utf8');
    const ecKey = readFileSync(path.join(dir, 'certs', 'web-ec', 'key.pem'), 'utf8');
    const child = spawn(process.execPath, [MAIN, 'daemon', '-c', configFile], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => {
      stdout += c.toString('utf8');
    });
    child.stderr.on('data', (c: Buffer) => {
      stderr += c.toString('utf8');
    });
    const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
    const waitFor = async (predicate: (e: Record<string, unknown>[]) => boolean, what: string) => {
      const deadline = Date.now() + 90_000;
      while (!predicate(events(stdout))) {
        if (Date.now() > deadline || child.exitCode !== null)
          throw new Error(`no ${what}\nstdout:\n${stdout}\nstderr:\n${stderr}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    };
    try {
      await waitFor((e) => e.some((x) => x.event === 'daemon.sleeping'), 'first pass');
      assert.equal(
        events(stdout).filter((e) => e.event === 'certificate.issued').length,
        0,
        'nothing was due',
      );

      // renew_before longer than any lifetime forces web-ec and web-rsa into their renewal window; a
      // fourth certificate appears.
      writeFileSync(configFile, config({ renewBefore: '3650d', extra: true }));
      const hooksBefore = hookLines().length;
      child.kill('SIGHUP');
      await waitFor((e) => e.some((x) => x.event === 'daemon.reloaded'), 'reload');
      await waitFor(
        (e) =>
          ['web-ec', 'extra'].every((n) =>
            e.some((x) => x.event === 'certificate.issued' && x.certificate === n),
          ),
        'renewal of web-ec and web-rsa, issuance of extra',
      );
      const renewed = events(stdout).find(
        (e) => e.event === 'certificate.issued' && e.certificate === 'web-ec',
      )!;
      assert.equal(renewed.reason, 'renew_before');
      const extra = events(stdout).find(
        (e) => e.event === 'certificate.issued' && e.certificate === 'extra',
      )!;
      assert.equal(extra.reason, 'missing');
      await waitFor((e) => e.filter((x) => x.event === 'daemon.sleeping').length >= 2, 'second sleep');

      const newHooks = hookLines().slice(hooksBefore);
      const ecSerial = serial(certFile('web-ec'));
      assert.notEqual(ecSerial, before.ec);
      assert.ok(
        newHooks.some((l) => l.startsWith(`after_issuance web-ec serial=${ecSerial.toLowerCase()}`)),
        newHooks.join('\n'),
      );
      assert.ok(
        newHooks.some((l) => l.startsWith('after_issuance extra ')),
        newHooks.join('\n'),
      );
      assert.ok(existsSync(certFile('extra')));
      assert.notEqual(serial(certFile('web-rsa')), before.rsa);
      assert.ok(
        newHooks.some((l) => l.startsWith('after_issuance web-rsa ')),
        newHooks.join('\n'),
      );
      assert.equal(serial(certFile('tls')), before.tls);
      // key_reuse: the renewed RSA certificate has the same key; web-ec (no key_reuse) got a new one.
      assert.equal(readFileSync(path.join(dir, 'certs', 'web-rsa', 'key.pem'), 'utf8'), rsaKey);
      assert.notEqual(readFileSync(path.join(dir, 'certs', 'web-ec', 'key.pem'), 'utf8'), ecKey);

      // Another pass (a reload of the same file): web-ec is still "due" by renew_before but was just
      // issued, so it waits a check_interval instead of renewing in a loop.
      child.kill('SIGHUP');
      await waitFor((e) => e.filter((x) => x.event === 'daemon.sleeping').length >= 3, 'third pass');
      assert.ok(
        events(stdout).some((e) => e.event === 'certificate.due_again' && e.certificate === 'web-ec'),
        stdout,
      );
      assert.equal(
        events(stdout).filter((e) => e.event === 'certificate.issued' && e.certificate === 'web-ec').length,
        1,
      );

      // A broken file on SIGHUP is logged and the running configuration stays.
      writeFileSync(configFile, '[[endpoint]]\nname = 1\n');
      child.kill('SIGHUP');
      await waitFor((e) => e.some((x) => x.event === 'daemon.reload_failed'), 'reload failure');
      await waitFor(
        (e) => e.filter((x) => x.event === 'daemon.sleeping').length >= 4,
        'pass after the failed reload',
      );
      assert.equal(child.exitCode, null, 'still running');

      child.kill('SIGTERM');
      assert.equal(await exited, 0, stderr);
      assert.ok(events(stdout).some((e) => e.event === 'daemon.stopped'));
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });

  it('a failed validation is logged, runs issuance_failed hooks, and backs off across restarts', async () => {
    const wrongPort = await freePort();
    const file = path.join(dir, 'failing.toml');
    writeFileSync(
      file,
      `state_dir = "failing-state"
retry_min = "1h"
[[endpoint]]
name = "akamu"
directory = "${ca.directoryUrl}"
ca_bundle = "${ca.rootCertPath}"
[[account]]
name = "ops"
endpoint = "akamu"
[[hook]]
name = "record"
cmd = "${path.join(dir, 'hook.sh')}"
args = ["{event}", "{certificate}"]
events = ["issuance_failed"]
[[certificate]]
name = "broken"
account = "ops"
hooks = ["record"]
identifier = [{ dns = "broken.daemon.localhost", challenge = "http-01", http_port = ${wrongPort}, http_host = "127.0.0.1" }]
`,
    );
    const hooksBefore = hookLines().length;
    const first = await runCli(['daemon', '-c', file, '--once']);
    assert.equal(first.code, 6, show(first));
    const failed = events(first.stdout).find((e) => e.event === 'certificate.failed')!;
    assert.equal(failed.certificate, 'broken');
    assert.equal(failed.failures, 1);
    assert.equal((failed.error as { kind: string }).kind, 'validation');
    assert.ok(
      hookLines()
        .slice(hooksBefore)
        .some((l) => l.startsWith('issuance_failed broken ')),
      hookLines().join('\n'),
    );
    const state = JSON.parse(readFileSync(path.join(dir, 'failing-state', 'state.json'), 'utf8'));
    assert.equal(state.certificates.broken.failures, 1);
    const retryAt = Date.parse(state.certificates.broken.retryAt);
    assert.ok(retryAt > Date.now() + 50 * 60_000, 'retry_min = 1h');

    // A restart within the backoff does not try again.
    const second = await runCli(['daemon', '-c', file, '--once']);
    assert.equal(second.code, 0, show(second));
    assert.equal(
      events(second.stdout).filter((e) => e.event === 'certificate.renewing').length,
      0,
      second.stdout,
    );
  });

  it('a bad configuration is refused with exit 2, naming each key', async () => {
    const bad = path.join(dir, 'bad.toml');
    writeFileSync(
      bad,
      `[[endpoint]]\nname = "a"\ndirectory = "not a url"\n[[account]]\nname = "x"\nendpoint = "b"\nkey_typ = "ec:P-256"\n[[certificate]]\nname = "c"\naccount = "x"\nkey_type = "dsa"\nidentifier = [{ dns = "a.example", challenge = "http-02" }]\n`,
    );
    const r = await runCli(['daemon', '-c', bad, '--check-config']);
    assert.equal(r.code, 2, show(r));
    assert.match(r.stderr, /endpoint\[0\]\.directory/);
    assert.match(r.stderr, /unknown key account\[0\]\.key_typ/);
    assert.match(r.stderr, /certificate\[0\]\.key_type/);
    assert.match(r.stderr, /certificate\[0\]\.identifier\[0\]\.challenge/);
  });
});
