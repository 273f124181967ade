import assert from 'node:assert/strict';
import { createPublicKey, generateKeyPairSync, sign, verify } from 'node:crypto';
import { test } from 'node:test';
import {
  generateKeyPair,
  isKeyType,
  KEY_TYPES,
  keyTypeOf,
  parseKeyType,
  signatureAlgorithmFor,
} from '../../src/ca/key-type.ts';

test('parseKeyType accepts every listed type and names them when refusing', () => {
  for (const kt of KEY_TYPES) assert.equal(parseKeyType(kt), kt);
  for (const bad of ['ec:P-521', 'rsa:1024', 'RSA:2048', 'ed448', '']) {
    assert.throws(
      () => parseKeyType(bad),
      (e: unknown) => e instanceof TypeError && KEY_TYPES.every((kt) => e.message.includes(kt)),
    );
    assert.equal(isKeyType(bad), false);
  }
});

test('generateKeyPair makes the requested key and keyTypeOf recognises it', () => {
  for (const kt of KEY_TYPES) {
    const { privateKey, publicKey } = generateKeyPair(kt);
    assert.equal(privateKey.type, 'private');
    assert.equal(publicKey.type, 'public');
    assert.equal(keyTypeOf(privateKey), kt);
    assert.equal(keyTypeOf(publicKey), kt);
    assert.ok(createPublicKey(privateKey).equals(publicKey));
    if (kt.startsWith('rsa:')) {
      assert.equal(publicKey.asymmetricKeyDetails?.modulusLength, Number(kt.slice(4)));
      assert.equal(publicKey.asymmetricKeyDetails?.publicExponent, 65537n);
    }
  }
  assert.equal(keyTypeOf(generateKeyPairSync('ec', { namedCurve: 'P-521' }).publicKey), undefined);
  assert.equal(keyTypeOf(generateKeyPairSync('ed448').publicKey), undefined);
});

test('signatureAlgorithmFor returns the hash and the exact AlgorithmIdentifier DER', () => {
  const expected: [ReturnType<typeof generateKeyPairSync>['privateKey'], string | null, string, string][] = [
    [generateKeyPair('ec:P-256').privateKey, 'sha256', '300a06082a8648ce3d040302', 'ecdsa-with-SHA256'],
    [generateKeyPair('ec:P-384').privateKey, 'sha384', '300a06082a8648ce3d040303', 'ecdsa-with-SHA384'],
    [
      generateKeyPairSync('ec', { namedCurve: 'P-521' }).privateKey,
      'sha512',
      '300a06082a8648ce3d040304',
      'ecdsa-with-SHA512',
    ],
    [
      generateKeyPair('rsa:2048').privateKey,
      'sha256',
      '300d06092a864886f70d01010b0500',
      'sha256WithRSAEncryption',
    ],
    [generateKeyPair('ed25519').privateKey, null, '300506032b6570', 'Ed25519'],
    [generateKeyPairSync('ed448').privateKey, null, '300506032b6571', 'Ed448'],
  ];
  for (const [key, hash, der, name] of expected) {
    const alg = signatureAlgorithmFor(key);
    assert.equal(alg.hash, hash);
    assert.equal(alg.algorithmIdentifier.toString('hex'), der);
    assert.equal(alg.name, name);
    // The hash works with node:crypto for this key, and the public key gives the same answer.
    const data = Buffer.from('tbsCertificate');
    assert.ok(verify(alg.hash, data, createPublicKey(key), sign(alg.hash, data, key)));
    assert.equal(signatureAlgorithmFor(createPublicKey(key)), alg);
  }
});

test('signatureAlgorithmFor refuses keys that cannot sign certificates', () => {
  assert.throws(() => signatureAlgorithmFor(generateKeyPairSync('x25519').privateKey), TypeError);
  assert.throws(
    () => signatureAlgorithmFor(generateKeyPairSync('ec', { namedCurve: 'secp256k1' }).privateKey),
    /unsupported EC curve/,
  );
});
