/**
 * acme-tiny (the ~200-line Python client, Debian package `acme-tiny`) against a real `akamu serve`: it
 * takes an RSA account key and a CSR made with openssl, writes the http-01 files into a web root served
 * on akamu's va.http01_port, and prints the chain. Run twice: the second run finds the account by its
 * key (200) and gets a new certificate for the same CSR.
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type AkamuProcess, requireTool } from '../helpers/akamu-process.ts';
import { opensslDnsNames, opensslVerifyFullChain, serialOf } from '../helpers/openssl.ts';
import { describeResult, runTool, runToolOk } from '../helpers/run-tool.ts';
import { startWebrootInterop, type WebrootInterop, type WebrootServer } from '../helpers/webroot-server.ts';

const NAMES = ['docs.example.localhost', 'wiki.example.localhost'];

const skip =
  requireTool('acme-tiny') && requireTool('openssl')
    ? false
    : 'acme-tiny or openssl not installed: apt-get install acme-tiny openssl';

describe('acme-tiny against akamu', { timeout: 180_000 }, () => {
  let fixture: WebrootInterop;
  let akamu: AkamuProcess;
  let webroot: WebrootServer;
  let dir: string;
  const serials: string[] = [];

  before(async () => {
    if (skip) return;
    fixture = await startWebrootInterop('acme-tiny');
    ({ dir, webroot, akamu } = fixture);
    await runToolOk('openssl', ['genrsa', '-out', join(dir, 'account.key'), '2048']);
    await runToolOk('openssl', [
      'ecparam',
      '-genkey',
      '-name',
      'prime256v1',
      '-noout',
      '-out',
      join(dir, 'domain.key'),
    ]);
    const san = `subjectAltName=${NAMES.map((n) => `DNS:${n}`).join(',')}`;
    await runToolOk('openssl', [
      'req',
      '-new',
      '-key',
      join(dir, 'domain.key'),
      '-subj',
      '/',
      '-addext',
      san,
      '-out',
      join(dir, 'domain.csr'),
    ]);
  });

  after(() => fixture?.stop());

  /** One acme-tiny run; returns its log and the serial of the chain it printed, after verifying it. */
  async function obtain(label: string): Promise<{ log: string; serial: string }> {
    const r = await runTool(
      'acme-tiny',
      [
        '--account-key', join(dir, 'account.key'),
        '--csr', join(dir, 'domain.csr'),
        '--acme-dir', webroot.challengeDir,
        '--directory-url', akamu.directoryUrl,
        '--contact', 'mailto:admin@example.com',
        // Its own pre-check fetches http://<name>/ on port 80, where nothing listens in a test.
        '--disable-check',
      ], // biome-ignore format: one flag per line
      // Python's ssl module reads SSL_CERT_FILE for its default trust store.
      { env: { SSL_CERT_FILE: akamu.rootCertPath }, timeoutMs: 120_000 },
    );
    assert.equal(r.code, 0, describeResult(r, `\n--- akamu stderr ---\n${akamu.stderr}`));
    const chain = join(dir, `${label}.chain.pem`);
    await writeFile(chain, r.stdout);
    const leaf = await opensslVerifyFullChain(akamu.rootCertPath, chain, dir, label);
    assert.deepEqual(await opensslDnsNames(join(dir, `${label}.leaf.pem`)), [...NAMES].sort());
    return { log: r.stderr, serial: serialOf(leaf) };
  }

  test('registers and obtains a certificate for a CSR with two names', { skip }, async () => {
    const { log, serial } = await obtain('first');
    // acme-tiny logs "Registered!" for 201 Created, "Already registered!" for 200.
    assert.match(log, /^Registered! Account ID: https:\/\//m, log);
    serials.push(serial);
  });

  test('a second run reuses the account and gets a new certificate', { skip }, async () => {
    assert.equal(serials.length, 1, 'the first run must have succeeded');
    const { log, serial } = await obtain('second');
    assert.match(log, /^Already registered! Account ID: https:\/\//m, log);
    assert.notEqual(serial, serials[0]);
  });
});
