import assert from 'node:assert/strict';
import { createHmac, createPublicKey, generateKeyPairSync, sign, verify } from 'node:crypto';
import { test } from 'node:test';
import { fromB64u, jwkThumbprint } from '@akamu/protocol';
import {
  exportPrivateKeyPem,
  exportPublicJwk,
  generateKey,
  importPrivateKeyPem,
  JwsSigner,
  KEY_SPECS,
} from '../src/index.ts';
import { ecdsaDerToRaw, encodePayload, signExternalAccountBinding } from '../src/jws.ts';

const SPECS = KEY_SPECS.filter((s) => s !== 'rsa:3072' && s !== 'rsa:4096');

function decodeJson(part: string): Record<string, unknown> {
  return JSON.parse(fromB64u(part)!.toString('utf8'));
}

test('JwsSigner signs flattened JWS that verify against the exported JWK, for every key type', () => {
  const expected = {
    'ec:P-256': 'ES256',
    'ec:P-384': 'ES384',
    'ec:P-521': 'ES512',
    'rsa:2048': 'RS256',
    'ml-dsa-44': 'ML-DSA-44',
    'ml-dsa-65': 'ML-DSA-65',
    'ml-dsa-87': 'ML-DSA-87',
  } as const;
  for (const spec of SPECS) {
    const signer = new JwsSigner(generateKey(spec));
    const jws = signer.sign(
      { jwk: signer.jwk, nonce: 'n0nce', url: 'https://ca.example/acct' },
      encodePayload({ a: 1 }),
    );
    const header = decodeJson(jws.protected);
    assert.equal(header.alg, spec in expected ? expected[spec as keyof typeof expected] : 'EdDSA', spec);
    assert.deepEqual(header.jwk, signer.jwk);
    assert.equal(header.nonce, 'n0nce');
    assert.equal(header.url, 'https://ca.example/acct');
    assert.deepEqual(decodeJson(jws.payload), { a: 1 });

    const publicKey = createPublicKey({ key: signer.jwk as never, format: 'jwk' });
    const input = Buffer.from(`${jws.protected}.${jws.payload}`);
    const signature = fromB64u(jws.signature)!;
    const digest =
      header.alg === 'EdDSA' || String(header.alg).startsWith('ML-DSA')
        ? null
        : `sha${String(header.alg).slice(2)}`;
    if (spec.startsWith('ec:')) {
      const width = { 'ec:P-256': 32, 'ec:P-384': 48, 'ec:P-521': 66 }[spec as 'ec:P-256'];
      assert.equal(signature.length, 2 * width, `${spec} r||s`);
      assert.ok(verify(digest, input, { key: publicKey, dsaEncoding: 'ieee-p1363' }, signature), spec);
    } else {
      assert.ok(verify(digest, input, publicKey, signature), spec);
    }
  }
});

test('POST-as-GET payload is the empty string; kid headers carry no jwk', () => {
  const signer = new JwsSigner(generateKey('ec:P-256'));
  const jws = signer.sign(
    { kid: 'https://ca.example/acct/1', nonce: 'x', url: 'https://ca.example/order/1' },
    encodePayload(''),
  );
  assert.equal(jws.payload, '');
  const header = decodeJson(jws.protected);
  assert.deepEqual(Object.keys(header).sort(), ['alg', 'kid', 'nonce', 'url']);
});

test('exportPublicJwk keeps only public members and matches the RFC 7638 thumbprint of the key', () => {
  for (const spec of SPECS) {
    const key = generateKey(spec);
    const jwk = exportPublicJwk(key);
    const members = Object.keys(jwk).sort();
    if (jwk.kty === 'EC') assert.deepEqual(members, ['crv', 'kty', 'x', 'y']);
    else if (jwk.kty === 'RSA') assert.deepEqual(members, ['e', 'kty', 'n']);
    else if (jwk.kty === 'AKP') assert.deepEqual(members, ['alg', 'kty', 'pub']);
    else assert.deepEqual(members, ['crv', 'kty', 'x']);
    assert.deepEqual(exportPublicJwk(createPublicKey(key)), jwk);
    assert.equal(new JwsSigner(key).thumbprint, jwkThumbprint(jwk));
  }
});

test('external account binding is an HMAC JWS over the account JWK (RFC 8555 §7.3.4)', () => {
  const accountJwk = exportPublicJwk(generateKey('ec:P-256'));
  const hmacKey = Buffer.from('0123456789abcdef0123456789abcdef');
  for (const alg of ['HS256', 'HS384', 'HS512'] as const) {
    const eab = signExternalAccountBinding({
      accountJwk,
      kid: 'kid-1',
      hmacKey,
      url: 'https://ca.example/new-acct',
      alg,
    });
    assert.deepEqual(decodeJson(eab.protected), { alg, kid: 'kid-1', url: 'https://ca.example/new-acct' });
    assert.deepEqual(decodeJson(eab.payload), accountJwk);
    const mac = createHmac(`sha${alg.slice(2)}`, hmacKey)
      .update(`${eab.protected}.${eab.payload}`)
      .digest();
    assert.equal(eab.signature, mac.toString('base64url'));
  }
});

test('private keys round-trip through PEM; SEC1 and PKCS#1 import; non-keys are refused', () => {
  for (const spec of SPECS) {
    const key = generateKey(spec);
    const pem = exportPrivateKeyPem(key);
    assert.match(pem, /^-----BEGIN PRIVATE KEY-----\n/);
    assert.deepEqual(exportPublicJwk(importPrivateKeyPem(pem)), exportPublicJwk(key));
  }
  const ec = generateKey('ec:P-256');
  const sec1 = ec.export({ type: 'sec1', format: 'pem' }) as string;
  assert.deepEqual(exportPublicJwk(importPrivateKeyPem(sec1)), exportPublicJwk(ec));
  const rsa = generateKey('rsa:2048');
  const pkcs1 = rsa.export({ type: 'pkcs1', format: 'pem' }) as string;
  assert.deepEqual(exportPublicJwk(importPrivateKeyPem(pkcs1)), exportPublicJwk(rsa));

  assert.throws(() => importPrivateKeyPem('not a key'), TypeError);
  const publicPem = createPublicKey(ec).export({ type: 'spki', format: 'pem' }) as string;
  assert.throws(() => importPrivateKeyPem(publicPem), TypeError);
  const x25519 = generateKeyPairSync('x25519').privateKey;
  assert.throws(() => new JwsSigner(x25519), TypeError);
  assert.throws(() => generateKey('dsa:1024' as never), TypeError);
});

test('generateKey produces the requested sizes and curves', () => {
  assert.equal(generateKey('ec:P-384').asymmetricKeyDetails?.namedCurve, 'secp384r1');
  assert.equal(generateKey('ec:P-521').asymmetricKeyDetails?.namedCurve, 'secp521r1');
  assert.equal(generateKey('rsa:3072').asymmetricKeyDetails?.modulusLength, 3072);
  assert.equal(generateKey('ed448').asymmetricKeyType, 'ed448');
});

test('ecdsaDerToRaw matches node:crypto ieee-p1363 output, including short r/s and P-521 long-form DER', () => {
  for (const [spec, size] of [
    ['ec:P-256', 32],
    ['ec:P-521', 66],
  ] as const) {
    const key = generateKey(spec);
    let short = 0;
    for (let i = 0; i < 300; i++) {
      const data = Buffer.from(`message ${i}`);
      const der = sign('sha256', data, key);
      const raw = ecdsaDerToRaw(der, size);
      assert.equal(raw.length, 2 * size);
      if (raw[0] === 0 || raw[size] === 0) short++;
      assert.ok(verify('sha256', data, { key, dsaEncoding: 'ieee-p1363' }, raw), `${spec} #${i}`);
    }
    if (spec === 'ec:P-521') assert.ok(short > 0, 'P-521 r/s often have fewer than 66 significant bytes');
  }
  assert.throws(() => ecdsaDerToRaw(Buffer.from([0x31, 0]), 32), TypeError);
  assert.throws(() => ecdsaDerToRaw(Buffer.from([0x30, 4, 0x02, 40, 1, 1]), 32), TypeError);
});

test('ML-DSA (FIPS 204) keys where node:crypto has them: AKP JWK, ML-DSA-NN alg, sign/verify round trip', (t) => {
  const mlDsa = (['ml-dsa-44', 'ml-dsa-65', 'ml-dsa-87'] as const).filter((s) => KEY_SPECS.includes(s));
  let supported = true;
  try {
    generateKeyPairSync('ml-dsa-65' as 'ed25519');
  } catch {
    supported = false;
  }
  // KEY_SPECS lists ML-DSA exactly when the runtime can generate it (Node 24 with OpenSSL >= 3.5).
  assert.equal(mlDsa.length, supported ? 3 : 0);
  if (!supported) {
    assert.throws(() => generateKey('ml-dsa-65'), TypeError);
    t.skip('this Node.js/OpenSSL has no ML-DSA');
    return;
  }
  const publicKeyBytes = { 'ml-dsa-44': 1312, 'ml-dsa-65': 1952, 'ml-dsa-87': 2592 };
  for (const spec of mlDsa) {
    const key = generateKey(spec);
    const signer = new JwsSigner(key);
    assert.equal(signer.alg, spec.toUpperCase());
    assert.equal(signer.jwk.kty, 'AKP');
    assert.equal(signer.jwk.alg, spec.toUpperCase());
    assert.equal(fromB64u(String(signer.jwk.pub))!.length, publicKeyBytes[spec]);
    // RFC 7638 thumbprint over the required AKP members, in order: alg, kty, pub.
    assert.equal(signer.thumbprint, jwkThumbprint({ kty: 'AKP', alg: signer.jwk.alg, pub: signer.jwk.pub }));
    const jws = signer.sign(
      { kid: 'https://ca.example/acct/1', nonce: 'n', url: 'https://ca.example/x' },
      encodePayload({ a: 1 }),
    );
    const publicKey = createPublicKey({ key: signer.jwk as never, format: 'jwk' });
    const input = Buffer.from(`${jws.protected}.${jws.payload}`);
    assert.ok(verify(null, input, publicKey, fromB64u(jws.signature)!), spec);
    assert.ok(!verify(null, Buffer.from(`${jws.protected}.e30`), publicKey, fromB64u(jws.signature)!), spec);
    assert.deepEqual(exportPublicJwk(importPrivateKeyPem(exportPrivateKeyPem(key))), signer.jwk);
  }
});
