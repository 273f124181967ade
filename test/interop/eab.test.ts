/**
 * External account binding (RFC 8555 §7.3.4) with real clients: akamu requires a binding for every new
 * account (acme.external_account_required), certbot, lego, dehydrated and the npm acme-client each register with their own
 * configured key — dehydrated writes its binding's JWK payload by hand with a shell printf — and lego
 * then gets a certificate with the bound account. Without a binding, or with a key that has already bound
 * an account, registration fails with the RFC 8555 problem the client shows.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { Agent } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import * as acme from 'acme-client';
import { type AkamuProcess, freePort, requireTool, startAkamu } from '../helpers/akamu-process.ts';
import { opensslVerifyFullChain } from '../helpers/openssl.ts';
import { describeResult, runTool, type ToolResult } from '../helpers/run-tool.ts';

const CLIENTS = ['certbot', 'lego', 'dehydrated'] as const;
type Client = (typeof CLIENTS)[number];
const NAME = 'bound.example.localhost';

const skip = CLIENTS.every((tool) => requireTool(tool))
  ? false
  : 'certbot, lego or dehydrated not installed: apt-get install certbot lego dehydrated';

describe('external account binding with certbot, lego, dehydrated, acme-client', { timeout: 240_000 }, () => {
  let akamu: AkamuProcess;
  let dir: string;
  let http01Port: number;
  /** One key per client, and one that no client gets until the reuse test. */
  const keys = Object.fromEntries(
    [...CLIENTS, 'acme-client', 'spare'].map((kid) => [kid, randomBytes(32).toString('base64url')]),
  ) as Record<Client | 'acme-client' | 'spare', string>;
  // One in 32 random keys starts with '-', which a client's option parser once took for an option: make
  // certbot's and lego's always do.
  keys.certbot = `-${keys.certbot.slice(1)}`;
  keys.lego = `-${keys.lego.slice(1)}`;

  before(async () => {
    if (skip) return;
    dir = await mkdtemp(join(tmpdir(), 'akamu-eab-'));
    http01Port = await freePort();
    akamu = await startAkamu({
      config: {
        va: { http01_port: http01Port },
        acme: { external_account_required: true },
        eab: { keys: Object.fromEntries(Object.entries(keys).map(([kid, hmac_key]) => [kid, { hmac_key }])) },
      },
    });
  });

  after(async () => {
    await akamu?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const context = () => `\n--- akamu stderr ---\n${akamu.stderr}`;
  const output = (r: ToolResult) => `${r.stdout}\n${r.stderr}`;

  function certbotRegister(configDir: string, eab?: { kid: string; key: string }): Promise<ToolResult> {
    return runTool(
      'certbot',
      [
        'register', '--non-interactive', '--agree-tos', '-m', 'admin@example.com',
        '--server', akamu.directoryUrl,
        '--config-dir', join(dir, configDir), '--work-dir', join(dir, `${configDir}-work`),
        '--logs-dir', join(dir, `${configDir}-logs`),
        // --flag=value: a base64url key may start with '-', which would read as an option.
        ...(eab ? [`--eab-kid=${eab.kid}`, `--eab-hmac-key=${eab.key}`] : []),
      ], // biome-ignore format: one flag per line
      { env: { REQUESTS_CA_BUNDLE: akamu.rootCertPath } },
    );
  }

  function legoRun(path: string, eab?: { kid: string; key: string }): Promise<ToolResult> {
    return runTool(
      'lego',
      [
        '--server', akamu.directoryUrl, '--email', 'admin@example.com', '--accept-tos',
        '--path', join(dir, path), '--domains', NAME, '--http', '--http.port', `:${http01Port}`,
        ...(eab ? ['--eab', `--kid=${eab.kid}`, `--hmac=${eab.key}`] : []),
        'run',
      ], // biome-ignore format: one flag per line
      { env: { LEGO_CA_CERTIFICATES: akamu.rootCertPath } },
    );
  }

  async function dehydratedRegister(name: string, eab?: { kid: string; key: string }): Promise<ToolResult> {
    const base = join(dir, name);
    await mkdir(base, { recursive: true });
    const settings = [`CA="${akamu.directoryUrl}"`, `BASEDIR="${base}"`, 'CONTACT_EMAIL="admin@example.com"'];
    if (eab) settings.push(`EAB_KID="${eab.kid}"`, `EAB_HMAC_KEY="${eab.key}"`);
    await writeFile(join(base, 'config'), `${settings.join('\n')}\n`);
    return runTool('dehydrated', ['--config', join(base, 'config'), '--register', '--accept-terms'], {
      env: { CURL_CA_BUNDLE: akamu.rootCertPath },
    });
  }

  test('the directory says a binding is required', { skip }, async () => {
    // curl comes with dehydrated, which runs everything through it.
    const r = await runTool('curl', [
      '--silent',
      '--fail',
      '--cacert',
      akamu.rootCertPath,
      akamu.directoryUrl,
    ]);
    assert.equal(r.code, 0, describeResult(r));
    const directory = JSON.parse(r.stdout) as { meta?: { externalAccountRequired?: boolean } };
    assert.equal(directory.meta?.externalAccountRequired, true);
  });

  test('certbot registers with its key, and not without one', { skip }, async () => {
    const refused = await certbotRegister('certbot-none');
    assert.notEqual(refused.code, 0, describeResult(refused));
    assert.match(output(refused), /externalAccountRequired|external account/i, describeResult(refused));
    const r = await certbotRegister('certbot', { kid: 'certbot', key: keys.certbot });
    assert.equal(r.code, 0, describeResult(r, context()));
  });

  test('lego registers with its key and gets a certificate', { skip }, async () => {
    const r = await legoRun('lego', { kid: 'lego', key: keys.lego });
    assert.equal(r.code, 0, describeResult(r, context()));
    const crt = join(dir, 'lego', 'certificates', `${NAME}.crt`);
    const issuer = join(dir, 'lego', 'certificates', `${NAME}.issuer.crt`);
    assert.ok((await readFile(issuer, 'utf8')).includes('BEGIN CERTIFICATE'));
    await opensslVerifyFullChain(akamu.rootCertPath, crt, dir, 'lego-eab');
  });

  test('dehydrated registers with its hand-written binding', { skip }, async () => {
    const r = await dehydratedRegister('dehydrated', { kid: 'dehydrated', key: keys.dehydrated });
    assert.equal(r.code, 0, describeResult(r, context()));
    assert.match(r.stdout, /Registering account key with ACME server/, describeResult(r));
  });

  test('acme-client (npm) registers with its key', { skip }, async () => {
    acme.axios.defaults.httpsAgent = new Agent({ ca: await readFile(akamu.rootCertPath) });
    const client = new acme.Client({
      directoryUrl: akamu.directoryUrl,
      accountKey: await acme.crypto.createPrivateRsaKey(2048),
      externalAccountBinding: { kid: 'acme-client', hmacKey: keys['acme-client'] },
    });
    const account = await client.createAccount({
      termsOfServiceAgreed: true,
      contact: ['mailto:ops@example.com'],
    });
    assert.equal(account.status, 'valid');
  });

  test('a key that bound an account cannot bind another, whoever sends it', { skip }, async () => {
    const again = await legoRun('lego-reuse', { kid: 'certbot', key: keys.certbot });
    assert.notEqual(again.code, 0, `lego bound a used key:\n${describeResult(again)}`);
    assert.match(output(again), /urn:ietf:params:acme:error:unauthorized/, describeResult(again));
    // The wrong MAC key for a kid is refused the same way, and does not use the kid up.
    const wrong = await certbotRegister('certbot-wrong', { kid: 'spare', key: keys.lego });
    assert.notEqual(wrong.code, 0, describeResult(wrong));
    assert.match(output(wrong), /the external account binding MAC does not verify/, describeResult(wrong));
    const spare = await dehydratedRegister('dehydrated-spare', { kid: 'spare', key: keys.spare });
    assert.equal(spare.code, 0, describeResult(spare, context()));
  });
});
