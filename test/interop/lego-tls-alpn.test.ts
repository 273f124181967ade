/**
 * lego (Debian package `lego`) obtains a certificate from a real `akamu serve` over tls-alpn-01 (RFC 8737):
 * lego's own TLS responder listens on akamu's va.tls_alpn01_port, and only tls-alpn-01 is answered.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type AkamuProcess, freePort, requireTool, startAkamu } from '../helpers/akamu-process.ts';
import { opensslDnsNames, opensslVerify, splitPemCertificates } from '../helpers/openssl.ts';
import { describeResult, runTool } from '../helpers/run-tool.ts';

const NAMES = ['alpn.example.localhost', 'alpn2.example.localhost'];

const skip =
  requireTool('lego') && requireTool('openssl')
    ? false
    : 'lego or openssl not installed: apt-get install lego openssl';

describe('lego --tls against akamu (tls-alpn-01)', { timeout: 240_000 }, () => {
  let akamu: AkamuProcess;
  let dir: string;
  let tlsPort: number;

  before(async () => {
    if (skip) return;
    dir = await mkdtemp(join(tmpdir(), 'akamu-lego-tls-'));
    tlsPort = await freePort();
    // http01_port points at a closed port: a certificate can only come from tls-alpn-01.
    akamu = await startAkamu({ config: { va: { tls_alpn01_port: tlsPort, http01_port: await freePort() } } });
  });

  after(async () => {
    await akamu?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('registers and obtains a certificate for two names over tls-alpn-01', { skip }, async () => {
    const r = await runTool(
      'lego',
      [
        '--server', akamu.directoryUrl,
        '--email', 'admin@example.com',
        '--accept-tos',
        '--path', join(dir, 'lego'),
        ...NAMES.flatMap((name) => ['--domains', name]),
        '--tls',
        '--tls.port', `:${tlsPort}`,
        'run',
      ], // biome-ignore format: one flag per line
      { env: { LEGO_CA_CERTIFICATES: akamu.rootCertPath }, timeoutMs: 120_000 },
    );
    assert.equal(r.code, 0, describeResult(r, `\n--- akamu stderr ---\n${akamu.stderr}`));
    const certificate = join(dir, 'lego', 'certificates', `${NAMES[0]}.crt`);
    const [leaf] = splitPemCertificates(await readFile(certificate, 'utf8'));
    assert.ok(leaf, 'lego stored the leaf');
    const leafPath = join(dir, 'leaf.pem');
    await writeFile(leafPath, leaf);
    await opensslVerify(
      akamu.rootCertPath,
      join(dir, 'lego', 'certificates', `${NAMES[0]}.issuer.crt`),
      leafPath,
    );
    assert.deepEqual(await opensslDnsNames(leafPath), NAMES);
  });
});
