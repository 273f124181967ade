import assert from 'node:assert/strict';
import { isIP } from 'node:net';
import { test } from 'node:test';
import { canonicalIp, ipFromBytes, ipToBytes, tryParseIp } from '@akamu/protocol';
import { prng } from './support.ts';

/** The WHATWG URL serializer is the reference for canonical IPv6 text. */
function urlCanonical(v6: string): string {
  return new URL(`http://[${v6}]/`).hostname.slice(1, -1);
}

test('IPv4 text <-> 4 octets', () => {
  assert.equal(ipToBytes('192.0.2.1').toString('hex'), 'c0000201');
  assert.equal(ipFromBytes(Buffer.from([0, 0, 0, 0])), '0.0.0.0');
  assert.equal(canonicalIp('255.255.255.255'), '255.255.255.255');
});

test('IPv6 forms canonicalise like the URL parser (RFC 5952)', () => {
  const forms = [
    '::',
    '::1',
    '1::',
    '2001:DB8:0:0:0:0:0:1',
    '2001:db8::0:1',
    '2001:0db8:0000:0000:0001:0000:0000:0001',
    '2001:db8:0:1:1:1:1:1',
    '2001:0:0:1:0:0:0:1',
    '1:0:0:2:0:0:3:4',
    'fe80::1:2',
    '::ffff:192.0.2.1',
    '::192.0.2.1',
    '64:ff9b::198.51.100.7',
    '1:2:3:4:5:6:7:8',
    'FFFF:FFFF:FFFF:FFFF:FFFF:FFFF:FFFF:FFFF',
  ];
  for (const form of forms) {
    assert.equal(canonicalIp(form), urlCanonical(form), form);
    assert.equal(ipToBytes(form).length, 16, form);
  }
  assert.equal(canonicalIp('2001:DB8:0:0:0:0:0:1'), '2001:db8::1');
});

test('random addresses format exactly as the URL parser does', () => {
  const random = prng(0xacab);
  for (let i = 0; i < 2000; i++) {
    const b = random(16);
    // Zero out random groups so that compression cases (ties, edges) are common.
    const mask = random(1)[0]!;
    for (let g = 0; g < 8; g++) if (mask & (1 << g)) b.writeUInt16BE(0, g * 2);
    const full = Array.from({ length: 8 }, (_, g) => b.readUInt16BE(g * 2).toString(16)).join(':');
    const text = ipFromBytes(b);
    assert.equal(text, urlCanonical(full), full);
    assert.deepEqual(ipToBytes(text), b);
  }
});

test('invalid text is rejected, in agreement with node:net for non-zoned forms', () => {
  const invalid = [
    '',
    '1.2.3',
    '1.2.3.4.5',
    '256.1.1.1',
    '01.2.3.4',
    '1.2.3.-4',
    '1:2:3:4:5:6:7:8:9',
    '1:2:3:4:5:6:7',
    '1::2::3',
    ':::',
    ':1::2',
    '1::2:',
    '12345::',
    'g::1',
    '::ffff:1.2.3',
    '1:2:3:4:5:6:7:1.2.3.4',
    '1:2:3:4:5:6:7::1.2.3.4',
    '[::1]',
    'example.com',
    ' 1.2.3.4',
  ];
  for (const text of invalid) {
    assert.equal(tryParseIp(text), undefined, text);
    assert.equal(isIP(text), 0, `node:net agrees that ${text} is invalid`);
    assert.throws(() => ipToBytes(text), TypeError);
  }
  // node:net accepts zone ids; a certificate cannot carry them.
  assert.equal(tryParseIp('fe80::1%eth0'), undefined);
  assert.throws(() => ipFromBytes(new Uint8Array(5)), RangeError);
});
