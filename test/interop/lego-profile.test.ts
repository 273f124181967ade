/**
 * lego (Debian package `lego`, which cannot send `profile`) against a per-profile directory of a real
 * `akamu serve` (docs/profiles.md): the profile is trust_authenticated, so lego gets a certificate with no
 * challenge answered, with the profile's lifetime and EKUs; a name outside the profile's allow list is
 * refused with rejectedIdentifier.
 */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type AkamuProcess, freePort, requireTool, startAkamu } from '../helpers/akamu-process.ts';
import { opensslVerify, splitPemCertificates } from '../helpers/openssl.ts';
import { describeResult, runTool, type ToolResult } from '../helpers/run-tool.ts';

const skip =
  requireTool('lego') && requireTool('openssl')
    ? false
    : 'lego or openssl not installed: apt-get install lego openssl';

describe('lego against a per-profile directory in trust mode', { timeout: 120_000 }, () => {
  let akamu: AkamuProcess;
  let dir: string;
  let http01Port: number;

  before(async () => {
    if (skip) return;
    dir = await mkdtemp(join(tmpdir(), 'akamu-lego-profile-'));
    http01Port = await freePort();
    akamu = await startAkamu({
      config: {
        va: { http01_port: http01Port },
        profiles: {
          internal: {
            description: 'internal services',
            authorization_mode: 'trust_authenticated',
            allow_names: ['trusted.localhost'],
            validity: '2d',
            extended_key_usages: ['serverAuth', 'clientAuth'],
          },
        },
      },
    });
  });

  after(async () => {
    await akamu?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  function lego(domain: string, ...command: string[]): Promise<ToolResult> {
    return runTool(
      'lego',
      [
        '--server', akamu.directoryUrl.replace(/\/acme\/directory$/, '/acme/profile/internal/directory'),
        '--email', 'admin@example.com',
        '--accept-tos',
        '--path', join(dir, 'lego'),
        '--domains', domain,
        '--http',
        '--http.port', `:${http01Port}`,
        ...command,
      ], // biome-ignore format: one flag per line
      { env: { LEGO_CA_CERTIFICATES: akamu.rootCertPath }, timeoutMs: 60_000 },
    );
  }

  test('obtains a certificate under the profile without answering a challenge', { skip }, async () => {
    const name = 'api.trusted.localhost';
    const r = await lego(name, 'run');
    assert.equal(r.code, 0, describeResult(r, `\n--- akamu stderr ---\n${akamu.stderr}`));
    const crt = join(dir, 'lego', 'certificates', `${name}.crt`);
    const [leafPem] = splitPemCertificates(await readFile(crt, 'utf8'));
    const leafPath = join(dir, 'leaf.pem');
    await writeFile(leafPath, leafPem!);
    await opensslVerify(
      akamu.rootCertPath,
      join(dir, 'lego', 'certificates', `${name}.issuer.crt`),
      leafPath,
    );
    const leaf = new X509Certificate(leafPem!);
    assert.equal(leaf.subjectAltName, `DNS:${name}`);
    const days = (Date.parse(leaf.validTo) - Date.parse(leaf.validFrom)) / 86_400_000;
    assert.ok(days > 1.9 && days < 2.1, `the profile's 2 days, got ${days}`);
    assert.deepEqual(leaf.keyUsage, ['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2']);
  });

  test("is refused a name outside the profile's allow list", { skip }, async () => {
    const r = await lego('www.example.localhost', 'run');
    assert.notEqual(r.code, 0, describeResult(r));
    assert.match(`${r.stdout}\n${r.stderr}`, /rejectedIdentifier/, describeResult(r));
  });
});
