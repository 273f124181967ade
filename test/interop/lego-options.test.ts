/**
 * lego's less common paths against a real `akamu serve`: certificate keys of every type lego makes
 * (RSA 2048/4096, P-256/P-384), an external CSR made by openssl (`--csr`), and authorization reuse —
 * a second order for a name reuses its valid authorization, unless the first run deactivated it
 * (`--always-deactivate-authorizations`, RFC 8555 §7.5.2).
 */
import assert from 'node:assert/strict';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { inspect } from 'node:util';
import { type AkamuProcess, freePort, requireTool, startAkamu } from '../helpers/akamu-process.ts';
import { opensslVerifyFullChain } from '../helpers/openssl.ts';
import { describeResult, runTool, runToolOk, type ToolResult } from '../helpers/run-tool.ts';

const skip =
  requireTool('lego') && requireTool('openssl')
    ? false
    : 'lego or openssl not installed: apt-get install lego openssl';

describe('lego options: key types, --csr, authorization reuse and deactivation', { timeout: 300_000 }, () => {
  let akamu: AkamuProcess;
  let dir: string;
  let http01Port: number;

  before(async () => {
    if (skip) return;
    dir = await mkdtemp(join(tmpdir(), 'akamu-lego-options-'));
    http01Port = await freePort();
    akamu = await startAkamu({ config: { va: { http01_port: http01Port } } });
  });

  after(async () => {
    await akamu?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  /** lego with one account (state in <dir>/lego) for one name, http-01 on akamu's validator port. */
  async function lego(name: string, ...args: string[]): Promise<ToolResult> {
    const r = await runTool(
      'lego',
      [
        '--server', akamu.directoryUrl, '--email', 'admin@example.com', '--accept-tos',
        '--path', join(dir, 'lego'), '--http', '--http.port', `:${http01Port}`,
        ...(args.includes('--csr') ? [] : ['--domains', name]),
        ...args,
      ], // biome-ignore format: one flag per line
      { env: { LEGO_CA_CERTIFICATES: akamu.rootCertPath } },
    );
    assert.equal(r.code, 0, describeResult(r, `\n--- akamu stderr ---\n${akamu.stderr}`));
    return r;
  }

  /** The stored certificate of `name`: its chain verifies against akamu's root. */
  async function stored(name: string): Promise<X509Certificate> {
    const file = join(dir, 'lego', 'certificates', `${name}.crt`);
    return new X509Certificate(await opensslVerifyFullChain(akamu.rootCertPath, file, dir, name));
  }

  for (const [keyType, check] of [
    ['rsa2048', (c: X509Certificate) => c.publicKey.asymmetricKeyDetails?.modulusLength === 2048],
    ['rsa4096', (c: X509Certificate) => c.publicKey.asymmetricKeyDetails?.modulusLength === 4096],
    ['ec256', (c: X509Certificate) => c.publicKey.asymmetricKeyDetails?.namedCurve === 'prime256v1'],
    ['ec384', (c: X509Certificate) => c.publicKey.asymmetricKeyDetails?.namedCurve === 'secp384r1'],
  ] as const) {
    test(`--key-type ${keyType}`, { skip }, async () => {
      const name = `${keyType}.lego.example.localhost`;
      await lego(name, '--key-type', keyType, 'run');
      const cert = await stored(name);
      assert.ok(
        check(cert),
        `${keyType}: ${cert.publicKey.asymmetricKeyType} ${inspect(cert.publicKey.asymmetricKeyDetails)}`,
      );
      // RFC 5280 / CA/B: keyEncipherment only for RSA keys.
      const usage = (
        await runToolOk('openssl', [
          'x509',
          '-noout',
          '-ext',
          'keyUsage',
          '-in',
          join(dir, `${name}.leaf.pem`),
        ])
      ).stdout;
      assert.equal(/Key Encipherment/.test(usage), keyType.startsWith('rsa'), usage);
    });
  }

  test('--csr: a CSR made by openssl with an RSA 3072 key and two names', { skip }, async () => {
    const names = ['csr.lego.example.localhost', 'csr2.lego.example.localhost'];
    const key = join(dir, 'csr.key');
    const csr = join(dir, 'csr.pem');
    await runToolOk('openssl', ['genrsa', '-out', key, '3072']);
    await runToolOk('openssl', [
      'req', '-new', '-key', key, '-subj', `/CN=${names[0]}`,
      '-addext', `subjectAltName=${names.map((n) => `DNS:${n}`).join(',')}`, '-out', csr,
    ]); // biome-ignore format: one command
    await lego(names[0]!, '--csr', csr, 'run');
    const cert = await stored(names[0]!);
    assert.equal(cert.subjectAltName, names.map((n) => `DNS:${n}`).join(', '));
    assert.equal(cert.publicKey.asymmetricKeyDetails?.modulusLength, 3072);
    assert.ok(
      cert.checkPrivateKey(createPrivateKey(await readFile(key))),
      'the certificate carries the CSR key',
    );
  });

  test('a second order reuses the valid authorization; deactivated, it is validated again', {
    skip,
  }, async () => {
    const reused = 'reuse.lego.example.localhost';
    await lego(reused, 'run');
    const again = await lego(reused, 'renew', '--days', '100', '--no-random-sleep');
    assert.match(again.stderr, /authorization already valid; skipping challenge/, again.stderr);

    const relinquished = 'relinquish.lego.example.localhost';
    await lego(relinquished, 'run', '--always-deactivate-authorizations', 'true');
    const renewed = await lego(relinquished, 'renew', '--days', '100', '--no-random-sleep');
    assert.doesNotMatch(renewed.stderr, /authorization already valid/, renewed.stderr);
    assert.match(renewed.stderr, /The server validated our request/, renewed.stderr);
  });
});
