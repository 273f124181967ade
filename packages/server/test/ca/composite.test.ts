import assert from 'node:assert/strict';
import { createHash, createPublicKey, generateKeyPairSync, verify, X509Certificate } from 'node:crypto';
import { describe, it } from 'node:test';
import { createCsr, generateKey } from '@akamu/client';
import { contentOf, oid, readChildren, readWhole, sequence, TAG, type Tlv } from '@akamu/protocol';
import { CertificateIssuer, createSelfSignedCa, newSerial } from '../../src/ca/certificate-issuer.ts';
import {
  COMPOSITE_KEY_TYPES,
  COMPOSITE_PREFIX,
  CompositeSigner,
  certificateSpki,
  compositePublicKey,
  compositeSign,
  compositeSpki,
  compositeVerify,
  exportCompositePrivateKey,
  generateCompositeKey,
  importCompositePrivateKey,
  messageRepresentative,
  verifyCompositeSigned,
} from '../../src/ca/composite.ts';
import { CrlSigner } from '../../src/ca/crl.ts';
import { parseCsr } from '../../src/ca/csr.ts';
import { buildOcspResponse, ocspSigner, singleResponse } from '../../src/ca/ocsp.ts';

const DAY = 86_400_000;

describe('EXPERIMENTAL composite ML-DSA (draft-ietf-lamps-pq-composite-sigs)', () => {
  it('the message representative is Prefix || Label || len(ctx) || ctx || PH(M) (§3.2)', () => {
    const m = Buffer.from('The quick brown fox jumps over the lazy dog.');
    const mPrime = messageRepresentative('composite:ml-dsa-65+ecdsa-p256', m, Buffer.from('app'));
    const label = Buffer.from('COMPSIG-MLDSA65-ECDSA-P256-SHA512');
    assert.equal(
      COMPOSITE_PREFIX.toString('hex'),
      '436f6d706f73697465416c676f726974686d5369676e61747572657332303235',
    );
    assert.deepEqual(
      mPrime,
      Buffer.concat([
        COMPOSITE_PREFIX,
        label,
        Buffer.from([3]),
        Buffer.from('app'),
        createHash('sha512').update(m).digest(),
      ]),
    );
    // ML-DSA-44 + P-256 pre-hashes with SHA-256.
    const small = messageRepresentative('composite:ml-dsa-44+ecdsa-p256', m);
    assert.equal(small.length, 32 + 'COMPSIG-MLDSA44-ECDSA-P256-SHA256'.length + 1 + 32);
    assert.throws(
      () => messageRepresentative('composite:ml-dsa-65+ecdsa-p256', m, Buffer.alloc(256)),
      RangeError,
    );
  });

  for (const type of COMPOSITE_KEY_TYPES) {
    it(`${type}: sign/verify round trip, both components required, PKCS#8 round trip`, () => {
      const key = generateCompositeKey(type);
      const spki = compositeSpki(key);
      const m = Buffer.from('tbs bytes');
      const s = compositeSign(key, m);
      assert.ok(compositeVerify(spki, m, s));
      assert.ok(!compositeVerify(spki, Buffer.from('tbs bytez'), s), 'another message');
      // A context binds the signature (§3.2).
      const withCtx = compositeSign(key, m, Buffer.from('ctx'));
      assert.ok(compositeVerify(spki, m, withCtx, Buffer.from('ctx')));
      assert.ok(!compositeVerify(spki, m, withCtx));

      const mlDsaLength = { 'ml-dsa-44': 2420, 'ml-dsa-65': 3309, 'ml-dsa-87': 4627 }[
        key.mlDsa.asymmetricKeyType as 'ml-dsa-44'
      ];
      const mlDsaSig = s.subarray(0, mlDsaLength);
      const tradSig = s.subarray(mlDsaLength);
      const mPrime = messageRepresentative(type, m);
      // Each component verifies on its own over M' (ML-DSA with ctx = Label)...
      assert.ok(
        verify(
          null,
          mPrime,
          { key: createPublicKey(key.mlDsa), context: Buffer.from(labelOf(type)) } as never,
          mlDsaSig,
        ),
      );
      // ...but not as a stand-alone ML-DSA signature over M (non-separability, §10.2.3).
      assert.ok(!verify(null, m, createPublicKey(key.mlDsa), mlDsaSig));
      // A composite with either component replaced does not verify.
      const other = compositeSign(generateCompositeKey(type), m);
      assert.ok(
        !compositeVerify(spki, m, Buffer.concat([mlDsaSig, other.subarray(mlDsaLength)])),
        'foreign trad',
      );
      assert.ok(
        !compositeVerify(spki, m, Buffer.concat([other.subarray(0, mlDsaLength), tradSig])),
        'foreign ML-DSA',
      );
      assert.ok(!compositeVerify(spki, m, mlDsaSig), 'ML-DSA alone');
      assert.ok(!compositeVerify(spki, m, Buffer.alloc(0)));

      // §5.1 public key = mldsaPK || tradPK; ECDSA uncompressed (0x04), Ed25519 32 bytes.
      const pk = compositePublicKey(key);
      const pkLength = { 'ml-dsa-44': 1312, 'ml-dsa-65': 1952, 'ml-dsa-87': 2592 }[
        key.mlDsa.asymmetricKeyType as 'ml-dsa-44'
      ];
      const tradPk = pk.subarray(pkLength);
      if (type.endsWith('ed25519')) assert.equal(tradPk.length, 32);
      else assert.equal(tradPk[0], 0x04);

      // §5.2 / §6.3 private key: seed || tradSK in PKCS#8; importing it gives a key that signs the same way.
      const der = exportCompositePrivateKey(key);
      const back = importCompositePrivateKey(der);
      assert.equal(back.type, type);
      assert.ok(back.seed.equals(key.seed));
      assert.ok(compositeSpki(back).equals(spki));
      assert.ok(compositeVerify(spki, m, compositeSign(back, m)));
      const inner = contentOf(der, readChildren(der, readWhole(der, TAG.SEQUENCE))[2]!);
      assert.ok(inner.subarray(0, 32).equals(key.seed), 'the ML-DSA part is the 32-byte seed');
      assert.throws(() => importCompositePrivateKey(Buffer.from([0x30, 0x00])), TypeError);
    });
  }

  it('a composite CA: root, intermediate, ML-DSA and ECDSA leaves, a CRL and an OCSP response, all verified', () => {
    const type = 'composite:ml-dsa-65+ecdsa-p256';
    const rootSigner = new CompositeSigner(generateCompositeKey(type));
    const interSigner = new CompositeSigner(generateCompositeKey(type));
    const now = Date.now();
    const rootDer = createSelfSignedCa({
      privateKey: rootSigner,
      commonName: 'EXPERIMENTAL composite Root CA',
      serial: newSerial(),
      notBefore: new Date(now - 60_000),
      notAfter: new Date(now + 365 * DAY),
    });
    assert.ok(certificateSpki(rootDer).equals(rootSigner.spki));
    assert.ok(verifyCompositeSigned(rootDer, rootSigner.spki), 'root self-signature');
    assert.deepEqual(outerAlgorithm(rootDer), sequence(oid('1.3.6.1.5.5.7.6.45')), 'absent parameters');

    const interDer = new CertificateIssuer({ issuerKey: rootSigner, issuerCertDer: rootDer }).issueCa({
      serial: newSerial(),
      spki: interSigner.spki,
      commonName: 'EXPERIMENTAL composite Intermediate CA',
      notBefore: new Date(now - 60_000),
      notAfter: new Date(now + 180 * DAY),
      pathLen: 0,
    });
    assert.ok(verifyCompositeSigned(interDer, rootSigner.spki), 'intermediate <- root');
    assert.ok(!verifyCompositeSigned(interDer, interSigner.spki), 'not by its own key');
    // node:crypto parses the certificate but cannot use the composite key.
    assert.equal(new X509Certificate(interDer).subject, 'CN=EXPERIMENTAL composite Intermediate CA');

    const issuer = new CertificateIssuer({ issuerKey: interSigner, issuerCertDer: interDer });
    assert.throws(
      () => new CertificateIssuer({ issuerKey: rootSigner, issuerCertDer: interDer }),
      /does not match/,
    );
    const mlKey = generateKey('ml-dsa-65');
    const csr = parseCsr(createCsr({ key: mlKey, dnsNames: ['composite.example'] }));
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    for (const spki of [csr.spki, ec.publicKey.export({ type: 'spki', format: 'der' })]) {
      const leaf = issuer.issue({
        serial: newSerial(),
        spki,
        dnsNames: ['composite.example'],
        ipAddresses: [],
        notBefore: new Date(now - 60_000),
        notAfter: new Date(now + 7 * DAY),
      });
      assert.ok(verifyCompositeSigned(leaf, interSigner.spki), 'leaf <- intermediate');
      assert.ok(!verifyCompositeSigned(leaf, rootSigner.spki));
      // The leaf key itself is an ordinary key node:crypto uses.
      assert.ok(
        new X509Certificate(leaf).publicKey.equals(
          createPublicKey({ key: spki, format: 'der', type: 'spki' }),
        ),
      );
      const tampered = Buffer.from(leaf);
      tampered[tampered.indexOf(Buffer.from('composite.example'))] ^= 1;
      assert.ok(!verifyCompositeSigned(tampered, interSigner.spki), 'tampered leaf');
    }

    const crl = new CrlSigner({
      issuerName: issuer.issuerName,
      authorityKeyId: issuer.authorityKeyId,
      key: interSigner,
    }).build({
      crlNumber: 1,
      thisUpdate: new Date(now),
      nextUpdate: new Date(now + DAY),
      entries: [{ serial: '0a0b', revokedAt: now, reason: 1 }],
    });
    assert.ok(verifyCompositeSigned(crl, interSigner.spki), 'CRL');

    const certId = sequence(sequence(oid('1.3.14.3.2.26')), Buffer.from([0x04, 0]), Buffer.from([0x04, 0]));
    const response = buildOcspResponse(ocspSigner(interSigner), new Date(now), [
      singleResponse(certId, { status: 'good' }, new Date(now), new Date(now + DAY)),
    ]);
    const top = readChildren(response, readWhole(response, TAG.SEQUENCE));
    const responseBytes = readChildren(response, readChildren(response, top[1]!)[0]!);
    const basic = contentOf(response, responseBytes[1]!);
    assert.ok(verifyCompositeSigned(basic, interSigner.spki), 'OCSP BasicOCSPResponse');
  });
});

function labelOf(type: string): string {
  const [mlDsa, trad] = type.slice('composite:'.length).split('+') as [string, string];
  const n = mlDsa.slice('ml-dsa-'.length);
  if (trad === 'ed25519') return `COMPSIG-MLDSA${n}-Ed25519-SHA512`;
  const curve = trad.slice('ecdsa-'.length).toUpperCase();
  return `COMPSIG-MLDSA${n}-ECDSA-${curve}-${n === '44' ? 'SHA256' : 'SHA512'}`;
}

function outerAlgorithm(der: Buffer): Buffer {
  const [, alg] = readChildren(der, readWhole(der, TAG.SEQUENCE)) as [Tlv, Tlv];
  return der.subarray(alg.start, alg.end);
}
