import assert from 'node:assert/strict';
import { createPublicKey, generateKeyPairSync, type KeyObject, randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import { bitString, integer, NULL, oid, readChildren, readTlv, sequence } from '@akamu/protocol';
import { CsrError, describeKey, type ParsedCsr, parseCsr } from '../../src/ca/csr.ts';
import { generateKeyPair } from '../../src/ca/key-type.ts';
import { opensslCsr, prng } from './support.ts';

const SAN =
  'subjectAltName=DNS:Example.COM,DNS:www.example.com,DNS:example.com,IP:192.0.2.1,IP:2001:DB8:0:0:0:0:0:1';

function keys() {
  return {
    p256: generateKeyPair('ec:P-256').privateKey,
    p384: generateKeyPair('ec:P-384').privateKey,
    p521: generateKeyPairSync('ec', { namedCurve: 'P-521' }).privateKey,
    rsa: generateKeyPair('rsa:2048').privateKey,
    ed25519: generateKeyPair('ed25519').privateKey,
    ed448: generateKeyPairSync('ed448').privateKey,
  };
}
const k = keys();

function csr(key: KeyObject, extra: Partial<Parameters<typeof opensslCsr>[1]> = {}): Buffer {
  return opensslCsr(key, { subject: '/CN=example.com', extensions: [SAN], ...extra });
}

/** parseCsr must either return or throw CsrError: never any other exception. */
function parseOrCsrError(der: Buffer): ParsedCsr | CsrError {
  try {
    return parseCsr(der);
  } catch (err) {
    if (err instanceof CsrError) return err;
    throw new Error(`non-CsrError escaped for ${der.toString('hex')}: ${String(err)}`, { cause: err });
  }
}

describe('parseCsr: signature algorithms', () => {
  const cases: [string, KeyObject, string | undefined, string[], string][] = [
    ['ECDSA P-256 SHA-256', k.p256, '-sha256', [], 'ecdsa-with-SHA256'],
    ['ECDSA P-384 SHA-384', k.p384, '-sha384', [], 'ecdsa-with-SHA384'],
    ['ECDSA P-521 SHA-512', k.p521, '-sha512', [], 'ecdsa-with-SHA512'],
    ['ECDSA P-256 SHA-384', k.p256, '-sha384', [], 'ecdsa-with-SHA384'],
    ['RSA PKCS#1 v1.5 SHA-256', k.rsa, '-sha256', [], 'sha256WithRSAEncryption'],
    ['RSA PKCS#1 v1.5 SHA-384', k.rsa, '-sha384', [], 'sha384WithRSAEncryption'],
    ['RSA PKCS#1 v1.5 SHA-512', k.rsa, '-sha512', [], 'sha512WithRSAEncryption'],
    [
      'RSA-PSS SHA-256',
      k.rsa,
      '-sha256',
      ['rsa_padding_mode:pss', 'rsa_pss_saltlen:32'],
      'RSASSA-PSS-SHA256',
    ],
    [
      'RSA-PSS SHA-512 max salt',
      k.rsa,
      '-sha512',
      ['rsa_padding_mode:pss', 'rsa_pss_saltlen:max'],
      'RSASSA-PSS-SHA512',
    ],
    ['Ed25519', k.ed25519, undefined, [], 'Ed25519'],
    ['Ed448', k.ed448, undefined, [], 'Ed448'],
  ];
  for (const [name, key, digest, sigopts, algName] of cases) {
    test(name, () => {
      const parsed = parseCsr(csr(key, { digest, sigopts }));
      assert.equal(parsed.signatureAlgorithm, algName);
      assert.equal(parsed.signatureValid, true);
      assert.ok(parsed.publicKey.equals(createPublicKey(key)));
      assert.deepEqual(parsed.spki, createPublicKey(key).export({ type: 'spki', format: 'der' }));
      assert.equal(parsed.commonName, 'example.com');
      assert.deepEqual(parsed.dnsNames, ['example.com', 'www.example.com']);
      assert.deepEqual(parsed.ipAddresses, ['192.0.2.1', '2001:db8::1']);
    });
  }

  test('SHA-1 signatures are refused as unsupported', () => {
    const der = csr(k.rsa, { digest: '-sha1' });
    assert.throws(
      () => parseCsr(der),
      (e: unknown) => e instanceof CsrError && /1\.2\.840\.113549\.1\.1\.5/.test(e.message),
    );
  });
});

describe('parseCsr: names and extensions', () => {
  test('IP SANs come out canonical; DNS names lowercased and de-duplicated', () => {
    const parsed = parseCsr(
      csr(k.p256, {
        extensions: [
          'subjectAltName=IP:::FFFF:192.0.2.1,IP:fe80:0:0:0:0:0:0:1,IP:10.0.0.1,IP:10.0.0.1,DNS:A.b.C',
        ],
      }),
    );
    assert.deepEqual(parsed.ipAddresses, ['::ffff:c000:201', 'fe80::1', '10.0.0.1']);
    assert.deepEqual(parsed.dnsNames, ['a.b.c']);
  });

  test('a CSR without extensions has only a common name', () => {
    const parsed = parseCsr(opensslCsr(k.p256, { subject: '/O=Org/CN=only-cn.example' }));
    assert.equal(parsed.commonName, 'only-cn.example');
    assert.deepEqual([parsed.dnsNames, parsed.ipAddresses, parsed.unknownExtensions], [[], [], []]);
    assert.equal(parsed.signatureValid, true);
  });

  test('a UTF-8 common name decodes; no CN gives undefined', () => {
    assert.equal(parseCsr(opensslCsr(k.p256, { subject: '/CN=bücher ✓' })).commonName, 'bücher ✓');
    assert.equal(
      parseCsr(opensslCsr(k.p256, { subject: '/O=No CN', extensions: [SAN] })).commonName,
      undefined,
    );
  });

  test('two common names are refused', () => {
    const der = opensslCsr(k.p256, { subject: '/CN=a.example/CN=b.example' });
    assert.throws(() => parseCsr(der), /more than one commonName/);
  });

  test('unsupported SAN kinds and other requested extensions are reported', () => {
    const parsed = parseCsr(
      csr(k.p256, {
        extensions: [
          'subjectAltName=DNS:a.example,email:x@a.example,URI:https://a.example/',
          'keyUsage=critical,digitalSignature',
          '1.3.6.1.5.5.7.1.24=DER:3003020105',
        ],
      }),
    );
    assert.deepEqual(parsed.dnsNames, ['a.example']);
    assert.deepEqual(parsed.unsupportedNames, ['rfc822Name', 'uniformResourceIdentifier']);
    assert.deepEqual(
      parsed.unknownExtensions.map((e) => [e.oid, e.critical, e.value.toString('hex')]),
      [
        ['2.5.29.15', true, '03020780'],
        ['1.3.6.1.5.5.7.1.24', false, '3003020105'],
      ],
    );
  });
});

describe('parseCsr: signature checks', () => {
  test('a changed byte in the signed part or in the signature makes signatureValid false', () => {
    for (const key of [k.p256, k.rsa, k.ed25519]) {
      const der = csr(key);
      const tampered = Buffer.from(der);
      const at = tampered.indexOf('www.example.com');
      tampered[at] = 'x'.charCodeAt(0);
      const parsed = parseCsr(tampered);
      assert.deepEqual(parsed.dnsNames, ['example.com', 'xww.example.com']);
      assert.equal(parsed.signatureValid, false);

      const badSig = Buffer.from(der);
      badSig[badSig.length - 1]! ^= 0x01;
      const r = parseOrCsrError(badSig);
      assert.ok(!(r instanceof CsrError), 'a wrong signature value is not a parse error');
      assert.equal(r.signatureValid, false);
    }
  });

  test('a signature algorithm that does not match the key is invalid, not an exception', () => {
    const der = csr(k.p256);
    const top = readChildren(der, readTlv(der));
    const info = der.subarray(top[0]!.start, top[0]!.end);
    const sig = der.subarray(top[2]!.contentStart + 1, top[2]!.end);
    const forged = sequence(info, sequence(oid('1.2.840.113549.1.1.11'), NULL), bitString(sig));
    const parsed = parseCsr(forged);
    assert.equal(parsed.signatureAlgorithm, 'sha256WithRSAEncryption');
    assert.equal(parsed.signatureValid, false);
  });

  test('a CSR signed by a different key is invalid', () => {
    const der = csr(k.p256);
    const other = csr(generateKeyPair('ec:P-256').privateKey);
    const top = readChildren(der, readTlv(der));
    const otherTop = readChildren(other, readTlv(other));
    const spliced = sequence(
      der.subarray(top[0]!.start, top[0]!.end),
      der.subarray(top[1]!.start, top[1]!.end),
      other.subarray(otherTop[2]!.start, otherTop[2]!.end),
    );
    assert.equal(parseCsr(spliced).signatureValid, false);
  });
});

describe('parseCsr: malformed input only ever throws CsrError', () => {
  const samples = [csr(k.p256), csr(k.rsa, { sigopts: ['rsa_padding_mode:pss'] }), csr(k.ed25519)];

  test('hand-picked malformed inputs give readable messages', () => {
    const bad: [Uint8Array | unknown, RegExp][] = [
      [Buffer.alloc(0), /empty/],
      [Buffer.from('3000', 'hex'), /three fields/],
      [Buffer.from('300000', 'hex'), /trailing data/],
      [Buffer.from('3080', 'hex'), /indefinite/],
      [Buffer.concat([samples[0]!, Buffer.from([0])]), /trailing data/],
      [sequence(sequence(integer(1)), sequence(), bitString(Buffer.alloc(1))), /wrong number of fields/],
      ['-----BEGIN CERTIFICATE REQUEST-----', /DER bytes/],
    ];
    for (const [input, re] of bad) {
      const result = (() => {
        try {
          return parseCsr(input as Uint8Array);
        } catch (err) {
          return err;
        }
      })();
      assert.ok(result instanceof CsrError, `expected CsrError for ${String(input)}`);
      assert.match(result.message, re);
      assert.equal(result.code, 'badCSR');
    }
  });

  test('a plain Uint8Array is accepted as well as a Buffer', () => {
    assert.equal(parseCsr(new Uint8Array(samples[0]!)).signatureValid, true);
  });

  test('every truncation of a valid CSR is a CsrError', () => {
    for (const der of samples) {
      for (let n = 0; n < der.length; n++) {
        assert.ok(parseOrCsrError(der.subarray(0, n)) instanceof CsrError, `prefix of ${n} bytes`);
      }
    }
  });

  test('single-byte corruptions never throw anything but CsrError', () => {
    for (const der of samples) {
      for (let i = 0; i < der.length; i++) {
        for (const x of [0x01, 0x80, 0xff]) {
          const copy = Buffer.from(der);
          copy[i]! ^= x;
          const r = parseOrCsrError(copy);
          if (!(r instanceof CsrError))
            assert.equal(r.signatureValid, false, `byte ${i} ^ ${x} still verifies`);
        }
      }
    }
  });

  test('random and structured-random buffers never throw anything but CsrError', () => {
    const random = prng(20260501);
    for (let i = 0; i < 3000; i++) {
      const len = random(1)[0]! * 2;
      assert.ok(parseOrCsrError(random(len)) instanceof CsrError);
    }
    // Random content behind a plausible outer header gets further into the parser.
    for (let i = 0; i < 3000; i++) {
      const body = random(random(1)[0]!);
      assert.ok(parseOrCsrError(sequence(body)) instanceof CsrError);
      assert.ok(
        parseOrCsrError(sequence(sequence(body), sequence(randomBytes(4)), bitString(body))) instanceof
          CsrError,
      );
    }
  });
});

describe('describeKey', () => {
  test('reports type, size and curve', () => {
    assert.deepEqual(describeKey(createPublicKey(k.rsa)), {
      type: 'rsa',
      bits: 2048,
      publicExponent: 65537n,
    });
    assert.deepEqual(describeKey(createPublicKey(k.p256)), { type: 'ec', curve: 'P-256', bits: 256 });
    assert.deepEqual(describeKey(createPublicKey(k.p384)), { type: 'ec', curve: 'P-384', bits: 384 });
    assert.deepEqual(describeKey(createPublicKey(k.p521)), { type: 'ec', curve: 'P-521', bits: 521 });
    assert.deepEqual(describeKey(createPublicKey(k.ed25519)), { type: 'ed25519' });
    assert.deepEqual(describeKey(createPublicKey(k.ed448)), { type: 'ed448' });
    const k1 = generateKeyPairSync('ec', { namedCurve: 'secp256k1' }).publicKey;
    assert.deepEqual(describeKey(k1), { type: 'ec', curve: 'secp256k1' });
    const pss = generateKeyPairSync('rsa-pss', { modulusLength: 2048 }).publicKey;
    assert.equal(describeKey(pss).type, 'rsa-pss');
    assert.equal(describeKey(pss).bits, 2048);
  });

  test('parseCsr hands back a key describeKey understands', () => {
    assert.deepEqual(describeKey(parseCsr(csr(k.p384)).publicKey), { type: 'ec', curve: 'P-384', bits: 384 });
  });
});
