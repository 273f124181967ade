/**
 * End to end for every CA key type: bootstrap a CA on disk, make a CSR with `openssl req`,
 * parse it, issue a leaf, and have openssl and node verify the result.
 */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { test } from 'node:test';
import * as asn1x509 from '@peculiar/asn1-x509';
import { loadOrCreateCa } from '../../src/ca/ca-store.ts';
import { CertificateIssuer, newSerial } from '../../src/ca/certificate-issuer.ts';
import { parseCsr } from '../../src/ca/csr.ts';
import { generateKeyPair, KEY_TYPES } from '../../src/ca/key-type.ts';
import {
  certText,
  decodeCertificate,
  extensionValue,
  opensslCsr,
  opensslVerify,
  tempDir,
  writeCertPem,
} from './support.ts';

const SIGNATURE_NAMES: Record<string, RegExp> = {
  'ec:P-256': /Signature Algorithm: ecdsa-with-SHA256/,
  'ec:P-384': /Signature Algorithm: ecdsa-with-SHA384/,
  'rsa:2048': /Signature Algorithm: sha256WithRSAEncryption/,
  'rsa:3072': /Signature Algorithm: sha256WithRSAEncryption/,
  'rsa:4096': /Signature Algorithm: sha256WithRSAEncryption/,
  ed25519: /Signature Algorithm: ED25519/,
};

// The system openssl (Debian 12: 3.0) has no ML-DSA; ML-DSA CAs are covered by ml-dsa.test.ts.
for (const keyType of KEY_TYPES.filter((k) => !k.startsWith('ml-dsa-'))) {
  test(`round trip with a ${keyType} CA`, async () => {
    const dir = tempDir();
    const ca = await loadOrCreateCa({ dir, keyType });
    assert.equal(ca.generated, true);

    const leafKey = generateKeyPair(keyType).privateKey;
    const csrDer = opensslCsr(leafKey, {
      subject: '/CN=www.example.com',
      extensions: [
        'subjectAltName=DNS:www.example.com,DNS:example.com,DNS:*.api.example.com,IP:192.0.2.7,IP:2001:DB8:0:0:0:0:0:42',
      ],
    });
    const csr = parseCsr(csrDer);
    assert.equal(csr.signatureValid, true);
    assert.deepEqual(csr.dnsNames, ['www.example.com', 'example.com', '*.api.example.com']);
    assert.deepEqual(csr.ipAddresses, ['192.0.2.7', '2001:db8::42']);

    const now = new Date();
    const der = new CertificateIssuer(ca).issue({
      serial: newSerial(),
      spki: csr.spki,
      dnsNames: csr.dnsNames,
      ipAddresses: csr.ipAddresses,
      notBefore: new Date(now.getTime() - 60_000),
      notAfter: new Date(now.getTime() + 90 * 24 * 3600_000),
      ocspUrl: 'http://ca.example/ocsp',
      crlUrl: 'http://ca.example/crl/1.crl',
    });

    const leafPath = writeCertPem(dir, 'leaf.pem', der);
    const verified = opensslVerify(ca.rootCertPath!, writeCertPem(dir, 'chain.pem', ca.chainDer), leafPath);
    assert.equal(verified.status, 0, verified.stderr);
    assert.equal(verified.stdout.toString().trim(), `${leafPath}: OK`);

    const text = certText(der);
    assert.match(text, SIGNATURE_NAMES[keyType]!);
    assert.match(text, /Subject: CN ?= ?www\.example\.com/);
    assert.match(
      text,
      /DNS:www\.example\.com, DNS:example\.com, DNS:\*\.api\.example\.com, IP Address:192\.0\.2\.7, IP Address:2001:DB8:0:0:0:0:0:42/,
    );
    assert.match(text, /X509v3 Extended Key Usage: \n\s+TLS Web Server Authentication\n/);
    const usage = keyType.startsWith('rsa') ? 'Digital Signature, Key Encipherment' : 'Digital Signature';
    assert.match(text, new RegExp(`X509v3 Key Usage: critical\\n\\s+${usage}\\n`));
    assert.match(text, /X509v3 Basic Constraints: critical\n\s+CA:FALSE/);
    assert.match(text, /OCSP - URI:http:\/\/ca\.example\/ocsp/);
    assert.match(text, /URI:http:\/\/ca\.example\/crl\/1\.crl/);

    // SKI and AKI line up with the intermediate, per openssl's own rendering.
    const interText = certText(ca.issuerCertDer);
    const interSki = /Subject Key Identifier: \n\s+([0-9A-F:]+)/.exec(interText)![1]!;
    assert.match(text, new RegExp(`Authority Key Identifier: \\n\\s+(keyid:)?${interSki}`));
    const leafSki = extensionValue(
      decodeCertificate(der),
      asn1x509.id_ce_subjectKeyIdentifier,
      asn1x509.SubjectKeyIdentifier,
    );
    assert.match(
      text,
      new RegExp(
        `Subject Key Identifier: \\n\\s+${Buffer.from(leafSki.buffer)
          .toString('hex')
          .toUpperCase()
          .replace(/(..)(?!$)/g, '$1:')}`,
      ),
    );

    const leaf = new X509Certificate(der);
    const issuer = new X509Certificate(ca.issuerCertDer);
    assert.ok(leaf.checkIssued(issuer));
    assert.ok(leaf.verify(issuer.publicKey));
    assert.ok(leaf.publicKey.equals(csr.publicKey));
    assert.ok(leaf.checkHost('www.example.com'));
    assert.ok(leaf.checkHost('v1.api.example.com'));
    assert.ok(leaf.checkIP('2001:db8::42'));
  });
}
