/**
 * OCSP Must-Staple (RFC 7633) requested by real clients: certbot `--must-staple` and lego
 * `--must-staple` against a real `akamu serve` whose certificates name its OCSP responder. The issued
 * certificates carry the TLS Feature status_request (checked with `openssl x509`), and akamu's responder
 * answers `good` for them (`openssl ocsp`).
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type AkamuProcess, freePort, requireTool, startAkamu } from '../helpers/akamu-process.ts';
import { splitPemCertificates } from '../helpers/openssl.ts';
import { describeResult, runTool, runToolOk } from '../helpers/run-tool.ts';

const skip =
  requireTool('certbot') && requireTool('lego') && requireTool('openssl')
    ? false
    : 'certbot, lego or openssl not installed: apt-get install certbot lego openssl';

describe('OCSP Must-Staple with certbot and lego', { timeout: 240_000 }, () => {
  let akamu: AkamuProcess;
  let dir: string;
  let http01Port: number;

  before(async () => {
    if (skip) return;
    dir = await mkdtemp(join(tmpdir(), 'akamu-must-staple-'));
    http01Port = await freePort();
    akamu = await startAkamu({
      config: { va: { http01_port: http01Port }, ocsp: { include_in_certificates: true } },
    });
  });

  after(async () => {
    await akamu?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  /** The leaf carries status_request and names akamu's responder, which says good. */
  async function checkMustStaple(fullChain: string, label: string): Promise<void> {
    const [leaf, issuer] = splitPemCertificates(await readFile(fullChain, 'utf8'));
    assert.ok(leaf && issuer, `${fullChain} holds no leaf and issuer`);
    const leafPath = join(dir, `${label}.leaf.pem`);
    const issuerPath = join(dir, `${label}.issuer.pem`);
    await writeFile(leafPath, leaf);
    await writeFile(issuerPath, issuer);
    const text = (await runToolOk('openssl', ['x509', '-in', leafPath, '-noout', '-text'])).stdout;
    assert.match(text, /TLS Feature:\s*\n\s*status_request/, text);
    const ocspUrl = /OCSP - URI:(\S+)/.exec(text)?.[1];
    assert.ok(ocspUrl, `no OCSP URL in ${label}:\n${text}`);
    const r = await runToolOk('openssl', [
      'ocsp', '-issuer', issuerPath, '-cert', leafPath, '-url', ocspUrl, '-CAfile', akamu.rootCertPath,
    ]); // biome-ignore format: one command
    assert.match(r.stdout, new RegExp(`${label}\\.leaf\\.pem: good`), r.stdout);
  }

  test('certbot --must-staple', { skip }, async () => {
    const name = 'staple-certbot.example.localhost';
    const r = await runTool(
      'certbot',
      [
        'certonly', '--standalone', '--non-interactive', '--agree-tos', '-m', 'admin@example.com',
        '--server', akamu.directoryUrl, '--http-01-port', String(http01Port),
        '--config-dir', join(dir, 'certbot'), '--work-dir', join(dir, 'certbot-work'),
        '--logs-dir', join(dir, 'certbot-logs'), '--cert-name', 'staple', '--must-staple', '-d', name,
      ], // biome-ignore format: one flag per line
      { env: { REQUESTS_CA_BUNDLE: akamu.rootCertPath } },
    );
    assert.equal(r.code, 0, describeResult(r, `\n--- akamu stderr ---\n${akamu.stderr}`));
    await checkMustStaple(join(dir, 'certbot', 'live', 'staple', 'fullchain.pem'), 'certbot');
  });

  test('lego --must-staple', { skip }, async () => {
    const name = 'staple-lego.example.localhost';
    const r = await runTool(
      'lego',
      [
        '--server', akamu.directoryUrl, '--email', 'admin@example.com', '--accept-tos',
        '--path', join(dir, 'lego'), '--domains', name, '--http', '--http.port', `:${http01Port}`,
        'run', '--must-staple',
      ], // biome-ignore format: one flag per line
      { env: { LEGO_CA_CERTIFICATES: akamu.rootCertPath } },
    );
    assert.equal(r.code, 0, describeResult(r, `\n--- akamu stderr ---\n${akamu.stderr}`));
    await checkMustStaple(join(dir, 'lego', 'certificates', `${name}.crt`), 'lego');
  });
});
