import assert from 'node:assert/strict';
import { createHash, generateKeyPairSync } from 'node:crypto';
import { describe, it } from 'node:test';
import { explicit, ia5String, sequence } from '@akamu/protocol';
import { normalizeIdentifier } from '../../src/core/identifiers.ts';
import { onionAddress } from '../../src/core/onion.ts';
import { decodeTnAuthList } from '../../src/core/tnauthlist.ts';
import { AcmeError } from '../../src/errors.ts';
import { accountFingerprint, parseFingerprint } from '../../src/va/tkauth-01.ts';
import { checkChallengeCertificate } from '../../src/va/tls-alpn-01.ts';

describe('special identifiers and challenge rules', () => {
  it('accepts v3 .onion names (and names below them), refuses v2 and corrupted ones (RFC 9799 §2)', () => {
    const raw = generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'der' }).subarray(12);
    const address = onionAddress(raw);
    for (const value of [address, `www.${address}`, `*.${address}`]) {
      const r = normalizeIdentifier({ type: 'dns', value: value.toUpperCase() });
      assert.ok(!(r instanceof AcmeError), value);
      assert.equal(r.identifier.value, value);
    }
    for (const value of [
      'expyuzz4wqqyqhjn.onion',
      `${address[0] === 'a' ? 'b' : 'a'}${address.slice(1)}`,
      'short.onion',
    ]) {
      const r = normalizeIdentifier({ type: 'dns', value });
      assert.ok(r instanceof AcmeError, value);
      assert.equal(r.type, 'rejectedIdentifier');
    }
  });

  it('normalizes TNAuthList values to padded base64 of their DER (RFC 9448 §3)', () => {
    const der = sequence(explicit(0, ia5String('1234')));
    const r = normalizeIdentifier({ type: 'TNAuthList', value: der.toString('base64url') });
    assert.ok(!(r instanceof AcmeError));
    assert.equal(r.identifier.value, 'MAigBhYEMTIzNA==');
    assert.ok('der' in decodeTnAuthList('MAigBhYEMTIzNA=='));
    for (const bad of [
      '',
      'not base64!',
      Buffer.from('plain text').toString('base64'),
      sequence().toString('base64'),
    ]) {
      const e = normalizeIdentifier({ type: 'TNAuthList', value: bad });
      assert.ok(e instanceof AcmeError && e.type === 'rejectedIdentifier', JSON.stringify(bad));
    }
  });

  it('formats and parses RFC 9447 account fingerprints', () => {
    const thumbprint = createHash('sha256').update('{"crv":"P-256"}').digest('base64url');
    const fp = accountFingerprint(thumbprint);
    assert.match(fp, /^SHA256 ([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
    assert.deepEqual(parseFingerprint(fp), Buffer.from(thumbprint, 'base64url'));
    assert.deepEqual(
      parseFingerprint(fp.replace('SHA256', 'sha-256').toLowerCase()),
      Buffer.from(thumbprint, 'base64url'),
    );
    assert.equal(parseFingerprint('SHA1 AB:CD'), undefined);
    assert.equal(parseFingerprint(42), undefined);
  });

  it('checks tls-alpn-01 certificates per RFC 8737 §3', () => {
    const keyAuth = 'token.thumbprint';
    const digest = createHash('sha256').update(keyAuth).digest();
    const good = { acmeIdentifier: { critical: true, value: digest }, subjectAltNames: ['ip:192.0.2.1'] };
    assert.equal(checkChallengeCertificate(good, { type: 'ip', value: '192.0.2.1' }, keyAuth), undefined);
    assert.equal(
      checkChallengeCertificate(good, { type: 'dns', value: '192.0.2.1' }, keyAuth)?.type,
      'unauthorized',
    );
    assert.equal(
      checkChallengeCertificate(
        { ...good, subjectAltNames: ['ip:192.0.2.1', 'dns:a.example'] },
        { type: 'ip', value: '192.0.2.1' },
        keyAuth,
      )?.type,
      'unauthorized',
    );
    assert.equal(
      checkChallengeCertificate(
        { ...good, acmeIdentifier: { critical: true, value: digest.subarray(1) } },
        { type: 'ip', value: '192.0.2.1' },
        keyAuth,
      )?.type,
      'incorrectResponse',
    );
  });
});
