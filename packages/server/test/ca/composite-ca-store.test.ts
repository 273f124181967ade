/**
 * loadOrCreateCa with an EXPERIMENTAL composite ML-DSA CA (ca.experimental_composite): generated root and
 * intermediate, stored as PKCS#8 PEM, loaded back; the chain checks use the composite verifier because
 * node:crypto cannot read composite keys.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync, X509Certificate } from 'node:crypto';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { derToPem, integer, octetString, oid, pemToDer, sequence } from '@akamu/protocol';
import { CA_FILES, type CaMaterial, isIssuedBy, loadOrCreateCa } from '../../src/ca/ca-store.ts';
import { CertificateIssuer, newSerial } from '../../src/ca/certificate-issuer.ts';
import {
  CompositeSigner,
  certificateSpki,
  compositeKeyTypeOf,
  importCompositePrivateKey,
  verifyCompositeSigned,
} from '../../src/ca/composite.ts';
import { isExternalSigner, issuerKeyType, issuerSpki } from '../../src/ca/key-type.ts';
import { caKeyProblem } from '../../src/health.ts';
import { tempDir, writeCertPem } from './support.ts';

const TYPE = 'composite:ml-dsa-44+ecdsa-p256';

function logger() {
  const lines: string[] = [];
  return { lines, log: (msg: string) => lines.push(msg) };
}

/** Issues an ECDSA leaf from the CA and checks it verifies under the CA's intermediate only. */
function assertIssues(ca: CaMaterial): void {
  const leafKey = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey;
  const now = Date.now();
  const leaf = new CertificateIssuer(ca).issue({
    serial: newSerial(),
    spki: leafKey.export({ type: 'spki', format: 'der' }),
    dnsNames: ['composite.example'],
    ipAddresses: [],
    notBefore: new Date(now - 60_000),
    notAfter: new Date(now + 86_400_000),
  });
  assert.ok(verifyCompositeSigned(leaf, certificateSpki(ca.issuerCertDer)), 'leaf <- intermediate');
  assert.ok(!verifyCompositeSigned(leaf, certificateSpki(ca.rootCertDer!)), 'not by the root');
}

describe('loadOrCreateCa: EXPERIMENTAL composite ML-DSA CA', () => {
  test('generates a composite root and intermediate, stored as PKCS#8 "PRIVATE KEY" PEM with mode 0600', async () => {
    const dir = tempDir();
    const { lines, log } = logger();
    const ca = await loadOrCreateCa({ dir, keyType: TYPE, log });
    assert.equal(ca.generated, true);
    assert.match(lines.join('\n'), new RegExp(`generated a new ${TYPE.replace('+', '\\+')} CA`));

    assert.ok(isExternalSigner(ca.issuerKey), 'a CompositeSigner');
    assert.ok(ca.issuerKey instanceof CompositeSigner);
    assert.equal(issuerKeyType(ca.issuerKey), TYPE);
    assert.ok(issuerSpki(ca.issuerKey).equals(certificateSpki(ca.issuerCertDer)), 'key matches certificate');
    assert.equal(compositeKeyTypeOf(certificateSpki(ca.rootCertDer!)), TYPE, 'the root is composite too');

    const root = new X509Certificate(ca.rootCertDer!);
    const inter = new X509Certificate(ca.issuerCertDer);
    assert.equal(inter.subject, 'CN=akamu Intermediate CA');
    assert.ok(verifyCompositeSigned(ca.rootCertDer!, certificateSpki(ca.rootCertDer!)), 'root self-signed');
    assert.ok(
      verifyCompositeSigned(ca.issuerCertDer, certificateSpki(ca.rootCertDer!)),
      'intermediate <- root',
    );
    assert.ok(isIssuedBy(inter, root) && isIssuedBy(root, root));
    assert.ok(!isIssuedBy(root, inter), 'the root is not issued by the intermediate');

    for (const [file, signerDer] of [
      [CA_FILES.rootKey, ca.rootCertDer!],
      [CA_FILES.intermediateKey, ca.issuerCertDer],
    ] as const) {
      const path = join(dir, file);
      assert.equal(statSync(path).mode & 0o777, 0o600, file);
      const pem = readFileSync(path, 'utf8');
      assert.match(pem, /^-----BEGIN PRIVATE KEY-----\n/);
      const key = importCompositePrivateKey(pemToDer(pem)[0]!);
      assert.equal(key.type, TYPE);
      assert.ok(new CompositeSigner(key).spki.equals(certificateSpki(signerDer)), `${file} matches`);
    }
    assertIssues(ca);
    assert.equal(
      caKeyProblem(ca),
      undefined,
      'the readiness check signs and verifies with the composite key',
    );
  });

  test('loads the same composite CA again, and its reloaded key still issues', async () => {
    const dir = tempDir();
    const first = await loadOrCreateCa({ dir, keyType: TYPE });
    const { lines, log } = logger();
    const second = await loadOrCreateCa({ dir, keyType: TYPE, log });
    assert.equal(second.generated, false);
    assert.deepEqual(lines, []);
    assert.deepEqual(second.issuerCertDer, first.issuerCertDer);
    assert.deepEqual(second.rootCertDer, first.rootCertDer);
    assert.ok(issuerSpki(second.issuerKey).equals(issuerSpki(first.issuerKey)));
    assertIssues(second);

    // A keyType for new CAs that differs is noted, and the composite CA is still loaded.
    const third = await loadOrCreateCa({ dir, keyType: 'ec:P-256', log });
    assert.equal(issuerKeyType(third.issuerKey), TYPE);
    assert.match(
      lines.join('\n'),
      /uses composite:ml-dsa-44\+ecdsa-p256; keyType ec:P-256 applies only to new CAs/,
    );
  });

  test('refuses a composite intermediate from another CA, another root, and a damaged key file', async () => {
    const a = tempDir();
    const b = tempDir();
    await loadOrCreateCa({ dir: a, keyType: TYPE });
    await loadOrCreateCa({ dir: b, keyType: TYPE });
    const rootA = readFileSync(join(a, CA_FILES.rootCert));
    writeFileSync(join(a, CA_FILES.rootCert), readFileSync(join(b, CA_FILES.rootCert)));
    await assert.rejects(loadOrCreateCa({ dir: a, keyType: TYPE }), /broken chain/);
    writeFileSync(join(a, CA_FILES.rootCert), rootA);

    const interA = readFileSync(join(a, CA_FILES.intermediateCert));
    writeFileSync(join(a, CA_FILES.intermediateCert), readFileSync(join(b, CA_FILES.intermediateCert)));
    await assert.rejects(loadOrCreateCa({ dir: a, keyType: TYPE }), /issuer key does not match/);
    writeFileSync(join(a, CA_FILES.intermediateCert), interA);
    await loadOrCreateCa({ dir: a, keyType: TYPE }); // intact again

    // A composite OID over a private key too short to hold a seed and an ECPrivateKey: the composite
    // reader's error, not OpenSSL's.
    const bad = sequence(integer(0), sequence(oid('1.3.6.1.5.5.7.6.40')), octetString(Buffer.alloc(40)));
    writeFileSync(join(a, CA_FILES.intermediateKey), derToPem(bad, 'PRIVATE KEY'));
    await assert.rejects(
      loadOrCreateCa({ dir: a, keyType: TYPE }),
      /cannot read the private key in .*intermediate\.key\.pem: not a composite ML-DSA private key/,
    );
  });

  test('loads an operator-supplied composite key and chain (issuerKeyFile, issuerCertFile)', async () => {
    const src = tempDir();
    const generated = await loadOrCreateCa({ dir: src, keyType: 'composite:ml-dsa-65+ed25519' });
    const dir = tempDir();
    const chainFile = writeCertPem(dir, 'chain.pem', [generated.issuerCertDer, generated.rootCertDer!]);
    const ca = await loadOrCreateCa({
      dir: join(dir, 'unused'),
      keyType: 'ec:P-256',
      issuerKeyFile: join(src, CA_FILES.intermediateKey),
      issuerCertFile: chainFile,
    });
    assert.equal(issuerKeyType(ca.issuerKey), 'composite:ml-dsa-65+ed25519');
    assert.deepEqual(ca.chainDer, [generated.issuerCertDer]);
    assert.deepEqual(ca.rootCertDer, generated.rootCertDer, 'the self-signed composite root is split off');
    assertIssues(ca);

    // The root's key does not match the intermediate certificate.
    await assert.rejects(
      loadOrCreateCa({
        dir,
        keyType: 'ec:P-256',
        issuerKeyFile: join(src, CA_FILES.rootKey),
        issuerCertFile: chainFile,
      }),
      /issuer key does not match the first certificate/,
    );
  });
});
