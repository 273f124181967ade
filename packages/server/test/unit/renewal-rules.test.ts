import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { describe, it } from 'node:test';
import { certIdOf, defaultRenewalWindow, parseCertId, pastRenewalWindow } from '../../src/core/ari.ts';
import { checkCsrMatchesTemplate, parseCsrTemplate } from '../../src/core/csr-template.ts';
import { hasSlot, parseAutoRenewal, slotAt, starIssueTime, starSlotValidity } from '../../src/core/star.ts';
import { typeOf } from './support.ts';

describe('ARI certificate identifiers (RFC 9773 §4.1)', () => {
  const keyId = Buffer.from('69882ea4ba94c2c4bf7ff8f5ea1fd25a9fa09bbc', 'hex');

  it('encodes the serial as DER INTEGER contents and parses it back', () => {
    // The RFC 9773 §4.1 example: serial 0x87654321 needs a leading zero octet.
    assert.equal(certIdOf(keyId, '87654321'), 'aYgupLqUwsS_f_j16h_SWp-gm7w.AIdlQyE');
    assert.deepEqual(parseCertId('aYgupLqUwsS_f_j16h_SWp-gm7w.AIdlQyE'), { keyId, serialHex: '87654321' });
    const serial = '0a1b2c3d4e5f60718293a4b5c6d7e8f9';
    assert.equal(parseCertId(certIdOf(keyId, serial)).serialHex, serial);
  });

  it('refuses malformed identifiers', () => {
    for (const bad of ['', 'x', 'a.b.c', '.AQ', 'AQ.', 'AQ.gA', 'AQ.AAE', 'AQ.AQ==', 'A+.AQ', 'AQ.A']) {
      assert.equal(
        typeOf(() => parseCertId(bad)),
        'malformed',
        bad,
      );
    }
    assert.equal(
      typeOf(() => parseCertId(42)),
      'malformed',
    );
    assert.equal(
      typeOf(() => parseCertId(`AQ.${Buffer.alloc(22, 1).toString('base64url')}`)),
      'malformed',
    );
  });

  it('places the default window inside the validity and a flagged one in the past', () => {
    assert.deepEqual(defaultRenewalWindow(0, 90), { start: 60, end: 75 });
    const w = pastRenewalWindow(1_000_000);
    assert.ok(w.start < w.end && w.end < 1_000_000);
  });
});

describe('STAR auto-renewal (RFC 8739 §3.1.1)', () => {
  const policy = {
    minLifetime: 3_600_000,
    maxDuration: 30 * 86_400_000,
    allowCertificateGet: false,
    maxCertificateValidity: 90 * 86_400_000,
  };
  const now = Date.parse('2026-01-01T00:00:00Z');
  const iso = (ms: number) => new Date(ms).toISOString();

  it('accepts a request within the limits', () => {
    assert.deepEqual(parseAutoRenewal({ 'end-date': iso(now + 86_400_000), lifetime: 7200 }, policy, now), {
      startDate: null,
      endDate: now + 86_400_000,
      lifetime: 7_200_000,
      lifetimeAdjust: 0,
      allowCertificateGet: false,
    });
  });

  it('refuses requests outside the limits', () => {
    const cases: unknown[] = [
      null,
      [],
      { lifetime: 7200 },
      { 'end-date': iso(now + 86_400_000) },
      { 'end-date': iso(now + 86_400_000), lifetime: 60 },
      { 'end-date': iso(now + 86_400_000), lifetime: 7200.5 },
      { 'end-date': iso(now + 86_400_000), lifetime: '7200' },
      { 'end-date': iso(now + 86_400_000), lifetime: 7200, 'lifetime-adjust': -1 },
      { 'end-date': iso(now + 86_400_000), lifetime: 7200, 'allow-certificate-get': true },
      { 'end-date': iso(now + 86_400_000), lifetime: 7200, 'allow-certificate-get': 'yes' },
      { 'end-date': iso(now + 40 * 86_400_000), lifetime: 7200 },
      { 'end-date': iso(now - 1), lifetime: 7200 },
      { 'end-date': iso(now + 86_400_000), 'start-date': iso(now + 2 * 86_400_000), lifetime: 7200 },
      { 'end-date': 'tomorrow', lifetime: 7200 },
      { 'end-date': iso(now + 86_400_000), lifetime: 91 * 86_400 },
    ];
    for (const c of cases)
      assert.equal(
        typeOf(() => parseAutoRenewal(c, policy, now)),
        'malformed',
        JSON.stringify(c),
      );
  });

  it('schedules each slot: adjusted start, capped end, issued half a lifetime early', () => {
    const s = { startDate: 1_000, endDate: 1_250, lifetime: 100, lifetimeAdjust: 10 };
    assert.deepEqual(starSlotValidity(s, 0), { notBefore: 990, notAfter: 1_100 });
    assert.deepEqual(starSlotValidity(s, 2), { notBefore: 1_190, notAfter: 1_250 });
    assert.equal(hasSlot(s, 2), true);
    assert.equal(hasSlot(s, 3), false);
    assert.equal(slotAt(s, 500), 0);
    assert.equal(slotAt(s, 1_199), 1);
    assert.equal(starIssueTime(s, 1), 1_050);
  });
});

describe('delegation CSR templates (RFC 9115 §4)', () => {
  const template = parseCsrTemplate({
    keyTypes: [
      { PublicKeyType: 'id-ecPublicKey', namedCurve: 'secp384r1' },
      { PublicKeyType: 'rsaEncryption', PublicKeyLength: 2048 },
    ],
    subject: { commonName: 'www.example.com' },
    extensions: { subjectAltName: { DNS: ['www.example.com', 'Example.com'] } },
  });
  const p384 = generateKeyPairSync('ec', { namedCurve: 'P-384' }).publicKey;
  const p256 = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey;

  it('accepts a CSR that fits and refuses one that does not', () => {
    const ok = {
      publicKey: p384,
      commonName: 'www.example.com',
      dnsNames: ['www.example.com', 'example.com'],
    };
    assert.equal(
      typeOf(() => checkCsrMatchesTemplate(ok, template)),
      'ok',
    );
    assert.equal(
      typeOf(() => checkCsrMatchesTemplate({ ...ok, publicKey: p256 }, template)),
      'badCSR',
    );
    assert.equal(
      typeOf(() => checkCsrMatchesTemplate({ ...ok, commonName: 'other.example.com' }, template)),
      'badCSR',
    );
    assert.equal(
      typeOf(() => checkCsrMatchesTemplate({ ...ok, dnsNames: ['evil.example.com'] }, template)),
      'badCSR',
    );
  });

  it('refuses templates it cannot enforce', () => {
    const san = { subjectAltName: { DNS: ['a.example'] } };
    for (const bad of [
      null,
      { keyTypes: [] },
      { keyTypes: [{ PublicKeyType: 'id-ecPublicKey', namedCurve: 'brainpool' }], extensions: san },
      { keyTypes: [{ PublicKeyType: 'rsaEncryption', PublicKeyLength: 1024 }], extensions: san },
      { keyTypes: [{ PublicKeyType: 'id-Ed25519' }] },
      {
        keyTypes: [{ PublicKeyType: 'id-Ed25519' }],
        extensions: { ...san, extendedKeyUsage: ['clientAuth'] },
      },
    ]) {
      assert.equal(
        typeOf(() => parseCsrTemplate(bad)),
        'malformed',
        JSON.stringify(bad),
      );
    }
  });
});
