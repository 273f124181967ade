import assert from 'node:assert/strict';
import { createHash, createPublicKey, type KeyObject, X509Certificate } from 'node:crypto';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { readChildren, readTlv, readWhole, TAG } from '@akamu/protocol';
import { AsnConvert } from '@peculiar/asn1-schema';
import * as asn1x509 from '@peculiar/asn1-x509';
import {
  CertificateIssuer,
  createSelfSignedCa,
  EKU_CLIENT_AUTH,
  EKU_SERVER_AUTH,
  extension,
  keyIdentifier,
  type LeafRequest,
  newSerial,
} from '../../src/ca/certificate-issuer.ts';
import { generateKeyPair, type KeyType } from '../../src/ca/key-type.ts';
import {
  decodeCertificate,
  extensionValue,
  findExtension,
  opensslOk,
  opensslVerify,
  tempDir,
  writeCertPem,
} from './support.ts';

const DAY = 24 * 60 * 60 * 1000;
const NOW = new Date('2026-05-01T12:00:00Z');

interface TestCa {
  rootDer: Buffer;
  rootKey: KeyObject;
  intermediateDer: Buffer;
  intermediateKey: KeyObject;
  issuer: CertificateIssuer;
}

function buildCa(keyType: KeyType): TestCa {
  const root = generateKeyPair(keyType);
  const rootDer = createSelfSignedCa({
    privateKey: root.privateKey,
    commonName: 'Test Root',
    serial: newSerial(),
    notBefore: NOW,
    notAfter: new Date(NOW.getTime() + 3650 * DAY),
  });
  const inter = generateKeyPair(keyType);
  const intermediateDer = new CertificateIssuer({
    issuerKey: root.privateKey,
    issuerCertDer: rootDer,
  }).issueCa({
    serial: newSerial(),
    spki: inter.publicKey.export({ type: 'spki', format: 'der' }),
    commonName: 'Test Intermediate',
    notBefore: NOW,
    notAfter: new Date(NOW.getTime() + 1825 * DAY),
    pathLen: 0,
  });
  return {
    rootDer,
    rootKey: root.privateKey,
    intermediateDer,
    intermediateKey: inter.privateKey,
    issuer: new CertificateIssuer({ issuerKey: inter.privateKey, issuerCertDer: intermediateDer }),
  };
}

const ca = buildCa('ec:P-256');
const leafKey = generateKeyPair('ec:P-256');
const leafSpki = leafKey.publicKey.export({ type: 'spki', format: 'der' });

function request(overrides: Partial<LeafRequest> = {}): LeafRequest {
  return {
    serial: newSerial(),
    spki: leafSpki,
    dnsNames: ['example.com', 'www.example.com'],
    ipAddresses: [],
    notBefore: NOW,
    notAfter: new Date(NOW.getTime() + 90 * DAY),
    ...overrides,
  };
}

function sanOf(cert: asn1x509.Certificate): string[] {
  return [...extensionValue(cert, asn1x509.id_ce_subjectAltName, asn1x509.SubjectAlternativeName)].map(
    (g) => g.dNSName ?? `ip:${g.iPAddress}`,
  );
}

describe('CertificateIssuer.issue', () => {
  test('builds a v3 leaf that node and openssl accept as issued by the intermediate', () => {
    const der = ca.issuer.issue(request({ ipAddresses: ['192.0.2.10', '2001:DB8::10'] }));
    const leaf = new X509Certificate(der);
    const inter = new X509Certificate(ca.intermediateDer);
    assert.ok(leaf.checkIssued(inter));
    assert.ok(leaf.verify(inter.publicKey));
    assert.equal(leaf.subject, 'CN=example.com');
    assert.equal(leaf.issuer, 'CN=Test Intermediate');
    assert.equal(leaf.ca, false);
    assert.ok(leaf.publicKey.equals(leafKey.publicKey));
    assert.equal(
      leaf.subjectAltName,
      'DNS:example.com, DNS:www.example.com, IP Address:192.0.2.10, IP Address:2001:DB8:0:0:0:0:0:10',
    );
    assert.equal(leaf.validFromDate.getTime(), NOW.getTime());
    assert.equal(leaf.validToDate.getTime(), NOW.getTime() + 90 * DAY);

    const dir = tempDir();
    const result = opensslVerify(
      writeCertPem(dir, 'root.pem', ca.rootDer),
      writeCertPem(dir, 'inter.pem', ca.intermediateDer),
      writeCertPem(dir, 'leaf.pem', der),
      // The validity window is fixed, so verify at a time inside it rather than the host's clock.
      new Date(NOW.getTime() + DAY),
    );
    assert.equal(result.status, 0, result.stderr);
    assert.match(result.stdout.toString(), /leaf\.pem: OK/);
  });

  test('writes the expected extensions, criticality and key identifiers', () => {
    const cert = decodeCertificate(ca.issuer.issue(request()));
    const ids = [...cert.tbsCertificate.extensions!].map((e) => `${e.extnID}${e.critical ? '!' : ''}`);
    assert.deepEqual(ids, [
      '2.5.29.15!', // keyUsage
      '2.5.29.37', // extKeyUsage
      '2.5.29.19!', // basicConstraints
      '2.5.29.14', // subjectKeyIdentifier
      '2.5.29.35', // authorityKeyIdentifier
      '2.5.29.17', // subjectAltName, not critical: the subject is not empty
    ]);
    assert.deepEqual(keyUsages(cert), ['digitalSignature']);
    const eku = extensionValue(cert, asn1x509.id_ce_extKeyUsage, asn1x509.ExtendedKeyUsage);
    assert.deepEqual([...eku], [EKU_SERVER_AUTH]);
    const bc = extensionValue(cert, asn1x509.id_ce_basicConstraints, asn1x509.BasicConstraints);
    assert.equal(bc.cA, false);
    assert.equal(bc.pathLenConstraint, undefined);

    // SKI: SHA-1 of the subjectPublicKey bits (RFC 5280 §4.2.1.2 method 1).
    const spki = AsnConvert.parse(leafSpki, asn1x509.SubjectPublicKeyInfo);
    const expectedSki = createHash('sha1').update(Buffer.from(spki.subjectPublicKey)).digest('hex');
    const ski = extensionValue(cert, asn1x509.id_ce_subjectKeyIdentifier, asn1x509.SubjectKeyIdentifier);
    assert.equal(Buffer.from(ski.buffer).toString('hex'), expectedSki);
    assert.equal(keyIdentifier(leafSpki).toString('hex'), expectedSki);

    // AKI: the intermediate's SKI.
    const interSki = extensionValue(
      decodeCertificate(ca.intermediateDer),
      asn1x509.id_ce_subjectKeyIdentifier,
      asn1x509.SubjectKeyIdentifier,
    );
    const aki = extensionValue(cert, asn1x509.id_ce_authorityKeyIdentifier, asn1x509.AuthorityKeyIdentifier);
    assert.deepEqual(Buffer.from(aki.keyIdentifier!.buffer), Buffer.from(interSki.buffer));
    assert.deepEqual(Buffer.from(aki.keyIdentifier!.buffer), ca.issuer.authorityKeyId);

    // The issuer Name is the intermediate's subject byte for byte.
    const tbs = readChildren(
      ca.intermediateDer,
      readTlv(ca.intermediateDer, readTlv(ca.intermediateDer).contentStart),
    );
    const interSubject = ca.intermediateDer.subarray(tbs[5]!.start, tbs[5]!.end);
    assert.deepEqual(ca.issuer.issuerName, interSubject);
    assert.deepEqual(Buffer.from(AsnConvert.serialize(cert.tbsCertificate.issuer)), interSubject);
  });

  test('RSA subject keys also get keyEncipherment', () => {
    const rsa = generateKeyPair('rsa:2048').publicKey.export({ type: 'spki', format: 'der' });
    const cert = decodeCertificate(ca.issuer.issue(request({ spki: rsa })));
    assert.deepEqual(keyUsages(cert), ['digitalSignature', 'keyEncipherment']);
  });

  test('CN is the first DNS name, or the given commonName, only up to 64 characters', () => {
    assert.equal(
      new X509Certificate(ca.issuer.issue(request({ commonName: 'www.example.com' }))).subject,
      'CN=www.example.com',
    );
    const name64 = `${'a'.repeat(52)}.example.com`;
    assert.equal(name64.length, 64);
    assert.equal(
      new X509Certificate(ca.issuer.issue(request({ dnsNames: [name64] }))).subject,
      `CN=${name64}`,
    );

    const name65 = `${'a'.repeat(53)}.example.com`;
    const der = ca.issuer.issue(request({ dnsNames: [name65, 'short.example'] }));
    const cert = decodeCertificate(der);
    assert.equal(cert.tbsCertificate.subject.length, 0);
    // RFC 5280 §4.2.1.6: with an empty subject, SAN is critical.
    assert.equal(findExtension(cert, asn1x509.id_ce_subjectAltName)!.critical, true);
    assert.deepEqual(sanOf(cert), [name65, 'short.example']);
    assert.ok(new X509Certificate(der).verify(new X509Certificate(ca.intermediateDer).publicKey));
  });

  test('an IP-only certificate has an empty subject and a critical SAN', () => {
    const cert = decodeCertificate(
      ca.issuer.issue(request({ dnsNames: [], ipAddresses: ['::1', '10.0.0.1'] })),
    );
    assert.equal(cert.tbsCertificate.subject.length, 0);
    assert.equal(findExtension(cert, asn1x509.id_ce_subjectAltName)!.critical, true);
    const raw = extensionValue(cert, asn1x509.id_ce_subjectAltName, asn1x509.SubjectAlternativeName);
    assert.equal(raw.length, 2);
    assert.match(certTextOf(cert), /IP Address:0:0:0:0:0:0:0:1, IP Address:10\.0\.0\.1/);
  });

  test('serials are positive minimal INTEGERs', () => {
    const high = Buffer.from('ff'.repeat(16), 'hex');
    assert.equal(
      new X509Certificate(ca.issuer.issue(request({ serial: high }))).serialNumber,
      'FF'.repeat(16),
    );
    const cert = decodeCertificate(ca.issuer.issue(request({ serial: high })));
    assert.equal(Buffer.from(cert.tbsCertificate.serialNumber).toString('hex'), `00${'ff'.repeat(16)}`);
    const leadingZero = Buffer.from(`0001${'ab'.repeat(14)}`, 'hex');
    const cert2 = decodeCertificate(ca.issuer.issue(request({ serial: leadingZero })));
    assert.equal(Buffer.from(cert2.tbsCertificate.serialNumber).toString('hex'), `01${'ab'.repeat(14)}`);
    assert.throws(() => ca.issuer.issue(request({ serial: Buffer.alloc(0) })), TypeError);
    assert.throws(() => ca.issuer.issue(request({ serial: Buffer.alloc(21, 1) })), TypeError);
    assert.throws(() => ca.issuer.issue(request({ serial: Buffer.alloc(16) })), /positive/);
  });

  test('newSerial gives 16 bytes that encode as exactly 16 content bytes', () => {
    let calls = 0;
    const zeroFirst = (n: number) => {
      calls++;
      const b = Buffer.alloc(n, 0xee);
      if (calls === 1) b[0] = 0x80; // 0x80 & 0x7f === 0 -> must retry
      return b;
    };
    const s = newSerial(zeroFirst);
    assert.equal(calls, 2);
    assert.equal(s.length, 16);
    assert.equal(s[0], 0x6e);
    for (let i = 0; i < 200; i++) {
      const serial = newSerial();
      assert.ok(serial[0]! >= 1 && serial[0]! <= 0x7f);
    }
  });

  test('EKU: default serverAuth, clientAuth on request, omitted for an empty list', () => {
    const both = decodeCertificate(
      ca.issuer.issue(request({ extendedKeyUsages: [EKU_SERVER_AUTH, EKU_CLIENT_AUTH] })),
    );
    assert.deepEqual(
      [...extensionValue(both, asn1x509.id_ce_extKeyUsage, asn1x509.ExtendedKeyUsage)],
      [EKU_SERVER_AUTH, EKU_CLIENT_AUTH],
    );
    const none = decodeCertificate(ca.issuer.issue(request({ extendedKeyUsages: [] })));
    assert.equal(findExtension(none, asn1x509.id_ce_extKeyUsage), undefined);
  });

  test('CRL distribution point and AIA only when URLs are given', () => {
    const plain = decodeCertificate(ca.issuer.issue(request()));
    assert.equal(findExtension(plain, asn1x509.id_ce_cRLDistributionPoints), undefined);
    assert.equal(findExtension(plain, asn1x509.id_pe_authorityInfoAccess), undefined);

    const der = ca.issuer.issue(
      request({
        crlUrl: 'http://ca.example/crl/1',
        ocspUrl: 'http://ca.example/ocsp',
        caIssuersUrl: 'http://ca.example/inter.der',
      }),
    );
    const cert = decodeCertificate(der);
    const dps = extensionValue(cert, asn1x509.id_ce_cRLDistributionPoints, asn1x509.CRLDistributionPoints);
    assert.equal(
      dps[0]!.distributionPoint!.fullName![0]!.uniformResourceIdentifier,
      'http://ca.example/crl/1',
    );
    const aia = extensionValue(cert, asn1x509.id_pe_authorityInfoAccess, asn1x509.AuthorityInfoAccessSyntax);
    assert.deepEqual(
      [...aia].map((d) => [d.accessMethod, d.accessLocation.uniformResourceIdentifier]),
      [
        ['1.3.6.1.5.5.7.48.1', 'http://ca.example/ocsp'],
        ['1.3.6.1.5.5.7.48.2', 'http://ca.example/inter.der'],
      ],
    );
    const text = certTextOf(cert);
    assert.match(text, /OCSP - URI:http:\/\/ca\.example\/ocsp/);
    assert.match(text, /URI:http:\/\/ca\.example\/crl\/1/);
  });

  test('extra extensions are appended verbatim; standard ones may not be repeated', () => {
    const mustStaple = extension('1.3.6.1.5.5.7.1.24', false, Buffer.from('3003020105', 'hex'));
    const cert = decodeCertificate(ca.issuer.issue(request({ extraExtensions: [mustStaple] })));
    const last = cert.tbsCertificate.extensions!.at(-1)!;
    assert.equal(last.extnID, '1.3.6.1.5.5.7.1.24');
    assert.equal(Buffer.from(last.extnValue.buffer).toString('hex'), '3003020105');
    const dupSan = extension('2.5.29.17', false, Buffer.from('3000', 'hex'));
    assert.throws(() => ca.issuer.issue(request({ extraExtensions: [dupSan] })), /may not repeat/);
    assert.throws(
      () => ca.issuer.issue(request({ extraExtensions: [Buffer.from('0401ff', 'hex')] })),
      TypeError,
    );
  });

  test('dates: UTCTime before 2050, GeneralizedTime from 2050', () => {
    const der = ca.issuer.issue(
      request({ notBefore: new Date('2049-12-31T00:00:00Z'), notAfter: new Date('2050-06-01T00:00:00Z') }),
    );
    const tbs = readChildren(der, readTlv(der, readTlv(der).contentStart));
    const validity = readChildren(der, tbs[4]!);
    assert.deepEqual(
      validity.map((v) => [v.tag, der.subarray(v.contentStart, v.end).toString('latin1')]),
      [
        [TAG.UTC_TIME, '491231000000Z'],
        [TAG.GENERALIZED_TIME, '20500601000000Z'],
      ],
    );
    const x = new X509Certificate(der);
    assert.equal(x.validToDate.toISOString(), '2050-06-01T00:00:00.000Z');
  });

  test('refuses requests that cannot make a valid certificate', () => {
    assert.throws(() => ca.issuer.issue(request({ dnsNames: [], ipAddresses: [] })), /at least one/);
    assert.throws(() => ca.issuer.issue(request({ ipAddresses: ['192.0.2.300'] })), TypeError);
    assert.throws(() => ca.issuer.issue(request({ dnsNames: ['bücher.example'] })), /printable ASCII/);
    assert.throws(() => ca.issuer.issue(request({ notAfter: NOW })), RangeError);
    assert.throws(
      () => ca.issuer.issue(request({ spki: Buffer.from('3000', 'hex') })),
      /SubjectPublicKeyInfo/,
    );
    assert.throws(() => ca.issuer.issue(request({ crlUrl: 'http://bad url' })), /CRL URL/);
  });
});

describe('CA certificates', () => {
  test('createSelfSignedCa: self-signed, CA:true, keyCertSign+cRLSign, AKI = SKI', () => {
    const root = new X509Certificate(ca.rootDer);
    assert.ok(root.checkIssued(root));
    assert.ok(root.verify(createPublicKey(ca.rootKey)));
    assert.equal(root.ca, true);
    const cert = decodeCertificate(ca.rootDer);
    const bc = extensionValue(cert, asn1x509.id_ce_basicConstraints, asn1x509.BasicConstraints);
    assert.deepEqual([bc.cA, bc.pathLenConstraint], [true, undefined]);
    assert.equal(findExtension(cert, asn1x509.id_ce_basicConstraints)!.critical, true);
    assert.deepEqual(keyUsages(cert), ['crlSign', 'keyCertSign']);
    const ski = extensionValue(cert, asn1x509.id_ce_subjectKeyIdentifier, asn1x509.SubjectKeyIdentifier);
    const aki = extensionValue(cert, asn1x509.id_ce_authorityKeyIdentifier, asn1x509.AuthorityKeyIdentifier);
    assert.deepEqual(Buffer.from(aki.keyIdentifier!.buffer), Buffer.from(ski.buffer));
  });

  test('issueCa: pathLen, keyUsage and chain to the root', () => {
    const inter = new X509Certificate(ca.intermediateDer);
    assert.ok(inter.checkIssued(new X509Certificate(ca.rootDer)));
    assert.ok(inter.verify(createPublicKey(ca.rootKey)));
    const cert = decodeCertificate(ca.intermediateDer);
    const bc = extensionValue(cert, asn1x509.id_ce_basicConstraints, asn1x509.BasicConstraints);
    assert.deepEqual([bc.cA, bc.pathLenConstraint], [true, 0]);
    assert.deepEqual(keyUsages(cert), ['crlSign', 'digitalSignature', 'keyCertSign']);
    assert.match(certTextOf(cert), /CA:TRUE, pathlen:0/);
  });

  test('keyIdentifier agrees with the SKI openssl computes for the same key', () => {
    const dir = tempDir();
    const keyFile = join(dir, 'k.pem');
    opensslOk(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-384', '-out', keyFile]);
    const spki = opensslOk(['pkey', '-in', keyFile, '-pubout', '-outform', 'DER']);
    const text = opensslOk([
      'req',
      '-x509',
      '-key',
      keyFile,
      '-subj',
      '/CN=x',
      '-days',
      '1',
      '-noenc',
    ]).toString();
    const der = opensslOk(['x509', '-outform', 'DER'], text);
    const ski = extensionValue(
      decodeCertificate(der),
      asn1x509.id_ce_subjectKeyIdentifier,
      asn1x509.SubjectKeyIdentifier,
    );
    assert.equal(keyIdentifier(spki).toString('hex'), Buffer.from(ski.buffer).toString('hex'));
  });

  test('the issuer refuses a key that does not match its certificate, and public keys', () => {
    assert.throws(
      () => new CertificateIssuer({ issuerKey: ca.rootKey, issuerCertDer: ca.intermediateDer }),
      /does not match/,
    );
    assert.throws(
      () =>
        new CertificateIssuer({
          issuerKey: createPublicKey(ca.intermediateKey),
          issuerCertDer: ca.intermediateDer,
        }),
      /private key/,
    );
    assert.throws(
      () =>
        new CertificateIssuer({ issuerKey: ca.intermediateKey, issuerCertDer: Buffer.from('3000', 'hex') }),
      /cannot parse the issuer certificate/,
    );
  });

  test('an issuer certificate without SKI falls back to the key hash for the AKI', () => {
    const dir = tempDir();
    const keyFile = join(dir, 'k.pem');
    const { privateKey } = generateKeyPair('ec:P-256');
    opensslOk(['pkey', '-out', keyFile], privateKey.export({ type: 'pkcs8', format: 'pem' }) as string);
    const pem = opensslOk([
      'req',
      '-x509',
      '-key',
      keyFile,
      '-subj',
      '/CN=No SKI CA',
      '-days',
      '30',
      '-addext',
      'subjectKeyIdentifier=none',
      '-addext',
      'authorityKeyIdentifier=none',
      '-addext',
      'basicConstraints=critical,CA:true',
    ]);
    const der = opensslOk(['x509', '-outform', 'DER'], pem);
    assert.equal(findExtension(decodeCertificate(der), asn1x509.id_ce_subjectKeyIdentifier), undefined);
    const issuer = new CertificateIssuer({ issuerKey: privateKey, issuerCertDer: der });
    const spki = createPublicKey(privateKey).export({ type: 'spki', format: 'der' });
    assert.deepEqual(issuer.authorityKeyId, keyIdentifier(spki));
    readWhole(issuer.issue(request()), TAG.SEQUENCE);
  });
});

/** KeyUsage names as asn1-x509 spells them, sorted. */
function keyUsages(cert: asn1x509.Certificate): string[] {
  return extensionValue(cert, asn1x509.id_ce_keyUsage, asn1x509.KeyUsage).toJSON().sort();
}

function certTextOf(cert: asn1x509.Certificate): string {
  return opensslOk(
    ['x509', '-inform', 'DER', '-noout', '-text'],
    Buffer.from(AsnConvert.serialize(cert)),
  ).toString();
}
