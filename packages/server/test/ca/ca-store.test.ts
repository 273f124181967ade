import assert from 'node:assert/strict';
import { createPrivateKey, createPublicKey, X509Certificate } from 'node:crypto';
import { chmodSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { pemToDer } from '@akamu/protocol';
import * as asn1x509 from '@peculiar/asn1-x509';
import { CA_FILES, issueServerCertificate, loadOrCreateCa } from '../../src/ca/ca-store.ts';
import { issuerKeyType, keyTypeOf } from '../../src/ca/key-type.ts';
import {
  decodeCertificate,
  extensionValue,
  keyObject,
  opensslVerify,
  tempDir,
  writeCertPem,
} from './support.ts';

const DAY = 24 * 60 * 60 * 1000;

function logger() {
  const lines: string[] = [];
  return { lines, log: (msg: string) => lines.push(msg) };
}

describe('loadOrCreateCa: generated CA', () => {
  test('bootstraps a root and intermediate with private files and sensible validity', async () => {
    const dir = join(tempDir(), 'nested', 'ca');
    const now = new Date('2026-01-15T00:00:00Z');
    const { lines, log } = logger();
    const ca = await loadOrCreateCa({ dir, keyType: 'ec:P-256', log, now: () => now });
    assert.equal(ca.generated, true);
    assert.match(lines.join('\n'), /generated a new ec:P-256 CA/);

    assert.equal(statSync(dir).mode & 0o777, 0o700);
    assert.equal(statSync(join(dir, CA_FILES.rootKey)).mode & 0o777, 0o600);
    assert.equal(statSync(join(dir, CA_FILES.intermediateKey)).mode & 0o777, 0o600);
    assert.equal(statSync(join(dir, CA_FILES.rootCert)).mode & 0o777, 0o644);
    assert.equal(statSync(join(dir, CA_FILES.intermediateCert)).mode & 0o777, 0o644);

    const root = new X509Certificate(ca.rootCertDer!);
    const inter = new X509Certificate(ca.issuerCertDer);
    assert.equal(root.subject, 'CN=akamu Root CA');
    assert.equal(inter.subject, 'CN=akamu Intermediate CA');
    assert.equal(inter.issuer, 'CN=akamu Root CA');
    assert.ok(inter.checkIssued(root) && inter.verify(root.publicKey));
    assert.equal(root.validToDate.getTime(), now.getTime() + 3650 * DAY);
    assert.equal(inter.validToDate.getTime(), now.getTime() + 1825 * DAY);
    assert.ok(inter.validFromDate.getTime() < now.getTime(), 'backdated for clock skew');
    const bc = extensionValue(
      decodeCertificate(ca.issuerCertDer),
      asn1x509.id_ce_basicConstraints,
      asn1x509.BasicConstraints,
    );
    assert.deepEqual([bc.cA, bc.pathLenConstraint], [true, 0]);

    assert.ok(createPublicKey(keyObject(ca.issuerKey)).equals(inter.publicKey));
    assert.deepEqual(ca.chainDer, [ca.issuerCertDer]);
    assert.deepEqual(pemToDer(ca.chainPem), [ca.issuerCertDer]);
    assert.equal(ca.rootCertPath, join(dir, CA_FILES.rootCert));
    assert.deepEqual(pemToDer(readFileSync(ca.rootCertPath!, 'utf8')), [ca.rootCertDer]);
    // Keys are PKCS#8 PEM.
    const keyPem = readFileSync(join(dir, CA_FILES.intermediateKey), 'utf8');
    assert.match(keyPem, /^-----BEGIN PRIVATE KEY-----/);
    assert.ok(createPrivateKey(keyPem).equals(keyObject(ca.issuerKey)));
    const result = opensslVerify(
      ca.rootCertPath!,
      ca.rootCertPath!,
      writeCertPem(tempDir(), 'i.pem', ca.issuerCertDer),
    );
    assert.equal(result.status, 0, result.stderr);
  });

  test('a second call loads the same CA', async () => {
    const dir = tempDir();
    const first = await loadOrCreateCa({ dir, keyType: 'ec:P-384' });
    const { lines, log } = logger();
    const second = await loadOrCreateCa({ dir, keyType: 'ec:P-384', log });
    assert.equal(second.generated, false);
    assert.deepEqual(second.issuerCertDer, first.issuerCertDer);
    assert.deepEqual(second.rootCertDer, first.rootCertDer);
    assert.deepEqual(second.chainDer, first.chainDer);
    assert.equal(second.chainPem, first.chainPem);
    assert.ok(keyObject(second.issuerKey).equals(keyObject(first.issuerKey)));
    assert.deepEqual(lines, []);
  });

  test('honours commonNamePrefix and notes a keyType that differs from the existing CA', async () => {
    const dir = tempDir();
    const ca = await loadOrCreateCa({ dir, keyType: 'ed25519', commonNamePrefix: 'Example Lab' });
    assert.equal(new X509Certificate(ca.issuerCertDer).subject, 'CN=Example Lab Intermediate CA');
    assert.equal(issuerKeyType(ca.issuerKey), 'ed25519');
    const { lines, log } = logger();
    const again = await loadOrCreateCa({ dir, keyType: 'rsa:2048', log });
    assert.equal(issuerKeyType(again.issuerKey), 'ed25519');
    assert.match(lines.join('\n'), /uses ed25519; keyType rsa:2048 applies only to new CAs/);
  });

  test('works without the root key (kept offline) but refuses other partial states', async () => {
    const dir = tempDir();
    const ca = await loadOrCreateCa({ dir, keyType: 'ec:P-256' });
    rmSync(join(dir, CA_FILES.rootKey));
    const loaded = await loadOrCreateCa({ dir, keyType: 'ec:P-256' });
    assert.deepEqual(loaded.issuerCertDer, ca.issuerCertDer);

    rmSync(join(dir, CA_FILES.intermediateKey));
    await assert.rejects(
      loadOrCreateCa({ dir, keyType: 'ec:P-256' }),
      /incomplete CA .*intermediate\.key\.pem/,
    );
    // Nothing was overwritten.
    assert.deepEqual(pemToDer(readFileSync(join(dir, CA_FILES.intermediateCert), 'utf8')), [
      ca.issuerCertDer,
    ]);
  });

  test('warns when a key file is readable by others', async () => {
    const dir = tempDir();
    await loadOrCreateCa({ dir, keyType: 'ec:P-256' });
    chmodSync(join(dir, CA_FILES.intermediateKey), 0o640);
    const { lines, log } = logger();
    await loadOrCreateCa({ dir, keyType: 'ec:P-256', log });
    assert.match(lines.join('\n'), /intermediate\.key\.pem is readable by group or others \(mode 640\)/);
  });

  test('refuses an intermediate that the root did not sign', async () => {
    const a = tempDir();
    const b = tempDir();
    await loadOrCreateCa({ dir: a, keyType: 'ec:P-256' });
    await loadOrCreateCa({ dir: b, keyType: 'ec:P-256' });
    writeFileSync(join(a, CA_FILES.rootCert), readFileSync(join(b, CA_FILES.rootCert)));
    await assert.rejects(loadOrCreateCa({ dir: a, keyType: 'ec:P-256' }), /broken chain/);
  });
});

describe('loadOrCreateCa: operator-supplied issuer', () => {
  test('loads a key and a leaf-first chain, splitting off a self-signed root', async () => {
    const src = tempDir();
    const generated = await loadOrCreateCa({ dir: src, keyType: 'rsa:2048' });
    const dir = tempDir();
    const chainFile = writeCertPem(dir, 'chain.pem', [generated.issuerCertDer, generated.rootCertDer!]);
    const keyFile = join(src, CA_FILES.intermediateKey);
    const ca = await loadOrCreateCa({
      dir: join(dir, 'unused'),
      keyType: 'ec:P-256',
      issuerKeyFile: keyFile,
      issuerCertFile: chainFile,
    });
    assert.equal(ca.generated, false);
    assert.ok(keyObject(ca.issuerKey).equals(keyObject(generated.issuerKey)));
    assert.deepEqual(ca.chainDer, [generated.issuerCertDer]);
    assert.deepEqual(ca.rootCertDer, generated.rootCertDer);
    assert.equal(ca.rootCertPath, undefined);
    assert.throws(() => statSync(join(dir, 'unused')), /ENOENT/, 'operator mode writes nothing');

    // Without the root in the file, there is no root.
    const noRoot = writeCertPem(dir, 'no-root.pem', generated.issuerCertDer);
    const ca2 = await loadOrCreateCa({
      dir,
      keyType: 'ec:P-256',
      issuerKeyFile: keyFile,
      issuerCertFile: noRoot,
    });
    assert.deepEqual(ca2.chainDer, [generated.issuerCertDer]);
    assert.equal(ca2.rootCertDer, undefined);

    // The server certificate chain is verifiable with the operator's root.
    const server = issueServerCertificate(ca2, ['acme.example'], 7, 'ec:P-256');
    const chainPath = join(dir, 'server.pem');
    writeFileSync(chainPath, server.certChainPem);
    const verified = opensslVerify(
      writeCertPem(dir, 'root.pem', generated.rootCertDer!),
      writeCertPem(dir, 'untrusted.pem', ca2.chainDer),
      writeCertPem(dir, 'leaf.pem', server.certDer),
    );
    assert.equal(verified.status, 0, verified.stderr);
  });

  test('refuses a key that does not match the first certificate', async () => {
    const src = tempDir();
    const generated = await loadOrCreateCa({ dir: src, keyType: 'ec:P-256' });
    const chainFile = writeCertPem(src, 'chain.pem', [generated.issuerCertDer, generated.rootCertDer!]);
    await assert.rejects(
      loadOrCreateCa({
        dir: src,
        keyType: 'ec:P-256',
        issuerKeyFile: join(src, CA_FILES.rootKey),
        issuerCertFile: chainFile,
      }),
      /issuer key does not match the first certificate/,
    );
  });

  test('refuses a half-specified issuer, an empty chain, a wrong order and a non-CA first certificate', async () => {
    const src = tempDir();
    const generated = await loadOrCreateCa({ dir: src, keyType: 'ec:P-256' });
    const keyFile = join(src, CA_FILES.intermediateKey);
    await assert.rejects(
      loadOrCreateCa({ dir: src, keyType: 'ec:P-256', issuerKeyFile: keyFile }),
      /must be given together/,
    );

    const empty = join(src, 'empty.pem');
    writeFileSync(empty, 'nothing here\n');
    await assert.rejects(
      loadOrCreateCa({ dir: src, keyType: 'ec:P-256', issuerKeyFile: keyFile, issuerCertFile: empty }),
      /contains no PEM certificate/,
    );

    const rootKey = join(src, CA_FILES.rootKey);
    const reversed = writeCertPem(src, 'reversed.pem', [generated.rootCertDer!, generated.issuerCertDer]);
    await assert.rejects(
      loadOrCreateCa({ dir: src, keyType: 'ec:P-256', issuerKeyFile: rootKey, issuerCertFile: reversed }),
      /broken chain/,
    );

    const server = issueServerCertificate(generated, ['leaf.example'], 1, 'ec:P-256');
    const leafKey = join(src, 'leaf.key.pem');
    writeFileSync(leafKey, server.keyPem, { mode: 0o600 });
    const leafChain = join(src, 'leaf-chain.pem');
    writeFileSync(leafChain, server.certChainPem);
    await assert.rejects(
      loadOrCreateCa({ dir: src, keyType: 'ec:P-256', issuerKeyFile: leafKey, issuerCertFile: leafChain }),
      /not a CA certificate/,
    );
  });
});

describe('issueServerCertificate', () => {
  test('DNS names and IP literals become SANs on a serverAuth certificate', async () => {
    const dir = tempDir();
    const ca = await loadOrCreateCa({ dir, keyType: 'ec:P-256' });
    const now = new Date();
    const server = issueServerCertificate(
      ca,
      ['Localhost', '127.0.0.1', '[::1]', 'acme.example.'],
      30,
      'rsa:2048',
      {
        now: () => now,
      },
    );
    const cert = new X509Certificate(server.certDer);
    assert.equal(
      cert.subjectAltName,
      'DNS:localhost, DNS:acme.example, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1',
    );
    assert.equal(cert.validToDate.getTime(), Math.floor((now.getTime() + 30 * DAY) / 1000) * 1000);
    assert.ok(createPublicKey(createPrivateKey(server.keyPem)).equals(cert.publicKey));
    assert.equal(keyTypeOf(cert.publicKey), 'rsa:2048');
    const eku = extensionValue(
      decodeCertificate(server.certDer),
      asn1x509.id_ce_extKeyUsage,
      asn1x509.ExtendedKeyUsage,
    );
    assert.deepEqual([...eku], ['1.3.6.1.5.5.7.3.1']);
    assert.deepEqual(pemToDer(server.certChainPem), [server.certDer, ...ca.chainDer]);

    const chainFile = join(dir, 'server-chain.pem');
    writeFileSync(chainFile, server.certChainPem);
    const verified = opensslVerify(
      ca.rootCertPath!,
      chainFile,
      writeCertPem(dir, 'server.pem', server.certDer),
    );
    assert.equal(verified.status, 0, verified.stderr);
    assert.throws(() => issueServerCertificate(ca, [], 30, 'ec:P-256'), /at least one hostname/);
    assert.throws(() => issueServerCertificate(ca, ['a.example'], 0, 'ec:P-256'), RangeError);
  });
});
