import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { ConfigError, loadConfig, parseConfig } from '../../src/config.ts';

describe('configuration', () => {
  it('has a safe default for every key', () => {
    const c = parseConfig({});
    assert.equal(c.server.port, 8443);
    assert.equal(c.tls.mode, 'auto');
    assert.equal(c.ca.key_type, 'ec:P-256');
    assert.equal(c.ca.certificate_validity, 90 * 86_400_000);
    assert.deepEqual(c.acme.contact_schemes, ['mailto']);
    assert.equal(c.va.http01_port, 80);
  });

  it('names the key and what is wrong, and refuses unknown keys', () => {
    assert.throws(
      () => parseConfig({ server: { port: 'x' } }),
      (e: Error) => e instanceof ConfigError && /server\.port/.test(e.message),
    );
    assert.throws(() => parseConfig({ server: { prot: 1 } }), /unknown key server\.prot/);
    assert.throws(() => parseConfig({ nonsense: {} }), /unknown key nonsense/);
    assert.throws(() => parseConfig({ ca: { key_type: 'dsa:1024' } }), /ca\.key_type/);
    assert.throws(
      () => parseConfig({ ca: { certificate_validity: '3 weeks' } }),
      /ca\.certificate_validity.*not a duration/,
    );
  });

  it('reads TOML, applies AKAMU_* overrides, resolves data_dir against the file', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'akamu-config-'));
    const file = path.join(dir, 'akamu.toml');
    writeFileSync(file, 'data_dir = "data"\n[server]\nport = 9000\n[ca]\ncertificate_validity = "30d"\n');
    const c = loadConfig(file, {
      AKAMU_SERVER_HOST: '::1',
      AKAMU_VA_ALLOW_PRIVATE_NETWORKS: 'false',
      AKAMU_ACME_CAA_IDENTITIES: '["ca.example"]',
    });
    assert.equal(c.data_dir, path.join(dir, 'data'));
    assert.equal(c.server.port, 9000);
    assert.equal(c.server.host, '::1');
    assert.equal(c.va.allow_private_networks, false);
    assert.deepEqual(c.acme.caa_identities, ['ca.example']);
    assert.equal(c.ca.certificate_validity, 30 * 86_400_000);
    assert.throws(() => loadConfig(file, { AKAMU_BOGUS_KEY: '1' }), /AKAMU_BOGUS_KEY/);
    // The command's own variables (docs/cli.md) are not configuration keys, and not errors either.
    const withCommandVariables = loadConfig(file, {
      AKAMU_CONFIG: file,
      AKAMU_COMPILE_CACHE: 'off',
      AKAMU_KEY_AUTHORIZATION: 'token.thumbprint',
    });
    assert.equal(withCommandVariables.server.port, loadConfig(file, {}).server.port);
    writeFileSync(file, 'data_dir = [');
    assert.throws(() => loadConfig(file, {}), /not valid TOML/);
  });

  it('passes an already-parsed config through unchanged', () => {
    const c = parseConfig({ ca: { certificate_validity: '1d' } });
    assert.equal(parseConfig(c).ca.certificate_validity, 86_400_000);
  });
});
