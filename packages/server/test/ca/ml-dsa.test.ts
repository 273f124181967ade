import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createPublicKey, generateKeyPairSync, sign, verify, X509Certificate } from 'node:crypto';
import { describe, it } from 'node:test';
import { connect, createServer } from 'node:tls';
import { createCsr, generateKey } from '@akamu/client';
import {
  contentOf,
  derToPem,
  oid,
  rawOf,
  readChildren,
  readWhole,
  sequence,
  TAG,
  type Tlv,
} from '@akamu/protocol';
import { AsnConvert } from '@peculiar/asn1-schema';
import * as x509 from '@peculiar/asn1-x509';
import { issueServerCertificate, loadOrCreateCa } from '../../src/ca/ca-store.ts';
import { CertificateIssuer, newSerial } from '../../src/ca/certificate-issuer.ts';
import { CrlSigner } from '../../src/ca/crl.ts';
import { CsrError, describeKey, parseCsr } from '../../src/ca/csr.ts';
import {
  generateKeyPair,
  issuerKeyType,
  KEY_TYPES,
  keyTypeOf,
  ML_DSA_KEY_TYPES,
  type MlDsaKeyType,
  parseKeyType,
  signatureAlgorithmFor,
} from '../../src/ca/key-type.ts';
import { buildOcspResponse, ocspSigner, singleResponse } from '../../src/ca/ocsp.ts';
import { checkCertificateKey } from '../../src/core/csr-rules.ts';
import { keyTypeRefusal, keyUsageBitsFor } from '../../src/core/profile-rules.ts';
import { decodeCertificate, extensionValue, keyObject, tempDir, writeCertPem } from './support.ts';

/** FIPS 204 / draft-ietf-lamps-dilithium-certificates: id-ml-dsa-44/65/87. */
const OIDS: Record<MlDsaKeyType, string> = {
  'ml-dsa-44': '2.16.840.1.101.3.4.3.17',
  'ml-dsa-65': '2.16.840.1.101.3.4.3.18',
  'ml-dsa-87': '2.16.840.1.101.3.4.3.19',
};

/** [tbs, signatureAlgorithm, signature] of a signed SEQUENCE (Certificate, CertificateList, BasicOCSPResponse). */
function signedParts(der: Buffer): { tbs: Buffer; algorithm: Buffer; signature: Buffer } {
  const outer = readWhole(der, TAG.SEQUENCE, 'signed');
  const [tbs, alg, sig] = readChildren(der, outer) as [Tlv, Tlv, Tlv];
  return { tbs: rawOf(der, tbs), algorithm: rawOf(der, alg), signature: contentOf(der, sig).subarray(1) };
}

let warnedOpenssl = false;

/** Whether the system openssl knows ML-DSA (OpenSSL >= 3.5); Debian 12's 3.0 does not. */
function opensslHasMlDsa(): boolean {
  const r = spawnSync('openssl', ['list', '-signature-algorithms'], { encoding: 'utf8', timeout: 10_000 });
  return r.status === 0 && /ML-DSA/i.test(r.stdout);
}

describe('ML-DSA CA keys (FIPS 204, draft-ietf-lamps-dilithium-certificates)', () => {
  it('key types: generated, recognised, and signing with absent AlgorithmIdentifier parameters', () => {
    for (const kt of ML_DSA_KEY_TYPES) {
      assert.ok(KEY_TYPES.includes(kt));
      assert.equal(parseKeyType(kt), kt);
      const { privateKey, publicKey } = generateKeyPair(kt);
      assert.equal(keyTypeOf(privateKey), kt);
      assert.equal(keyTypeOf(publicKey), kt);
      const alg = signatureAlgorithmFor(privateKey);
      assert.equal(alg.hash, null);
      assert.equal(alg.name, kt.toUpperCase());
      // SEQUENCE { OID } and nothing else.
      assert.deepEqual(alg.algorithmIdentifier, sequence(oid(OIDS[kt])));
      // node:crypto sign(null, …) is pure ML-DSA with an empty context (FIPS 204 Algorithm 2).
      const data = Buffer.from('tbs');
      assert.ok(verify(null, data, publicKey, sign(alg.hash, data, privateKey)));
    }
  });

  for (const kt of ML_DSA_KEY_TYPES) {
    it(`a fully ${kt} chain: root, intermediate, ML-DSA and ECDSA leaves, reloaded from disk`, async (t) => {
      const dir = tempDir();
      const ca = await loadOrCreateCa({ dir, keyType: kt });
      assert.equal(ca.generated, true);
      const root = new X509Certificate(ca.rootCertDer!);
      const intermediate = new X509Certificate(ca.issuerCertDer);
      assert.equal(root.publicKey.asymmetricKeyType, kt);
      assert.equal(intermediate.publicKey.asymmetricKeyType, kt);
      assert.ok(root.verify(root.publicKey), 'root self-signature');
      assert.ok(intermediate.verify(root.publicKey), 'intermediate signed by root');
      for (const der of [ca.rootCertDer!, ca.issuerCertDer]) {
        const { algorithm } = signedParts(der);
        assert.deepEqual(algorithm, sequence(oid(OIDS[kt])), 'signatureAlgorithm with absent parameters');
        assert.equal(decodeCertificate(der).tbsCertificate.signature.algorithm, OIDS[kt]);
      }

      const issuer = new CertificateIssuer({ issuerKey: ca.issuerKey, issuerCertDer: ca.issuerCertDer });
      const now = Date.now();
      const leafFor = (spki: Buffer, keyUsages?: number[]) =>
        issuer.issue({
          serial: newSerial(),
          spki,
          dnsNames: ['pq.example'],
          ipAddresses: [],
          notBefore: new Date(now - 60_000),
          notAfter: new Date(now + 86_400_000),
          ...(keyUsages ? { keyUsages } : {}),
        });
      // An ML-DSA leaf from an @akamu/client ML-DSA CSR: the SPKI is embedded verbatim.
      const leafKey = generateKey('ml-dsa-65');
      const csr = parseCsr(createCsr({ key: leafKey, dnsNames: ['pq.example'] }));
      assert.ok(csr.signatureValid);
      checkCertificateKey(csr.publicKey);
      const kus = keyUsageBitsFor(
        ['digitalSignature', 'keyEncipherment', 'keyAgreement'],
        describeKey(csr.publicKey).type,
      );
      assert.deepEqual(kus, [0], 'digitalSignature only for ML-DSA');
      const mlDsaLeafDer = leafFor(csr.spki, kus);
      const mlDsaLeaf = new X509Certificate(mlDsaLeafDer);
      assert.ok(mlDsaLeaf.verify(intermediate.publicKey));
      assert.ok(mlDsaLeaf.publicKey.equals(createPublicKey(leafKey)));
      assert.deepEqual(
        decodeCertificate(mlDsaLeafDer).tbsCertificate.subjectPublicKeyInfo,
        AsnConvert.parse(csr.spki, x509.SubjectPublicKeyInfo),
      );
      const ku = extensionValue(decodeCertificate(mlDsaLeafDer), x509.id_ce_keyUsage, x509.KeyUsage);
      assert.equal(ku.toNumber(), x509.KeyUsageFlags.digitalSignature);
      // The default key usage for a non-RSA key is digitalSignature too.
      const defaultKu = extensionValue(
        decodeCertificate(leafFor(csr.spki)),
        x509.id_ce_keyUsage,
        x509.KeyUsage,
      );
      assert.equal(defaultKu.toNumber(), x509.KeyUsageFlags.digitalSignature);

      const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      const ecLeafDer = leafFor(ec.publicKey.export({ type: 'spki', format: 'der' }));
      const ecLeaf = new X509Certificate(ecLeafDer);
      assert.ok(ecLeaf.verify(intermediate.publicKey), 'ECDSA leaf signed with ML-DSA');
      assert.equal(ecLeaf.publicKey.asymmetricKeyType, 'ec');

      // Verified as a chain by node:crypto's OpenSSL 3.5 in a TLS 1.3 handshake below; by the system
      // openssl only when it knows ML-DSA.
      if (opensslHasMlDsa()) {
        const rootPem = writeCertPem(dir, 'root-check', ca.rootCertDer!);
        const interPem = writeCertPem(dir, 'inter-check', ca.issuerCertDer);
        for (const [name, der] of [
          ['ml', mlDsaLeafDer],
          ['ec', ecLeafDer],
        ] as const) {
          const leafPem = writeCertPem(dir, `leaf-${name}`, der);
          const r = spawnSync('openssl', ['verify', '-CAfile', rootPem, '-untrusted', interPem, leafPem], {
            encoding: 'utf8',
            timeout: 10_000,
          });
          assert.equal(r.status, 0, r.stdout + r.stderr);
        }
      } else if (!warnedOpenssl) {
        warnedOpenssl = true;
        process.stderr.write(
          '\n*** WARNING: the system openssl has no ML-DSA (needs OpenSSL >= 3.5; Debian 12 ships 3.0): ' +
            '`openssl verify` of the ML-DSA chain is skipped; node:crypto (OpenSSL 3.5) verified it ***\n\n',
        );
      }
      if (!opensslHasMlDsa()) t.diagnostic('openssl verify skipped: the system openssl has no ML-DSA');

      // Restart: the same CA is loaded back from its PEM files.
      const again = await loadOrCreateCa({ dir, keyType: kt });
      assert.equal(again.generated, false);
      assert.equal(issuerKeyType(again.issuerKey), kt);
      assert.ok(again.issuerCertDer.equals(ca.issuerCertDer));
    });
  }

  it('CRLs and OCSP responses signed with ML-DSA verify with node:crypto', async () => {
    const ca = await loadOrCreateCa({ dir: tempDir(), keyType: 'ml-dsa-87' });
    const issuer = new CertificateIssuer({ issuerKey: ca.issuerKey, issuerCertDer: ca.issuerCertDer });
    const issuerPub = createPublicKey(keyObject(ca.issuerKey));
    const now = new Date();
    const crl = new CrlSigner({
      issuerName: issuer.issuerName,
      authorityKeyId: issuer.authorityKeyId,
      key: ca.issuerKey,
    }).build({
      crlNumber: 7,
      thisUpdate: now,
      nextUpdate: new Date(now.getTime() + 86_400_000),
      entries: [{ serial: '0102', revokedAt: now.getTime(), reason: 1 }],
    });
    const c = signedParts(crl);
    assert.deepEqual(c.algorithm, sequence(oid(OIDS['ml-dsa-87'])));
    assert.equal(c.signature.length, 4627);
    assert.ok(verify(null, c.tbs, issuerPub, c.signature), 'CRL signature');
    const parsed = AsnConvert.parse(crl, x509.CertificateList);
    assert.equal(parsed.tbsCertList.revokedCertificates?.length, 1);

    const certId = sequence(sequence(oid('1.3.14.3.2.26')), Buffer.from([0x04, 0]), Buffer.from([0x04, 0]));
    const single = singleResponse(certId, { status: 'good' }, now, new Date(now.getTime() + 3_600_000));
    const response = buildOcspResponse(ocspSigner(ca.issuerKey), now, [single]);
    // OCSPResponse { status, [0] { id-pkix-ocsp-basic, OCTET STRING BasicOCSPResponse } }
    const top = readChildren(response, readWhole(response, TAG.SEQUENCE));
    const responseBytes = readChildren(response, readChildren(response, top[1]!)[0]!);
    const basic = contentOf(response, responseBytes[1]!);
    const b = signedParts(basic);
    assert.deepEqual(b.algorithm, sequence(oid(OIDS['ml-dsa-87'])));
    assert.ok(verify(null, b.tbs, issuerPub, b.signature), 'OCSP response signature');
    const tampered = Buffer.from(b.tbs);
    tampered[tampered.length - 1]! ^= 1;
    assert.ok(!verify(null, tampered, issuerPub, b.signature));
  });

  it('an ML-DSA TLS server certificate serves TLS 1.3 through node:tls, and the client verifies the ML-DSA chain', async () => {
    const ca = await loadOrCreateCa({ dir: tempDir(), keyType: 'ml-dsa-65' });
    const server = issueServerCertificate(ca, ['localhost', '127.0.0.1'], 1, 'ml-dsa-65');
    assert.equal(new X509Certificate(server.certDer).publicKey.asymmetricKeyType, 'ml-dsa-65');
    const srv = createServer({ key: server.keyPem, cert: server.certChainPem, minVersion: 'TLSv1.2' }, (s) =>
      s.end('pq'),
    );
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const { port } = srv.address() as { port: number };
    const handshake = (maxVersion: 'TLSv1.3' | 'TLSv1.2') =>
      new Promise<{ ok: boolean; protocol?: string | null; authorized?: boolean; error?: string }>(
        (resolve) => {
          const sock = connect(
            {
              host: '127.0.0.1',
              port,
              servername: 'localhost',
              ca: derToPem(ca.rootCertDer!),
              maxVersion,
              timeout: 5000,
            },
            () => {
              resolve({ ok: true, protocol: sock.getProtocol(), authorized: sock.authorized });
              sock.end();
            },
          );
          sock.on('error', (e) => resolve({ ok: false, error: e.message }));
          sock.on('timeout', () => {
            sock.destroy();
            resolve({ ok: false, error: 'timeout' });
          });
        },
      );
    try {
      const tls13 = await handshake('TLSv1.3');
      assert.deepEqual(tls13, { ok: true, protocol: 'TLSv1.3', authorized: true });
      // TLS 1.2 has no ML-DSA signature scheme: a TLS 1.2-only client cannot use this certificate.
      const tls12 = await handshake('TLSv1.2');
      assert.equal(tls12.ok, false, JSON.stringify(tls12));
    } finally {
      srv.close();
    }
  });
});

describe('ML-DSA CSRs and certificate keys', () => {
  it('parseCsr verifies ML-DSA-44/65/87 CSRs and refuses parameters, tampering and a mismatched OID', () => {
    for (const kt of ML_DSA_KEY_TYPES) {
      const key = generateKey(kt);
      const der = createCsr({ key, dnsNames: ['a.example', 'b.example'] });
      const csr = parseCsr(der);
      assert.equal(csr.signatureAlgorithm, kt.toUpperCase());
      assert.equal(csr.signatureValid, true, kt);
      assert.deepEqual(csr.dnsNames, ['a.example', 'b.example']);
      assert.equal(csr.publicKey.asymmetricKeyType, kt);
      assert.equal(describeKey(csr.publicKey).type, kt);
      checkCertificateKey(csr.publicKey);
      assert.equal(keyTypeRefusal(describeKey(csr.publicKey), ['ml-dsa']), undefined);
      assert.equal(keyTypeRefusal(describeKey(csr.publicKey), [kt]), undefined);
      assert.match(keyTypeRefusal(describeKey(csr.publicKey), ['ec']) ?? '', new RegExp(kt));

      const parts = signedParts(der);
      // A flipped bit in the signed info: the signature no longer verifies.
      const tampered = Buffer.from(der);
      const at = der.indexOf(Buffer.from('a.example'));
      tampered[at] = 'c'.charCodeAt(0);
      assert.equal(parseCsr(tampered).signatureValid, false);
      // Another parameter set's OID (same length) over the same bytes: refused as not verifying.
      const other = ML_DSA_KEY_TYPES.find((o) => o !== kt)!;
      // (the outer signatureAlgorithm, not the SPKI's AlgorithmIdentifier, which has the same bytes)
      const swapped = Buffer.from(der);
      sequence(oid(OIDS[other])).copy(swapped, der.lastIndexOf(parts.algorithm));
      assert.equal(parseCsr(swapped).signatureValid, false);
      // NULL parameters are not allowed for ML-DSA.
      assert.throws(() => parseCsr(reencodeWithNullParams(der)), CsrError);
    }
  });
});

/** The CSR with its signatureAlgorithm given NULL parameters (re-encoded with correct lengths). */
function reencodeWithNullParams(der: Buffer): Buffer {
  const outer = readWhole(der, TAG.SEQUENCE);
  const [info, alg, sig] = readChildren(der, outer) as [Tlv, Tlv, Tlv];
  const algOid = readChildren(der, alg)[0]!;
  return sequence(rawOf(der, info), sequence(rawOf(der, algOid), Buffer.from([0x05, 0])), rawOf(der, sig));
}
