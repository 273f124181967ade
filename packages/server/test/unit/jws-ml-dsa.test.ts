import assert from 'node:assert/strict';
import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { generateKey, JwsSigner } from '@akamu/client';
import { b64u, type Jwk, jwkThumbprint, keyAuthorization } from '@akamu/protocol';
import {
  checkKeyMatchesAlg,
  importJwk,
  parseFlattenedJws,
  verifyJwsSignature,
  verifyJwsSignatureInPool,
} from '../../src/wfe/jws.ts';
import { typeOf } from './support.ts';

const ML_DSA = ['ml-dsa-44', 'ml-dsa-65', 'ml-dsa-87'] as const;
/** FIPS 204 Table 2: public key and signature sizes in bytes. */
const SIZES = { 'ml-dsa-44': [1312, 2420], 'ml-dsa-65': [1952, 3309], 'ml-dsa-87': [2592, 4627] } as const;

const example = JSON.parse(
  readFileSync(new URL('../support/jose-ml-dsa-44-example.json', import.meta.url), 'utf8'),
) as { seed: string; kid: string; pubPrefix: string; jws: string };

/** The draft's ML-DSA-44 key from its 32-byte seed: PKCS#8 with the seed-only ML-DSA-PrivateKey ([0] seed). */
function keyFromSeed(seedHex: string): KeyObject {
  const prefix = Buffer.from('3034020100300b06096086480165030403110422' + '8020', 'hex');
  return createPrivateKey({
    key: Buffer.concat([prefix, Buffer.from(seedHex, 'hex')]),
    format: 'der',
    type: 'pkcs8',
  });
}

describe('ML-DSA account keys (draft-ietf-cose-dilithium, JOSE)', () => {
  it('the draft example: AKP thumbprint equals its kid, and its JWS verifies through verifyJwsSignature', () => {
    const pub = createPublicKey(keyFromSeed(example.seed));
    const nodeJwk = pub.export({ format: 'jwk' }) as Jwk;
    assert.ok(String(nodeJwk.pub).startsWith(example.pubPrefix), 'the seed gives the draft public key');
    const imported = importJwk({ kty: 'AKP', alg: 'ML-DSA-44', pub: nodeJwk.pub }, 'ML-DSA-44');
    assert.deepEqual(Object.keys(imported.jwk), ['kty', 'alg', 'pub']);
    // §6: RFC 7638 over {"alg","kty","pub"} in that order.
    assert.equal(imported.thumbprint, example.kid);
    assert.equal(jwkThumbprint(imported.jwk), example.kid);
    const [protectedB64, payloadB64, sig] = example.jws.split('.') as [string, string, string];
    const header = JSON.parse(Buffer.from(protectedB64, 'base64url').toString()) as Record<string, unknown>;
    assert.equal(header.alg, 'ML-DSA-44');
    const jws = {
      protectedB64,
      payloadB64,
      signature: Buffer.from(sig, 'base64url'),
      header: { alg: 'ML-DSA-44' as const, url: 'x' },
      payload: undefined,
    };
    assert.equal(jws.signature.length, 2420);
    assert.ok(verifyJwsSignature(jws, imported.key));
    const flipped = Buffer.from(jws.signature);
    flipped[100]! ^= 1;
    assert.ok(!verifyJwsSignature({ ...jws, signature: flipped }, imported.key));
    // RFC 8555 §8.1 key authorization uses that thumbprint.
    assert.equal(keyAuthorization('tok', imported.thumbprint), `tok.${example.kid}`);
  });

  it('verifies @akamu/client ML-DSA-44/65/87 JWS, and refuses tampering and truncated signatures', async () => {
    for (const spec of ML_DSA) {
      const signer = new JwsSigner(generateKey(spec));
      const alg = spec.toUpperCase();
      assert.equal(signer.alg, alg);
      const jws = parseFlattenedJws(
        signer.sign({ nonce: 'n', url: 'https://x/y', jwk: signer.jwk }, b64u('{"a":1}')),
      );
      assert.equal(jws.header.alg, alg);
      assert.equal(jws.signature.length, SIZES[spec][1]);
      const { key, jwk, thumbprint } = importJwk(jws.header.jwk!, jws.header.alg);
      assert.equal(key.asymmetricKeyType, spec);
      assert.equal(Buffer.from(String(jwk.pub), 'base64url').length, SIZES[spec][0]);
      assert.equal(thumbprint, signer.thumbprint);
      assert.ok(verifyJwsSignature(jws, key), spec);
      const tampered = parseFlattenedJws({
        ...signer.sign({ nonce: 'n', url: 'https://x/y', jwk: signer.jwk }, b64u('{"a":1}')),
        payload: b64u('{"a":2}'),
      });
      assert.ok(!verifyJwsSignature(tampered, key), `${spec} tampered`);
      assert.ok(
        !verifyJwsSignature({ ...jws, signature: jws.signature.subarray(1) }, key),
        `${spec} truncated`,
      );
      assert.equal(await verifyJwsSignatureInPool(jws, key), true, `${spec} in the pool`);
      assert.equal(await verifyJwsSignatureInPool(tampered, key), false, `${spec} tampered, in the pool`);
    }
  });

  it('refuses an AKP key under another alg, a private AKP key, a bad pub and a key of another type', () => {
    const signer = new JwsSigner(generateKey('ml-dsa-65'));
    const jwk = signer.jwk;
    // The AKP key's own alg binds it (draft §7.4): ML-DSA-65 key, ML-DSA-44 or ES256 header.
    assert.equal(
      typeOf(() => importJwk(jwk, 'ML-DSA-44')),
      'badPublicKey',
    );
    assert.equal(
      typeOf(() => importJwk(jwk, 'ES256')),
      'badPublicKey',
    );
    // An AKP JWK that lies about its alg: the pub has the ML-DSA-65 length, not ML-DSA-44's.
    assert.equal(
      typeOf(() => importJwk({ ...jwk, alg: 'ML-DSA-44' }, 'ML-DSA-44')),
      'badPublicKey',
    );
    assert.equal(
      typeOf(() => importJwk({ ...jwk, priv: b64u(Buffer.alloc(32)) }, 'ML-DSA-65')),
      'badPublicKey',
    );
    assert.equal(
      typeOf(() => importJwk({ kty: 'AKP', alg: 'ML-DSA-65', pub: 'AAAA' }, 'ML-DSA-65')),
      'badPublicKey',
    );
    assert.equal(
      typeOf(() => importJwk({ kty: 'AKP', alg: 'ML-DSA-65' }, 'ML-DSA-65')),
      'badPublicKey',
    );
    const ec = new JwsSigner(generateKey('ec:P-256'));
    assert.equal(
      typeOf(() => importJwk(ec.jwk, 'ML-DSA-65')),
      'badPublicKey',
    );
    // The stored key of an account (kid requests): an ML-DSA-65 key cannot sign ML-DSA-87 or EdDSA.
    assert.equal(
      typeOf(() => checkKeyMatchesAlg(signer.key, 'ML-DSA-87')),
      'badPublicKey',
    );
    assert.equal(
      typeOf(() => checkKeyMatchesAlg(signer.key, 'EdDSA')),
      'badPublicKey',
    );
    checkKeyMatchesAlg(createPublicKey(signer.key), 'ML-DSA-65');
  });

  it('lists ML-DSA-44/65/87 in badSignatureAlgorithm and still refuses HashML-DSA-style names', () => {
    for (const alg of ['ML-DSA-44', 'ML-DSA-65', 'ML-DSA-87']) {
      const header = b64u(JSON.stringify({ alg, url: 'u', kid: 'k' }));
      assert.equal(parseFlattenedJws({ protected: header, payload: '', signature: 'AA' }).header.alg, alg);
    }
    for (const alg of ['ML-DSA', 'HASH-ML-DSA-65', 'ml-dsa-65', 'ML-DSA-128']) {
      const header = b64u(JSON.stringify({ alg, url: 'u', kid: 'k' }));
      assert.equal(
        typeOf(() => parseFlattenedJws({ protected: header, payload: '', signature: 'AA' })),
        'badSignatureAlgorithm',
      );
    }
  });
});
