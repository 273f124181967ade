/**
 * `akamu serve` with operator certificate files: SIGHUP swaps new files into the running listener (same
 * process, same port; docs/tls.md).
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  httpsGet,
  type Issued,
  makeClient,
  makeRoot,
} from '../../packages/server/test/integration/tls-support.ts';
import { type AkamuProcess, startAkamu } from '../helpers/akamu-process.ts';

const SERVER_AUTH = '1.3.6.1.5.5.7.3.1';

describe('akamu serve: TLS files reloaded on SIGHUP', { timeout: 60_000 }, () => {
  let dir: string;
  let akamu: AkamuProcess;
  let root: Issued;
  const certFile = () => join(dir, 'server.pem');
  const keyFile = () => join(dir, 'server.key');
  const serverCert = (cn: string) =>
    makeClient(root, { commonName: cn, dnsNames: ['localhost'], extendedKeyUsages: [SERVER_AUTH] });

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'akamu-sighup-'));
    root = makeRoot('SIGHUP Test Root');
    const first = serverCert('first');
    await writeFile(certFile(), first.chainPem);
    await writeFile(keyFile(), first.keyPem, { mode: 0o600 });
    akamu = await startAkamu({
      config: { tls: { mode: 'files', cert_file: certFile(), key_file: keyFile() } },
    });
  });

  after(async () => {
    await akamu?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('SIGHUP serves the new certificate from the same process and port', async () => {
    const before = await httpsGet(akamu.directoryUrl, { ca: root.pem });
    assert.equal(before.status, 200);
    assert.equal(before.peerCertificate.subject, 'CN=first');
    const second = serverCert('second');
    await writeFile(certFile(), second.chainPem);
    await writeFile(keyFile(), second.keyPem, { mode: 0o600 });
    process.kill(akamu.pid, 'SIGHUP');
    const deadline = Date.now() + 10_000;
    let subject = before.peerCertificate.subject;
    while (subject !== 'CN=second' && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      subject = (await httpsGet(akamu.directoryUrl, { ca: root.pem })).peerCertificate.subject;
    }
    assert.equal(subject, 'CN=second', akamu.stderr);
  });
});
