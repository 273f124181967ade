import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { runCli, show } from './helpers/run-cli.ts';

describe('akamu ca init|show', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'akamu-ca-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('init generates the root and intermediate (keys 0600) without serving; show prints the chain', async () => {
    const config = path.join(dir, 'akamu.toml');
    writeFileSync(
      config,
      `data_dir = "${path.join(dir, 'data')}"\n[ca]\nkey_type = "ec:P-384"\nname = "Test"\n`,
    );
    const init = await runCli(['ca', 'init', '-c', config, '--json']);
    assert.equal(init.code, 0, show(init));
    const caDir = path.join(dir, 'data', 'ca');
    assert.equal(statSync(path.join(caDir, 'root.key.pem')).mode & 0o777, 0o600);
    assert.equal(statSync(path.join(caDir, 'intermediate.key.pem')).mode & 0o777, 0o600);
    assert.equal(init.json?.rootCertificate, path.join(caDir, 'root.pem'));

    const shown = await runCli(['ca', 'show', '-c', config, '--json']);
    assert.equal(shown.code, 0, show(shown));
    const chain = shown.json?.chain as {
      subject: string;
      issuer: string;
      sha256: string;
      keyType: string;
      ca: boolean;
    }[];
    assert.equal(chain.length, 2);
    const root = new X509Certificate(readFileSync(path.join(caDir, 'root.pem')));
    const intermediate = new X509Certificate(readFileSync(path.join(caDir, 'intermediate.pem')));
    assert.equal(chain[0]!.sha256, intermediate.fingerprint256);
    assert.equal(chain[1]!.sha256, root.fingerprint256);
    assert.equal(chain[0]!.issuer, root.subject);
    assert.match(chain[1]!.subject, /Test Root CA/);
    assert.equal(chain[0]!.keyType, 'ec:secp384r1');
    assert.ok(chain.every((c) => c.ca));
    assert.deepEqual(init.json?.chain, shown.json?.chain);

    // init on an existing CA keeps it; the human output names the fingerprints.
    const again = await runCli(['ca', 'init', '--data-dir', path.join(dir, 'data')]);
    assert.equal(again.code, 0, show(again));
    assert.ok(again.stdout.includes(root.fingerprint256));
    assert.equal(
      new X509Certificate(readFileSync(path.join(caDir, 'root.pem'))).fingerprint256,
      root.fingerprint256,
    );
  });

  it('an EXPERIMENTAL composite CA: init names the TLS-only root, show marks the composite keys', async () => {
    const config = path.join(dir, 'composite.toml');
    const data = path.join(dir, 'composite-data');
    writeFileSync(
      config,
      `data_dir = "${data}"\n[ca]\nexperimental_composite = true\nkey_type = "composite:ml-dsa-44+ecdsa-p256"\n`,
    );
    const init = await runCli(['ca', 'init', '-c', config, '--json']);
    assert.equal(init.code, 0, show(init));
    assert.equal(init.json?.rootCertificate, path.join(data, 'ca', 'root.pem'));
    assert.equal(init.json?.tlsRootCertificate, path.join(data, 'tls-ca', 'root.pem'));
    assert.match(init.stderr, /EXPERIMENTAL CA: the issuing key is composite ML-DSA/);
    const tlsRoot = new X509Certificate(readFileSync(path.join(data, 'tls-ca', 'root.pem')));
    assert.equal(tlsRoot.publicKey.asymmetricKeyType, 'ec');

    const shown = await runCli(['ca', 'show', '-c', config]);
    assert.equal(shown.code, 0, show(shown));
    assert.equal(shown.stdout.match(/key: composite:ml-dsa-44\+ecdsa-p256 \(EXPERIMENTAL\)/g)?.length, 2);

    const unflagged = path.join(dir, 'composite-unflagged.toml');
    writeFileSync(unflagged, `data_dir = "${data}"\n`);
    const refused = await runCli(['ca', 'init', '-c', unflagged]);
    assert.equal(refused.code, 2, show(refused));
    assert.match(refused.stderr, /set ca\.experimental_composite = true/);
  });

  it('show without a CA and init with a bad configuration exit 2', async () => {
    const missing = await runCli(['ca', 'show', '--data-dir', path.join(dir, 'nothing-here')]);
    assert.equal(missing.code, 2, show(missing));
    assert.match(missing.stderr, /akamu ca init/);
    const bad = path.join(dir, 'bad.toml');
    writeFileSync(bad, '[ca]\nkey_type = "dsa"\n');
    const r = await runCli(['ca', 'init', '-c', bad]);
    assert.equal(r.code, 2, show(r));
    assert.match(r.stderr, /ca\.key_type/);
  });
});
