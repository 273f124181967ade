import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { generateKey, JwsSigner } from '@akamu/client';
import { b64u } from '@akamu/protocol';
import {
  importJwk,
  parseFlattenedJws,
  verifyJwsSignature,
  verifyJwsSignatureInPool,
} from '../../src/wfe/jws.ts';
import { typeOf } from './support.ts';

describe('JWS (RFC 8555 §6.2, RFC 7515)', () => {
  it('verifies signatures of every accepted algorithm and rejects tampering', async () => {
    for (const spec of ['ec:P-256', 'ec:P-384', 'ec:P-521', 'rsa:2048', 'ed25519', 'ed448'] as const) {
      const signer = new JwsSigner(generateKey(spec));
      const jws = parseFlattenedJws(
        signer.sign({ nonce: 'n', url: 'https://x/y', jwk: signer.jwk }, b64u('{"a":1}')),
      );
      const { key, thumbprint } = importJwk(jws.header.jwk!, jws.header.alg);
      assert.equal(thumbprint, signer.thumbprint);
      assert.ok(verifyJwsSignature(jws, key), spec);
      const tampered = parseFlattenedJws({
        ...signer.sign({ nonce: 'n', url: 'https://x/y', jwk: signer.jwk }, b64u('{"a":1}')),
        payload: b64u('{"a":2}'),
      });
      assert.ok(!verifyJwsSignature(tampered, key), `${spec} tampered`);
      // The thread-pool variant (used while other requests are in flight) gives the same answers.
      assert.equal(await verifyJwsSignatureInPool(jws, key), true, `${spec} in the pool`);
      assert.equal(await verifyJwsSignatureInPool(tampered, key), false, `${spec} tampered, in the pool`);
      const truncated = { ...jws, signature: jws.signature.subarray(1) };
      assert.equal(verifyJwsSignature(truncated, key), false, `${spec} truncated`);
      assert.equal(await verifyJwsSignatureInPool(truncated, key), false, `${spec} truncated, in the pool`);
    }
  });

  it('checks that the key fits the algorithm', () => {
    const ec = new JwsSigner(generateKey('ec:P-256'));
    assert.equal(
      typeOf(() => importJwk(ec.jwk, 'ES384')),
      'badPublicKey',
    );
    assert.equal(
      typeOf(() => importJwk(ec.jwk, 'RS256')),
      'badPublicKey',
    );
    assert.equal(
      typeOf(() => importJwk({ ...ec.jwk, d: 'x' }, 'ES256')),
      'badPublicKey',
    );
    assert.equal(
      typeOf(() => importJwk({ kty: 'oct', k: 'AAAA' }, 'ES256')),
      'badPublicKey',
    );
  });

  it('parses POST-as-GET payloads as undefined and refuses malformed members', () => {
    const s = new JwsSigner(generateKey('ec:P-256'));
    assert.equal(parseFlattenedJws(s.sign({ url: 'u', kid: 'k' }, '')).payload, undefined);
    assert.equal(
      typeOf(() => parseFlattenedJws({ protected: 'a=', payload: '', signature: '' })),
      'malformed',
    );
    assert.equal(
      typeOf(() => parseFlattenedJws({ protected: b64u('[1]'), payload: '', signature: '' })),
      'malformed',
    );
    assert.equal(
      typeOf(() =>
        parseFlattenedJws({ protected: b64u('{"alg":"ES256","url":"u"}'), payload: '', signature: '' }),
      ),
      'malformed',
    );
    assert.equal(
      typeOf(() =>
        parseFlattenedJws({
          protected: b64u('{"alg":"ES256","url":"u","kid":"k","crit":["b64"]}'),
          payload: '',
          signature: '',
        }),
      ),
      'malformed',
    );
    assert.equal(
      typeOf(() =>
        parseFlattenedJws({
          protected: b64u('{"alg":"HS256","url":"u","kid":"k"}'),
          payload: '',
          signature: '',
        }),
      ),
      'badSignatureAlgorithm',
    );
    assert.equal(
      typeOf(() =>
        parseFlattenedJws({
          protected: s.sign({ url: 'u', kid: 'k' }, '').protected,
          payload: b64u('not json'),
          signature: '',
        }),
      ),
      'malformed',
    );
  });
});
