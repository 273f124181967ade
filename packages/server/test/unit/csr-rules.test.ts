import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { describe, it } from 'node:test';
import { createCsr, generateKey } from '@akamu/client';
import { parseCsr } from '../../src/ca/csr.ts';
import {
  checkCertificateKey,
  checkCsrKeyIsNotAccountKey,
  checkCsrMatchesOrder,
} from '../../src/core/csr-rules.ts';
import { typeOf } from './support.ts';

const dns = (value: string) => ({ type: 'dns', value });
const ip = (value: string) => ({ type: 'ip', value });

describe('finalize CSR rules (RFC 8555 §7.4)', () => {
  const key = generateKey('ec:P-256');
  const csr = (opts: { commonName?: string; dnsNames?: string[]; ipAddresses?: string[] }) =>
    parseCsr(createCsr({ key, ...opts }));

  it('accepts exactly the order identifiers, in any order and case, with a CN among them', () => {
    const order = [dns('a.example.com'), dns('b.example.com'), ip('10.0.0.1')];
    assert.equal(
      typeOf(() =>
        checkCsrMatchesOrder(
          csr({ dnsNames: ['B.example.com', 'a.example.com'], ipAddresses: ['10.0.0.1'] }),
          order,
        ),
      ),
      'ok',
    );
    assert.equal(
      typeOf(() =>
        checkCsrMatchesOrder(
          csr({ commonName: 'a.example.com', dnsNames: ['b.example.com'], ipAddresses: ['10.0.0.1'] }),
          order,
        ),
      ),
      'ok',
    );
  });

  it('refuses extra names, missing names and a foreign CN', () => {
    const order = [dns('a.example.com'), dns('b.example.com')];
    assert.equal(
      typeOf(() => checkCsrMatchesOrder(csr({ dnsNames: ['a.example.com'] }), order)),
      'badCSR',
    );
    assert.equal(
      typeOf(() =>
        checkCsrMatchesOrder(csr({ dnsNames: ['a.example.com', 'b.example.com', 'c.example.com'] }), order),
      ),
      'badCSR',
    );
    assert.equal(
      typeOf(() =>
        checkCsrMatchesOrder(
          csr({ commonName: 'z.example.com', dnsNames: ['a.example.com', 'b.example.com'] }),
          order,
        ),
      ),
      'badCSR',
    );
    assert.equal(
      typeOf(() =>
        checkCsrMatchesOrder(
          csr({ dnsNames: ['a.example.com', 'b.example.com'], ipAddresses: ['10.0.0.1'] }),
          order,
        ),
      ),
      'badCSR',
    );
  });

  it('refuses a CSR whose signature does not verify', () => {
    const der = createCsr({ key, dnsNames: ['a.example.com'] });
    der[der.length - 5]! ^= 0x01;
    const parsed = parseCsr(der);
    assert.equal(parsed.signatureValid, false);
    assert.equal(
      typeOf(() => checkCsrMatchesOrder(parsed, [dns('a.example.com')])),
      'badCSR',
    );
  });

  it('applies the key policy and refuses the account key', () => {
    for (const spec of ['ec:P-256', 'ec:P-384', 'ec:P-521', 'rsa:2048', 'ed25519', 'ed448'] as const) {
      assert.equal(
        typeOf(() =>
          checkCertificateKey(
            parseCsr(createCsr({ key: generateKey(spec), dnsNames: ['a.example'] })).publicKey,
          ),
        ),
        'ok',
        spec,
      );
    }
    const small = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey;
    assert.equal(
      typeOf(() => checkCertificateKey(small)),
      'badPublicKey',
    );
    const odd = generateKeyPairSync('rsa', { modulusLength: 2048, publicExponent: 3 }).publicKey;
    assert.equal(
      typeOf(() => checkCertificateKey(odd)),
      'badPublicKey',
    );
    const k1 = generateKeyPairSync('ec', { namedCurve: 'secp256k1' }).publicKey;
    assert.equal(
      typeOf(() => checkCertificateKey(k1)),
      'badPublicKey',
    );
    const accountKey = parseCsr(createCsr({ key, dnsNames: ['a.example'] })).publicKey;
    assert.equal(
      typeOf(() => checkCsrKeyIsNotAccountKey(accountKey, accountKey)),
      'badCSR',
    );
    assert.equal(
      typeOf(() =>
        checkCsrKeyIsNotAccountKey(accountKey, generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey),
      ),
      'ok',
    );
  });
});
