/**
 * lego (go-acme/lego, Debian package `lego`) against a real `akamu serve`: account and one certificate
 * for two names over http-01 (lego's own server on akamu's va.http01_port), renewal, revocation, and
 * the alreadyRevoked problem on a second revocation.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type AkamuProcess, freePort, requireTool, startAkamu } from '../helpers/akamu-process.ts';
import { opensslDnsNames, opensslVerify, serialOf, splitPemCertificates } from '../helpers/openssl.ts';
import { describeResult, runTool, type ToolResult } from '../helpers/run-tool.ts';

const NAMES = ['shop.example.localhost', 'static.example.localhost'];

const skip =
  requireTool('lego') && requireTool('openssl')
    ? false
    : 'lego or openssl not installed: apt-get install lego openssl';

describe('lego against akamu', { timeout: 240_000 }, () => {
  let akamu: AkamuProcess;
  let dir: string;
  let http01Port: number;
  const serials: string[] = [];

  before(async () => {
    if (skip) return;
    dir = await mkdtemp(join(tmpdir(), 'akamu-lego-'));
    http01Port = await freePort();
    akamu = await startAkamu({ config: { va: { http01_port: http01Port } } });
  });

  after(async () => {
    await akamu?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  // lego names the files after the first --domains value.
  const certificate = (ext: string) => join(dir, 'lego', 'certificates', `${NAMES[0]}${ext}`);

  /** lego with its state in the temp dir, talking to akamu and trusting akamu's root. */
  function lego(...command: string[]): Promise<ToolResult> {
    return runTool(
      'lego',
      [
        '--server', akamu.directoryUrl,
        '--email', 'admin@example.com',
        '--accept-tos',
        '--path', join(dir, 'lego'),
        ...NAMES.flatMap((name) => ['--domains', name]),
        '--http',
        '--http.port', `:${http01Port}`,
        ...command,
      ], // biome-ignore format: one flag per line
      { env: { LEGO_CA_CERTIFICATES: akamu.rootCertPath }, timeoutMs: 120_000 },
    );
  }

  function assertOk(r: ToolResult): void {
    assert.equal(r.code, 0, describeResult(r, `\n--- akamu stderr ---\n${akamu.stderr}`));
  }

  /**
   * Checks the stored certificate: its bundle is the leaf then its chain, `openssl verify` accepts it
   * against akamu's root, and it names exactly NAMES. Returns the leaf's serial.
   */
  async function checkIssued(label: string): Promise<string> {
    const [leaf, ...bundled] = splitPemCertificates(await readFile(certificate('.crt'), 'utf8'));
    assert.ok(leaf && bundled.length > 0, `${certificate('.crt')} is not a leaf followed by its chain`);
    const issuer = await readFile(certificate('.issuer.crt'), 'utf8');
    assert.equal(bundled.join('').trim(), issuer.trim(), 'the bundle carries the issuer chain');
    const leafPath = join(dir, `${label}.leaf.pem`);
    await writeFile(leafPath, leaf);
    await opensslVerify(akamu.rootCertPath, certificate('.issuer.crt'), leafPath);
    assert.deepEqual(await opensslDnsNames(leafPath), NAMES);
    return serialOf(leaf);
  }

  test('registers and obtains one certificate for two names over http-01', { skip }, async () => {
    assertOk(await lego('run'));
    serials.push(await checkIssued('issued'));
  });

  test('renews it to a new certificate', { skip }, async () => {
    assert.equal(serials.length, 1, 'issuance must have succeeded first');
    // Certificates last 90 days: "renew when fewer than 100 days are left" always renews.
    assertOk(await lego('renew', '--days', '100', '--no-random-sleep'));
    const renewed = await checkIssued('renewed');
    assert.notEqual(renewed, serials[0], 'the renewed certificate has a new serial');
    serials.push(renewed);
  });

  test('revokes it with reason keyCompromise', { skip }, async () => {
    assert.equal(serials.length, 2, 'renewal must have succeeded first');
    // --keep: leave the certificate in place so the second revocation reaches the server.
    assertOk(await lego('revoke', '--reason', '1', '--keep'));
    assert.equal(serialOf(await readFile(certificate('.crt'), 'utf8')), serials[1]);
  });

  test('a second revocation fails with alreadyRevoked', { skip }, async () => {
    assert.equal(serials.length, 2, 'renewal must have succeeded first');
    const r = await lego('revoke', '--reason', '1', '--keep');
    assert.ok(!r.timedOut, describeResult(r));
    assert.notEqual(r.code, 0, `lego accepted a second revocation:\n${describeResult(r)}`);
    assert.match(`${r.stdout}\n${r.stderr}`, /urn:ietf:params:acme:error:alreadyRevoked/, describeResult(r));
  });
});
