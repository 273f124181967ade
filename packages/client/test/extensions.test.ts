/** Offline checks of the RFC 9799 onion helpers, the RFC 9773 CertID and the RFC 8739 STAR payload. */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash, createPublicKey, generateKeyPairSync, verify } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { CertificationRequest } from '@peculiar/asn1-csr';
import { AsnConvert, OctetString } from '@peculiar/asn1-schema';
import { Extensions, SubjectAlternativeName } from '@peculiar/asn1-x509';
import { requireTool } from '../../../test/helpers/akamu-process.ts';
import { autoRenewalPayload } from '../src/client.ts';
import {
  certId,
  createOnionCsr,
  generateKey,
  OID_APPLICANT_SIGNING_NONCE,
  OID_CA_SIGNING_NONCE,
  onionAddressFromKey,
} from '../src/index.ts';

const run = promisify(execFile);

function base32Decode(text: string): Buffer {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz234567';
  let bits = '';
  for (const c of text) bits += alphabet.indexOf(c).toString(2).padStart(5, '0');
  const out: number[] = [];
  for (let i = 0; i + 8 <= bits.length; i += 8) out.push(Number.parseInt(bits.slice(i, i + 8), 2));
  return Buffer.from(out);
}

test('onionAddressFromKey: 56 base32 characters of pubkey || SHA3-256 checksum[:2] || 0x03, then .onion', () => {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const address = onionAddressFromKey(publicKey);
  assert.match(address, /^[a-z2-7]{56}\.onion$/);
  assert.equal(onionAddressFromKey(privateKey), address);
  const raw = base32Decode(address.slice(0, 56));
  const pub = Buffer.from(String(publicKey.export({ format: 'jwk' }).x), 'base64url');
  assert.deepEqual(raw.subarray(0, 32), pub);
  assert.equal(raw[34], 3);
  const checksum = createHash('sha3-256')
    .update(Buffer.concat([Buffer.from('.onion checksum'), pub, Buffer.from([3])]))
    .digest();
  assert.deepEqual(raw.subarray(32, 34), checksum.subarray(0, 2));
  assert.equal(onionAddressFromKey(pub), address);
  assert.throws(() => onionAddressFromKey(generateKey('ec:P-256')), TypeError);
});

test('createOnionCsr (RFC 9799 §3.2): signed by the service key, SAN and both CA/B Forum nonces', async () => {
  const { privateKey } = generateKeyPairSync('ed25519');
  const onionName = onionAddressFromKey(privateKey);
  const caNonce = Buffer.from('0123456789abcdef', 'hex');
  const applicantNonce = Buffer.from('fedcba9876543210aa', 'hex');
  const der = createOnionCsr({
    key: privateKey,
    onionName: `www.${onionName}`,
    caNonce: caNonce.toString('base64'),
    applicantNonce,
  });
  const csr = AsnConvert.parse(der, CertificationRequest);
  const info = csr.certificationRequestInfo;
  assert.equal(csr.signatureAlgorithm.algorithm, '1.3.101.112');
  assert.ok(
    verify(
      null,
      Buffer.from(AsnConvert.serialize(info)),
      createPublicKey(privateKey),
      Buffer.from(csr.signature),
    ),
  );
  assert.deepEqual(
    Buffer.from(AsnConvert.serialize(info.subjectPKInfo)),
    createPublicKey(privateKey).export({ type: 'spki', format: 'der' }),
  );
  const attribute = (oid: string) => {
    const found = info.attributes.filter((a) => a.type === oid);
    assert.equal(found.length, 1, oid);
    assert.equal(found[0]!.values.length, 1, `${oid} is single-valued`);
    return found[0]!.values[0]!;
  };
  assert.deepEqual(
    Buffer.from(AsnConvert.parse(attribute(OID_CA_SIGNING_NONCE), OctetString).buffer),
    caNonce,
  );
  assert.deepEqual(
    Buffer.from(AsnConvert.parse(attribute(OID_APPLICANT_SIGNING_NONCE), OctetString).buffer),
    applicantNonce,
  );
  const extensions = AsnConvert.parse(attribute('1.2.840.113549.1.9.14'), Extensions);
  const san = AsnConvert.parse(
    extensions.find((e) => e.extnID === '2.5.29.17')!.extnValue,
    SubjectAlternativeName,
  );
  assert.deepEqual(
    Array.from(san, (n) => n.dNSName),
    [`www.${onionName}`],
  );

  // A fresh applicant nonce each time by default; Buffer nonces work too.
  const a = AsnConvert.parse(createOnionCsr({ key: privateKey, onionName, caNonce }), CertificationRequest);
  const b = AsnConvert.parse(createOnionCsr({ key: privateKey, onionName, caNonce }), CertificationRequest);
  const applicant = (c: CertificationRequest) =>
    Buffer.from(
      c.certificationRequestInfo.attributes.find((x) => x.type === OID_APPLICANT_SIGNING_NONCE)!.values[0]!,
    );
  assert.notDeepEqual(applicant(a), applicant(b));

  assert.throws(
    () =>
      createOnionCsr({
        key: privateKey,
        onionName: onionAddressFromKey(generateKeyPairSync('ed25519').publicKey),
        caNonce,
      }),
    /not the onion name of this key/,
  );
  assert.throws(() => createOnionCsr({ key: privateKey, onionName, caNonce: 'AAAA' }), /64 bits/);
  assert.throws(() => createOnionCsr({ key: generateKey('ec:P-256'), onionName, caNonce }), TypeError);

  if (requireTool('openssl')) {
    const dir = await mkdtemp(join(tmpdir(), 'akamu-onion-'));
    try {
      await writeFile(join(dir, 'csr.der'), der);
      const { stdout, stderr } = await run('openssl', [
        'req',
        '-inform',
        'DER',
        '-in',
        join(dir, 'csr.der'),
        '-verify',
        '-noout',
        '-text',
      ]);
      assert.match(stdout + stderr, /verify OK|Certificate request self-signature verify OK/);
      assert.match(stdout, /ED25519/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
});

test('certId (RFC 9773 §4.1) of the RFC example: AKI 69:88:5B:… and serial 0x87654321 → aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE', async (t) => {
  if (!requireTool('openssl')) return t.skip('openssl is not installed');
  const dir = await mkdtemp(join(tmpdir(), 'akamu-ari-'));
  try {
    const keyId = '69:88:5B:6B:87:46:40:41:E1:B3:7B:84:7B:A0:AE:2C:DE:01:C8:D4';
    // biome-ignore format: flags read as pairs
    await run('openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
      '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-days', '1', '-subj', '/CN=ari',
      '-set_serial', '0x87654321', '-addext', `subjectKeyIdentifier=${keyId}`,
      '-addext', 'authorityKeyIdentifier=keyid:always',
    ]);
    const pem = await readFile(join(dir, 'cert.pem'), 'utf8');
    assert.equal(certId(pem), 'aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE');
    const der = Buffer.from(pem.replace(/-----[^-]+-----|\s/g, ''), 'base64');
    assert.equal(certId(der), 'aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE');
    assert.equal(certId(Buffer.from(pem)), 'aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE');
    // A serial without the high bit set has no leading zero.
    await run('openssl', [
      'req',
      '-x509',
      '-key',
      join(dir, 'key.pem'),
      '-out',
      join(dir, 'small.pem'),
      '-days',
      '1',
      '-subj',
      '/CN=ari',
      '-set_serial',
      '0x1234',
      '-addext',
      `subjectKeyIdentifier=${keyId}`,
      '-addext',
      'authorityKeyIdentifier=keyid:always',
    ]);
    assert.equal(certId(await readFile(join(dir, 'small.pem'), 'utf8')), 'aYhba4dGQEHhs3uEe6CuLN4ByNQ.EjQ');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  assert.throws(() => certId('no certificate here'), TypeError);
  assert.throws(() => certId(Buffer.from([0x30, 0x03, 0x02, 0x01, 0x01])), TypeError);
});

test('STAR auto-renewal payload uses the RFC 8739 §3.1.1 member names and encodings', () => {
  assert.deepEqual(
    autoRenewalPayload({
      startDate: new Date('2026-12-01T00:00:00.000Z'),
      endDate: '2026-12-31T00:00:00Z',
      lifetime: 86_400,
      lifetimeAdjust: 3_600,
      allowCertificateGet: true,
    }),
    {
      'start-date': '2026-12-01T00:00:00Z',
      'end-date': '2026-12-31T00:00:00Z',
      lifetime: 86_400,
      'lifetime-adjust': 3_600,
      'allow-certificate-get': true,
    },
  );
  assert.deepEqual(autoRenewalPayload({ endDate: new Date('2027-01-01T00:00:00Z'), lifetime: 345_600 }), {
    'end-date': '2027-01-01T00:00:00Z',
    lifetime: 345_600,
  });
  assert.throws(() => autoRenewalPayload({ endDate: 'soon', lifetime: 1 }), TypeError);
  assert.throws(() => autoRenewalPayload({ endDate: '2027-01-01T00:00:00Z', lifetime: 0 }), TypeError);
  assert.throws(
    () => autoRenewalPayload({ endDate: '2027-01-01T00:00:00Z', lifetime: 1, lifetimeAdjust: -1 }),
    TypeError,
  );
});
