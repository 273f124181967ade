import assert from 'node:assert/strict';
import { createPublicKey, generateKeyPairSync, type JsonWebKey, type KeyObject } from 'node:crypto';
import { describe, it } from 'node:test';
import { importPublicJwk, importSpki } from '../../src/core/public-key.ts';

const spkiOf = (k: KeyObject) => k.export({ type: 'spki', format: 'der' });

const KEYS: [string, KeyObject][] = [
  ['EC P-256', generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey],
  ['EC P-384', generateKeyPairSync('ec', { namedCurve: 'P-384' }).publicKey],
  ['EC P-521', generateKeyPairSync('ec', { namedCurve: 'P-521' }).publicKey],
  ['Ed25519', generateKeyPairSync('ed25519').publicKey],
  ['Ed448', generateKeyPairSync('ed448').publicKey],
  ['RSA-2048', generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey],
  ['ML-DSA-65', generateKeyPairSync('ml-dsa-65').publicKey],
];

describe('public key import on the request path (core/public-key.ts)', () => {
  for (const [name, key] of KEYS) {
    it(`${name}: importSpki gives the key node:crypto imports from the same DER`, () => {
      const der = spkiOf(key);
      const imported = importSpki(der);
      assert.ok(imported.equals(key));
      assert.ok(imported.equals(createPublicKey({ key: der, format: 'der', type: 'spki' })));
      assert.equal(imported.asymmetricKeyType, key.asymmetricKeyType);
    });

    it(`${name}: importPublicJwk gives the key of its JWK`, () => {
      const jwk = key.export({ format: 'jwk' }) as JsonWebKey;
      assert.ok(importPublicJwk(jwk).equals(key));
    });
  }

  it('a subarray of a larger buffer imports only its own bytes', () => {
    const der = spkiOf(KEYS[0]![1]);
    const padded = Buffer.concat([Buffer.from('junk'), der, Buffer.from('more junk')]);
    assert.ok(importSpki(padded.subarray(4, 4 + der.length)).equals(KEYS[0]![1]));
  });

  it('malformed DER throws instead of giving a key', () => {
    assert.throws(() => importSpki(Buffer.from('3003020100', 'hex')));
    assert.throws(() => importSpki(Buffer.alloc(0)));
    assert.throws(() => importSpki(spkiOf(KEYS[0]![1]).subarray(0, 40)));
  });

  it('an EC point that is not on the curve is refused, as by the JWK import', () => {
    const jwk = KEYS[0]![1].export({ format: 'jwk' }) as JsonWebKey;
    const y = Buffer.from(jwk.y!, 'base64url');
    y[31]! ^= 1;
    const offCurve = { ...jwk, y: y.toString('base64url') };
    assert.throws(() => importPublicJwk(offCurve));
    assert.throws(() => createPublicKey({ key: offCurve, format: 'jwk' }));
  });

  it('wrong coordinate lengths and unknown curves go to node:crypto, which refuses them', () => {
    const jwk = KEYS[0]![1].export({ format: 'jwk' }) as JsonWebKey;
    assert.throws(() => importPublicJwk({ ...jwk, x: jwk.x!.slice(0, 20) }));
    assert.throws(() => importPublicJwk({ ...jwk, crv: 'P-192' }));
    assert.throws(() => importPublicJwk({ ...jwk, y: undefined }));
    assert.throws(() => importPublicJwk({ kty: 'OKP', crv: 'Ed25519', x: 'not base64url!' }));
  });
});
