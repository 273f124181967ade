import assert from 'node:assert/strict';
import {
  createHash,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
  verify,
  X509Certificate,
} from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import {
  contentOf,
  explicit,
  integer,
  NULL,
  octetString,
  oid,
  readChildren,
  readWhole,
  sequence,
  TAG,
} from '@akamu/protocol';
import { AsnConvert } from '@peculiar/asn1-schema';
import * as x509 from '@peculiar/asn1-x509';
import { CertificateIssuer, createSelfSignedCa, newSerial } from '../../src/ca/certificate-issuer.ts';
import { CrlSigner, encodeCrlEntries, encodeCrlEntry } from '../../src/ca/crl.ts';
import {
  buildOcspResponse,
  createResponderCertificate,
  IssuerHashes,
  OcspRequestError,
  ocspErrorResponse,
  ocspSigner,
  parseOcspRequest,
  singleResponse,
} from '../../src/ca/ocsp.ts';
import { crlShardOf } from '../../src/core/crl-shard.ts';
import { openssl, opensslOk, tempDir, writeCertPem } from './support.ts';

/** A root and an issuing intermediate, as the CA bootstrap makes them. */
function makeCa(type: 'ec' | 'ed25519' | 'rsa' = 'ec') {
  const gen = (): KeyObject =>
    type === 'ec'
      ? generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey
      : type === 'rsa'
        ? generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey
        : generateKeyPairSync('ed25519').privateKey;
  const rootKey = gen();
  const now = Date.now();
  const rootDer = createSelfSignedCa({
    privateKey: rootKey,
    commonName: 'Test Root',
    serial: newSerial(),
    notBefore: new Date(now - 3_600_000),
    notAfter: new Date(now + 365 * 86_400_000),
  });
  const issuerKey = gen();
  const issuerCertDer = new CertificateIssuer({ issuerKey: rootKey, issuerCertDer: rootDer }).issueCa({
    serial: newSerial(),
    spki: createPublicKey(issuerKey).export({ type: 'spki', format: 'der' }),
    commonName: 'Test Intermediate',
    notBefore: new Date(now - 3_600_000),
    notAfter: new Date(now + 300 * 86_400_000),
    pathLen: 0,
  });
  const issuer = new CertificateIssuer({ issuerKey, issuerCertDer });
  return { rootDer, issuerKey, issuerCertDer, issuer };
}

const OID = {
  crlNumber: '2.5.29.20',
  reason: '2.5.29.21',
  idp: '2.5.29.28',
  aki: '2.5.29.35',
};

describe('CRL builder (RFC 5280 §5)', () => {
  const ca = makeCa();
  const signer = new CrlSigner({
    issuerName: ca.issuer.issuerName,
    authorityKeyId: ca.issuer.authorityKeyId,
    key: ca.issuerKey,
  });
  const thisUpdate = new Date('2026-11-23T10:00:00Z');
  const nextUpdate = new Date('2026-11-24T10:00:00Z');

  it('builds a v2 CRL with AKI, CRL number, entries with reason codes (none for unspecified), signed by the issuer', () => {
    const der = signer.build({
      crlNumber: 42,
      thisUpdate,
      nextUpdate,
      entries: [
        { serial: '01ab', revokedAt: Date.parse('2026-11-20T01:02:03Z'), reason: 1 },
        { serial: 'ff00', revokedAt: Date.parse('2026-11-21T00:00:00Z'), reason: 0 },
        { serial: '7f', revokedAt: Date.parse('2026-11-22T00:00:00Z'), reason: 5 },
      ],
    });
    const crl = AsnConvert.parse(der, x509.CertificateList);
    const tbs = crl.tbsCertList;
    assert.equal(tbs.version, x509.Version.v2);
    assert.deepEqual(Buffer.from(AsnConvert.serialize(tbs.issuer)), ca.issuer.issuerName);
    assert.equal(tbs.thisUpdate.getTime().toISOString(), thisUpdate.toISOString());
    assert.equal(tbs.nextUpdate!.getTime().toISOString(), nextUpdate.toISOString());
    const revoked = tbs.revokedCertificates!;
    assert.equal(revoked.length, 3);
    assert.equal(Buffer.from(revoked[0]!.userCertificate).toString('hex'), '01ab');
    assert.equal(revoked[0]!.revocationDate.getTime().toISOString(), '2026-11-20T01:02:03.000Z');
    const reasonOf = (i: number) => {
      const ext = revoked[i]!.crlEntryExtensions?.find((e) => e.extnID === OID.reason);
      return ext && AsnConvert.parse(ext.extnValue, x509.CRLReason).reason;
    };
    assert.equal(reasonOf(0), 1);
    assert.equal(revoked[1]!.crlEntryExtensions, undefined, 'unspecified has no reasonCode extension');
    // 0xff00 has its high bit set: a leading zero keeps the INTEGER positive.
    assert.equal(Buffer.from(revoked[1]!.userCertificate).toString('hex'), '00ff00');
    assert.equal(reasonOf(2), 5);
    const exts = new Map(tbs.crlExtensions!.map((e) => [e.extnID, e]));
    assert.equal(AsnConvert.parse(exts.get(OID.crlNumber)!.extnValue, x509.CRLNumber).value, 42);
    const aki = AsnConvert.parse(exts.get(OID.aki)!.extnValue, x509.AuthorityKeyIdentifier);
    assert.deepEqual(Buffer.from(aki.keyIdentifier!.buffer), ca.issuer.authorityKeyId);
    assert.equal(exts.has(OID.idp), false);
    // The signature verifies with the issuer's public key over the exact TBSCertList bytes.
    const top = readWhole(der, TAG.SEQUENCE, 'CertificateList');
    const [tbsTlv, , sig] = readChildren(der, top);
    const tbsBytes = der.subarray(tbsTlv!.start, tbsTlv!.end);
    const signature = der.subarray(sig!.contentStart + 1, sig!.end);
    assert.ok(verify('sha256', tbsBytes, createPublicKey(ca.issuerKey), signature));
  });

  it('omits revokedCertificates when empty, writes a critical IDP for a shard, and openssl accepts both', () => {
    const empty = signer.build({ crlNumber: 1, thisUpdate, nextUpdate, entries: [] });
    assert.equal(AsnConvert.parse(empty, x509.CertificateList).tbsCertList.revokedCertificates, undefined);
    const shard = signer.build({
      crlNumber: 2n ** 100n,
      thisUpdate,
      nextUpdate,
      entries: [{ serial: '0a', revokedAt: thisUpdate.getTime(), reason: 4 }],
      issuingDistributionPoint: 'http://crl.example/3',
    });
    const tbs = AsnConvert.parse(shard, x509.CertificateList).tbsCertList;
    const idp = tbs.crlExtensions!.find((e) => e.extnID === OID.idp)!;
    assert.equal(idp.critical, true);
    const parsed = AsnConvert.parse(idp.extnValue, x509.IssuingDistributionPoint);
    assert.equal(parsed.onlyContainsUserCerts, true);
    assert.equal(parsed.distributionPoint!.fullName![0]!.uniformResourceIdentifier, 'http://crl.example/3');
    const dir = tempDir();
    const issuerPem = writeCertPem(dir, 'issuer.pem', ca.issuerCertDer);
    for (const der of [empty, shard]) {
      const out = opensslOk(
        ['crl', '-inform', 'DER', '-noout', '-text', '-CAfile', issuerPem],
        der,
      ).toString();
      assert.match(out, /Version 2/);
    }
    const text = opensslOk(['crl', '-inform', 'DER', '-noout', '-text'], shard).toString();
    assert.match(text, /CRL Number: \n\s+1267650600228229401496703205376\n/); // 2^100
    assert.match(text, /Issuing Distribution Point: critical/);
    assert.match(text, /Superseded/);
  });

  it('signs with Ed25519 and RSA issuers too, verified by openssl', () => {
    for (const type of ['ed25519', 'rsa'] as const) {
      const other = makeCa(type);
      const der = new CrlSigner({
        issuerName: other.issuer.issuerName,
        authorityKeyId: other.issuer.authorityKeyId,
        key: other.issuerKey,
      }).build({
        crlNumber: 7,
        thisUpdate,
        nextUpdate,
        entries: [{ serial: 'abcdef', revokedAt: thisUpdate.getTime(), reason: 3 }],
      });
      const dir = tempDir();
      const issuerPem = writeCertPem(dir, 'issuer.pem', other.issuerCertDer);
      const r = openssl(['crl', '-inform', 'DER', '-noout', '-CAfile', issuerPem], der);
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stderr + r.stdout.toString(), /verify OK/i, type);
    }
  });

  it('encodes times in UTCTime through 2049 and GeneralizedTime from 2050, and serials minimally', () => {
    const at = Date.parse('2049-12-31T23:59:59Z');
    const e2049 = encodeCrlEntry({ serial: '0001', revokedAt: at, reason: 0 });
    assert.equal(e2049.toString('hex'), `3012020101170d${Buffer.from('491231235959Z').toString('hex')}`);
    const e2050 = encodeCrlEntry({ serial: '01', revokedAt: Date.parse('2050-01-01T00:00:00Z'), reason: 0 });
    assert.ok(e2050.includes(Buffer.from('20500101000000Z')), 'GeneralizedTime');
    assert.equal(e2050[5], TAG.GENERALIZED_TIME);
    // Many entries share one buffer; every view decodes to the same as one at a time.
    const many = Array.from({ length: 50 }, (_, i) => ({
      serial: (i * 7919 + 1).toString(16),
      revokedAt: at - i * 1000,
      reason: [0, 1, 3, 4, 5, 9, 10, 2, 6, 8][i % 10]!,
    }));
    const views = encodeCrlEntries(many);
    // Against the DER a library reads.
    for (const [i, v] of views.entries()) {
      assert.deepEqual(v, encodeCrlEntry(many[i]!));
      const rc = AsnConvert.parse(v, x509.RevokedCertificate);
      assert.equal(rc.revocationDate.getTime().getTime(), many[i]!.revokedAt);
    }
  });

  it('refuses bad input', () => {
    assert.throws(() => encodeCrlEntry({ serial: 'xyz1', revokedAt: 0, reason: 0 }), TypeError);
    assert.throws(() => encodeCrlEntry({ serial: '', revokedAt: 0, reason: 0 }), TypeError);
    assert.throws(() => encodeCrlEntry({ serial: 'a'.repeat(41), revokedAt: 0, reason: 0 }), TypeError);
    assert.throws(() => encodeCrlEntry({ serial: '01', revokedAt: 0, reason: 7 }), RangeError);
    assert.throws(() => encodeCrlEntry({ serial: '01', revokedAt: Number.NaN, reason: 0 }), RangeError);
    assert.throws(
      () => signer.build({ crlNumber: 1, thisUpdate: nextUpdate, nextUpdate: thisUpdate, entries: [] }),
      RangeError,
    );
    assert.throws(() => signer.build({ crlNumber: -1, thisUpdate, nextUpdate, entries: [] }), RangeError);
  });

  it('assigns every serial to one shard deterministically', () => {
    assert.equal(crlShardOf('0000000a', 4), 2);
    assert.equal(crlShardOf('7fffffff00000005', 4), 1);
    assert.equal(crlShardOf('abc', 1), 0);
    const counts = [0, 0, 0];
    for (let i = 0; i < 3000; i++)
      counts[crlShardOf(createHash('sha256').update(String(i)).digest('hex').slice(0, 32), 3)]!++;
    assert.ok(
      counts.every((c) => c > 850),
      `spread: ${counts}`,
    );
    assert.throws(() => crlShardOf('01', 0), RangeError);
    assert.throws(() => crlShardOf('zz', 2), TypeError);
  });
});

describe('OCSP codec (RFC 6960)', () => {
  const ca = makeCa();
  const spki = createPublicKey(ca.issuerKey).export({ type: 'spki', format: 'der' });
  const hashes = new IssuerHashes(ca.issuer.issuerName, spki);
  const sha1 = (b: Buffer) => createHash('sha1').update(b).digest();
  const keyBits = (() => {
    const t = readWhole(spki, TAG.SEQUENCE, 'spki');
    const bits = readChildren(spki, t)[1]!;
    return spki.subarray(bits.contentStart + 1, bits.end);
  })();
  const certId = (
    serial: Buffer | number,
    alg = '1.3.14.3.2.26',
    nameHash = sha1(ca.issuer.issuerName),
    keyHash = sha1(keyBits),
  ) => sequence(sequence(oid(alg), NULL), octetString(nameHash), octetString(keyHash), integer(serial));
  const request = (ids: Buffer[], extra: Buffer[] = []) =>
    sequence(sequence(sequence(...ids.map((id) => sequence(id))), ...extra));
  const nonceExt = (n: Buffer) => sequence(oid('1.3.6.1.5.5.7.48.1.2'), octetString(octetString(n)));

  it('parses CertIDs (SHA-1 and SHA-256), serials as stored hex, and the nonce', () => {
    const serial = Buffer.from('5a0102030405060708090a0b0c0d0e0f', 'hex');
    const sha256 = (b: Buffer) => createHash('sha256').update(b).digest();
    const req = request(
      [
        certId(serial),
        certId(
          Buffer.from([0x80, 1]),
          '2.16.840.1.101.3.4.2.1',
          sha256(ca.issuer.issuerName),
          sha256(keyBits),
        ),
      ],
      [explicit(2, sequence(nonceExt(Buffer.alloc(16, 9))))],
    );
    const parsed = parseOcspRequest(req);
    assert.equal(parsed.certIds.length, 2);
    assert.equal(parsed.certIds[0]!.serial, serial.toString('hex'));
    assert.equal(parsed.certIds[1]!.serial, '8001', 'the sign-padding zero is not part of the serial');
    assert.ok(hashes.matches(parsed.certIds[0]!));
    assert.ok(hashes.matches(parsed.certIds[1]!));
    assert.deepEqual(parsed.nonceExtension, nonceExt(Buffer.alloc(16, 9)));
    // Another issuer's CertID does not match.
    const other = parseOcspRequest(request([certId(1, '1.3.14.3.2.26', Buffer.alloc(20), sha1(keyBits))]));
    assert.equal(hashes.matches(other.certIds[0]!), false);
    const md5 = parseOcspRequest(request([certId(1, '1.2.840.113549.2.5')]));
    assert.equal(md5.certIds[0]!.hash, undefined);
    assert.equal(hashes.matches(md5.certIds[0]!), false);
  });

  it('refuses malformed requests with OcspRequestError', () => {
    const bad = [
      Buffer.from('garbage'),
      sequence(),
      sequence(sequence()),
      request([]),
      request(Array.from({ length: 33 }, () => certId(1))),
      request([sequence(oid('1.2.3'))]),
      request([certId(-5)]),
      Buffer.concat([request([certId(1)]), Buffer.from([0])]),
      request([certId(1)], [explicit(2, sequence(nonceExt(Buffer.alloc(33))))]),
      request([certId(1)], [explicit(2, sequence(nonceExt(Buffer.alloc(0))))]),
      sequence(sequence(explicit(0, integer(1)), sequence(sequence(certId(1))))),
    ];
    for (const [i, der] of bad.entries())
      assert.throws(() => parseOcspRequest(der), OcspRequestError, `case ${i}`);
  });

  it('builds responses openssl verifies: delegated responder (good, revoked, unknown) and CA-signed, with the nonce', () => {
    const now = Date.now();
    const responderKey = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    const responderDer = createResponderCertificate({
      issuerKey: ca.issuerKey,
      issuerName: ca.issuer.issuerName,
      authorityKeyId: ca.issuer.authorityKeyId,
      responderSpki: createPublicKey(responderKey).export({ type: 'spki', format: 'der' }),
      commonName: 'Test OCSP Responder',
      serial: newSerial(),
      notBefore: new Date(now - 60_000),
      notAfter: new Date(now + 86_400_000),
    });
    const responderCert = new X509Certificate(responderDer);
    assert.ok(responderCert.verify(createPublicKey(ca.issuerKey)));
    const certText = opensslOk(['x509', '-inform', 'DER', '-noout', '-text'], responderDer).toString();
    assert.match(certText, /OCSP Signing/);
    assert.match(certText, /OCSP No Check/);
    assert.match(certText, /CA:FALSE/);
    assert.match(certText, /Digital Signature/);

    const dir = tempDir();
    const rootPem = writeCertPem(dir, 'root.pem', ca.rootDer);
    const issuerPem = writeCertPem(dir, 'issuer.pem', ca.issuerCertDer);
    const ids = [certId(0x11), certId(0x22), certId(0x33)];
    const t = new Date(Math.floor(now / 1000) * 1000);
    const next = new Date(t.getTime() + 3_600_000);
    const singles = [
      singleResponse(ids[0]!, { status: 'good' }, t, next),
      singleResponse(ids[1]!, { status: 'revoked', revokedAt: now - 5000, reason: 1 }, t, next),
      singleResponse(ids[2]!, { status: 'unknown' }, t, next),
    ];
    for (const signer of [ocspSigner(responderKey, responderDer), ocspSigner(ca.issuerKey)]) {
      const nonce = nonceExt(Buffer.alloc(16, 0x5a));
      const resp = buildOcspResponse(signer, t, singles, nonce);
      const respFile = `${dir}/resp.der`;
      writeFileSync(respFile, resp);
      const r = openssl([
        'ocsp',
        '-respin',
        respFile,
        '-issuer',
        issuerPem,
        '-CAfile',
        rootPem,
        '-no_nonce',
        '-serial',
        '0x11',
        '-serial',
        '0x22',
        '-serial',
        '0x33',
        '-resp_text',
      ]);
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stderr, /Response verify OK/);
      const out = r.stdout.toString();
      assert.match(out, /0x11: good/);
      assert.match(out, /0x22: revoked/);
      assert.match(out, /Reason: keyCompromise/);
      assert.match(out, /0x33: unknown/);
      assert.match(out, /OCSP Nonce: \n\s+04105A5A5A5A/);
      assert.match(out, new RegExp(`Responder Id: ${signer.keyHash.toString('hex').toUpperCase()}`));
    }
  });

  it('encodes error statuses without responseBytes', () => {
    assert.equal(ocspErrorResponse(1).toString('hex'), '30030a0101');
    assert.equal(ocspErrorResponse(2).toString('hex'), '30030a0102');
    const top = readWhole(ocspErrorResponse(6), TAG.SEQUENCE, 'OCSPResponse');
    assert.equal(readChildren(ocspErrorResponse(6), top).length, 1);
    assert.deepEqual(
      contentOf(ocspErrorResponse(6), readChildren(ocspErrorResponse(6), top)[0]!),
      Buffer.from([6]),
    );
  });
});
