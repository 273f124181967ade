import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createPublicKey, type KeyObject, verify } from 'node:crypto';
import { test } from 'node:test';
import { ipToBytes, oid, tlv } from '@akamu/protocol';
import { createCsr, generateKey, KEY_SPECS } from '../src/index.ts';

interface Node {
  tag: number;
  /** The whole TLV. */
  raw: Buffer;
  value: Buffer;
}

/** A minimal DER reader, enough to take our CSRs apart independently of the encoder. */
function read(buf: Buffer, offset = 0): Node {
  const tag = buf[offset]!;
  let length = buf[offset + 1]!;
  let header = 2;
  if (length & 0x80) {
    const n = length & 0x7f;
    length = 0;
    for (let i = 0; i < n; i++) length = length * 256 + buf[offset + 2 + i]!;
    header += n;
  }
  return {
    tag,
    raw: buf.subarray(offset, offset + header + length),
    value: buf.subarray(offset + header, offset + header + length),
  };
}

function children(node: Node): Node[] {
  const out: Node[] = [];
  for (let offset = 0; offset < node.value.length; ) {
    const child = read(node.value, offset);
    out.push(child);
    offset += child.raw.length;
  }
  return out;
}

function parseCsr(der: Buffer) {
  const root = read(der);
  assert.equal(root.raw.length, der.length, 'no trailing bytes');
  const [info, algorithm, signature] = children(root) as [Node, Node, Node];
  const [version, subject, spki, attributes] = children(info) as [Node, Node, Node, Node];
  assert.deepEqual(version.raw, Buffer.from([2, 1, 0]));
  assert.equal(attributes.tag, 0xa0);
  assert.equal(signature.tag, 0x03);
  assert.equal(signature.value[0], 0, 'no unused bits');
  return { info, algorithm, signature: signature.value.subarray(1), subject, spki, attributes };
}

function verifyCsr(der: Buffer, key: KeyObject, digest: string | null): ReturnType<typeof parseCsr> {
  const csr = parseCsr(der);
  assert.deepEqual(csr.spki.raw, createPublicKey(key).export({ type: 'spki', format: 'der' }));
  assert.ok(verify(digest, csr.info.raw, createPublicKey(key), csr.signature), 'signature verifies');
  return csr;
}

test('DER basics: OID and long-form lengths', () => {
  assert.equal(oid('1.2.840.113549.1.9.14').toString('hex'), '06092a864886f70d01090e');
  assert.equal(oid('2.5.29.17').toString('hex'), '0603551d11');
  assert.equal(tlv(0x04, Buffer.alloc(200)).subarray(0, 3).toString('hex'), '0481c8');
  assert.equal(tlv(0x04, Buffer.alloc(300)).subarray(0, 4).toString('hex'), '0482012c');
});

test('createCsr signs with each key type and the matching algorithm', () => {
  const cases = [
    ['ec:P-256', 'sha256', '06082a8648ce3d040302'],
    ['ec:P-384', 'sha384', '06082a8648ce3d040303'],
    ['ec:P-521', 'sha512', '06082a8648ce3d040304'],
    ['rsa:2048', 'sha256', '06092a864886f70d01010b0500'],
    ['ed25519', null, '06032b6570'],
    ['ed448', null, '06032b6571'],
    ...(KEY_SPECS.includes('ml-dsa-65')
      ? ([
          ['ml-dsa-44', null, '0609608648016503040311'],
          ['ml-dsa-65', null, '0609608648016503040312'],
          ['ml-dsa-87', null, '0609608648016503040313'],
        ] as const)
      : []),
  ] as const;
  for (const [spec, digest, algorithm] of cases) {
    const key = generateKey(spec);
    const csr = verifyCsr(createCsr({ key, dnsNames: ['example.com'] }), key, digest);
    assert.equal(csr.algorithm.value.toString('hex'), algorithm, spec);
  }
});

test('createCsr: subject CN and subjectAltName with dNSName and iPAddress entries', () => {
  const key = generateKey('ec:P-256');
  const der = createCsr({
    key,
    commonName: 'example.com',
    dnsNames: ['example.com', '*.example.org'],
    ipAddresses: ['192.0.2.1', '2001:db8::1'],
  });
  const csr = verifyCsr(der, key, 'sha256');
  assert.ok(
    csr.subject.raw.includes(
      Buffer.concat([oid('2.5.4.3'), Buffer.from([0x0c, 11]), Buffer.from('example.com')]),
    ),
  );

  const [attribute] = children(csr.attributes) as [Node];
  const [type, values] = children(attribute) as [Node, Node];
  assert.deepEqual(type.raw, oid('1.2.840.113549.1.9.14'));
  const [extensions] = children(values) as [Node];
  const [san] = children(extensions) as [Node];
  const sanParts = children(san);
  assert.deepEqual(sanParts[0]!.raw, oid('2.5.29.17'));
  assert.equal(sanParts.length, 2, 'not critical when there is a subject');
  const names = children(read(sanParts[1]!.value)).map((n) => [n.tag, n.value.toString('hex')]);
  assert.deepEqual(names, [
    [0x82, Buffer.from('example.com').toString('hex')],
    [0x82, Buffer.from('*.example.org').toString('hex')],
    [0x87, 'c0000201'],
    [0x87, '20010db8000000000000000000000001'],
  ]);
});

test('createCsr without a subject marks subjectAltName critical (RFC 5280 §4.2.1.6)', () => {
  const key = generateKey('ed25519');
  const csr = verifyCsr(createCsr({ key, ipAddresses: ['127.0.0.1'] }), key, null);
  assert.deepEqual(csr.subject.raw, Buffer.from([0x30, 0x00]));
  const san = children(children(children(children(children(csr.attributes)[0]!)[1]!)[0]!)[0]!);
  assert.deepEqual(san[1]!.raw, Buffer.from([0x01, 0x01, 0xff]));
});

test('createCsr with mustStaple requests the TLS Feature status_request (RFC 7633), as openssl reads it', () => {
  const key = generateKey('ec:P-256');
  const der = createCsr({ key, dnsNames: ['staple.example.com'], mustStaple: true });
  verifyCsr(der, key, 'sha256');
  const text = spawnSync('openssl', ['req', '-inform', 'DER', '-noout', '-text'], {
    input: der,
    encoding: 'utf8',
  });
  assert.equal(text.status, 0, text.stderr);
  assert.match(text.stdout, /TLS Feature:\s*\n\s*status_request/);
  assert.match(text.stdout, /DNS:staple\.example\.com/);
  // Without it, no TLS Feature.
  const plain = spawnSync('openssl', ['req', '-inform', 'DER', '-noout', '-text'], {
    input: createCsr({ key, dnsNames: ['staple.example.com'] }),
    encoding: 'utf8',
  });
  assert.doesNotMatch(plain.stdout, /TLS Feature/);
});

test('createCsr refuses empty requests and bad names', () => {
  const key = generateKey('ec:P-256');
  assert.throws(() => createCsr({ key }), TypeError);
  assert.throws(() => createCsr({ key, commonName: 'x'.repeat(65) }), TypeError);
  assert.throws(() => createCsr({ key, dnsNames: ['bad name'] }), TypeError);
  assert.throws(() => createCsr({ key, ipAddresses: ['300.1.1.1'] }), TypeError);
  assert.throws(() => createCsr({ key: createPublicKey(key), dnsNames: ['a.example'] }), TypeError);
});

test('ipToBytes encodes IPv4, IPv6 and IPv4-mapped IPv6', () => {
  assert.equal(ipToBytes('10.1.2.3').toString('hex'), '0a010203');
  assert.equal(ipToBytes('::').toString('hex'), '0'.repeat(32));
  assert.equal(ipToBytes('::1').toString('hex'), `${'0'.repeat(30)}01`);
  assert.equal(ipToBytes('fe80::').toString('hex'), `fe80${'0'.repeat(28)}`);
  assert.equal(ipToBytes('2001:DB8:0:0:1::2').toString('hex'), '20010db8000000000001000000000002');
  assert.equal(ipToBytes('::ffff:192.0.2.1').toString('hex'), '00000000000000000000ffffc0000201');
  assert.equal(ipToBytes('1:2:3:4:5:6:7:8').toString('hex'), '00010002000300040005000600070008');
});
