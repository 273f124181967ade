import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  bitString,
  boolean,
  DerError,
  decodeOid,
  decodeSmallInteger,
  explicit,
  generalizedTime,
  ia5String,
  implicit,
  integer,
  NULL,
  namedBits,
  octetString,
  oid,
  printableString,
  readChildren,
  readTlv,
  readWhole,
  sequence,
  setOf,
  TAG,
  time,
  tlv,
  utcTime,
  utf8String,
} from '@akamu/protocol';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const bytes = (h: string) => Buffer.from(h, 'hex');

describe('DER encoder', () => {
  test('INTEGER from numbers and bigints is minimal two’s complement', () => {
    const cases: [number | bigint, string][] = [
      [0, '020100'],
      [1, '020101'],
      [127, '02017f'],
      [128, '02020080'],
      [255, '020200ff'],
      [256, '02020100'],
      [-1, '0201ff'],
      [-128, '020180'],
      [-129, '0202ff7f'],
      [2n ** 64n, '0209010000000000000000'],
    ];
    for (const [value, expected] of cases) assert.equal(hex(integer(value)), expected, `integer(${value})`);
  });

  test('INTEGER from bytes is a positive magnitude without redundant zeros', () => {
    assert.equal(hex(integer(bytes('80'))), '02020080');
    assert.equal(hex(integer(bytes('7f'))), '02017f');
    assert.equal(hex(integer(bytes('000001'))), '020101');
    assert.equal(hex(integer(bytes('0080'))), '02020080');
    assert.equal(hex(integer(bytes('0000'))), '020100');
    assert.equal(hex(integer(new Uint8Array(0))), '020100');
    const serial = bytes('ff'.repeat(16));
    assert.equal(hex(integer(serial)), `021100${'ff'.repeat(16)}`);
  });

  test('OBJECT IDENTIFIER encodes known values and round-trips through decodeOid', () => {
    assert.equal(hex(oid('1.2.840.113549.1.1.11')), '06092a864886f70d01010b');
    assert.equal(hex(oid('2.5.29.17')), '0603551d11');
    assert.equal(hex(oid('1.3.101.112')), '06032b6570');
    assert.equal(hex(oid('2.999.3')), '0603883703');
    for (const dotted of [
      '0.9.2342.19200300.100.1.1',
      '1.3.6.1.5.5.7.3.1',
      '2.999.3',
      '2.25.329800735698586629295641978511506172918',
    ]) {
      const enc = oid(dotted);
      assert.equal(decodeOid(enc.subarray(2)), dotted);
    }
  });

  test('OBJECT IDENTIFIER rejects malformed text', () => {
    for (const bad of ['', '1', '3.1', '1.40', '1..2', '1.02', 'a.b', '1.2.']) {
      assert.throws(() => oid(bad), TypeError, bad);
    }
  });

  test('lengths use the short form below 128 and minimal long forms above', () => {
    assert.equal(hex(tlv(TAG.OCTET_STRING, new Uint8Array(127)).subarray(0, 2)), '047f');
    assert.equal(hex(tlv(TAG.OCTET_STRING, new Uint8Array(128)).subarray(0, 3)), '048180');
    assert.equal(hex(tlv(TAG.OCTET_STRING, new Uint8Array(255)).subarray(0, 3)), '0481ff');
    assert.equal(hex(tlv(TAG.OCTET_STRING, new Uint8Array(256)).subarray(0, 4)), '04820100');
    assert.equal(hex(tlv(TAG.OCTET_STRING, new Uint8Array(65536)).subarray(0, 5)), '0483010000');
    const big = tlv(TAG.OCTET_STRING, new Uint8Array(300).fill(7));
    assert.equal(big.length, 304);
    const t = readTlv(big);
    assert.deepEqual([t.headerLength, t.length, t.end], [4, 300, 304]);
  });

  test('SEQUENCE, SET OF (sorted), context tags and simple types', () => {
    assert.equal(hex(sequence()), '3000');
    assert.equal(hex(sequence(integer(1), NULL)), '30050201010500');
    assert.equal(hex(setOf(integer(3), integer(1), integer(2))), '3109020101020102020103');
    assert.equal(hex(explicit(0, integer(2))), 'a003020102');
    assert.equal(hex(implicit(2, Buffer.from('a.example'))), '8209612e6578616d706c65');
    assert.equal(hex(implicit(0, integer(1), true)), 'a003020101');
    assert.equal(hex(boolean(true)), '0101ff');
    assert.equal(hex(boolean(false)), '010100');
    assert.equal(hex(octetString(bytes('0102'))), '04020102');
    assert.equal(hex(bitString(bytes('00ff'))), '03030000ff');
    assert.equal(hex(utf8String('é')), '0c02c3a9');
    assert.equal(hex(printableString('Ab 1')), '130441622031');
    assert.equal(hex(ia5String('a@b')), '1603614062');
    assert.throws(() => printableString('*.example'), TypeError);
    assert.throws(() => ia5String('é'), TypeError);
  });

  test('named bit strings drop trailing zero bits (KeyUsage encodings)', () => {
    assert.equal(hex(namedBits([0])), '03020780');
    assert.equal(hex(namedBits([0, 2])), '030205a0');
    assert.equal(hex(namedBits([5, 6])), '03020106');
    assert.equal(hex(namedBits([0, 5, 6])), '03020186');
    assert.equal(hex(namedBits([8])), '0303070080');
    assert.equal(hex(namedBits([])), '030100');
  });

  test('UTCTime through 2049, GeneralizedTime from 2050 (RFC 5280 §4.1.2.5)', () => {
    const text = (b: Buffer) => b.subarray(2).toString('latin1');
    const end2049 = new Date('2049-12-31T23:59:59.999Z');
    assert.equal(time(end2049)[0], TAG.UTC_TIME);
    assert.equal(text(time(end2049)), '491231235959Z');
    const start2050 = new Date('2050-01-01T00:00:00Z');
    assert.equal(time(start2050)[0], TAG.GENERALIZED_TIME);
    assert.equal(text(time(start2050)), '20500101000000Z');
    assert.equal(text(time(new Date('1950-01-01T00:00:00Z'))), '500101000000Z');
    assert.equal(time(new Date('1949-12-31T23:59:59Z'))[0], TAG.GENERALIZED_TIME);
    assert.equal(text(utcTime(new Date('2026-03-04T05:06:07.890Z'))), '260304050607Z');
    assert.equal(text(generalizedTime(new Date('2026-03-04T05:06:07Z'))), '20260304050607Z');
    assert.throws(() => utcTime(start2050), RangeError);
    assert.throws(() => time(new Date(Number.NaN)), RangeError);
  });
});

describe('DER reader', () => {
  test('reads nested structures with exact offsets', () => {
    const inner = octetString(bytes('aabbcc'));
    const der = sequence(integer(5), inner, sequence());
    const top = readWhole(der, TAG.SEQUENCE, 'test');
    assert.deepEqual(
      { start: top.start, headerLength: top.headerLength, contentStart: top.contentStart, end: top.end },
      { start: 0, headerLength: 2, contentStart: 2, end: der.length },
    );
    const kids = readChildren(der, top);
    assert.deepEqual(
      kids.map((k) => k.tag),
      [TAG.INTEGER, TAG.OCTET_STRING, TAG.SEQUENCE],
    );
    assert.equal(hex(der.subarray(kids[1]!.start, kids[1]!.end)), hex(inner));
    assert.equal(hex(der.subarray(kids[1]!.contentStart, kids[1]!.end)), 'aabbcc');
    assert.deepEqual(readChildren(der, kids[2]!), []);
    assert.equal(decodeSmallInteger(der.subarray(kids[0]!.contentStart, kids[0]!.end)), 5);
  });

  test('rejects truncated, indefinite, non-minimal and oversized lengths', () => {
    const bad: [string, RegExp][] = [
      ['', /truncated/],
      ['30', /truncated/],
      ['3004020101', /truncated/],
      ['3080020101 0000', /indefinite/],
      ['308105020101', /non-minimal/],
      ['30820005020101', /non-minimal/],
      ['3085000000000001', /too large/],
      ['3084ffffffff', /truncated/],
      ['3f0100', /high tag/],
      ['3082', /truncated/],
    ];
    for (const [h, re] of bad) {
      assert.throws(
        () => readTlv(bytes(h.replace(/ /g, ''))),
        (e: unknown) => e instanceof DerError && re.test(e.message),
        h,
      );
    }
  });

  test('readWhole refuses trailing data and wrong tags; readChildren refuses primitives', () => {
    assert.throws(() => readWhole(bytes('300000'), TAG.SEQUENCE, 'x'), /trailing data/);
    assert.throws(() => readWhole(bytes('3100'), TAG.SEQUENCE, 'x'), /expected x/);
    assert.throws(() => readChildren(bytes('020101'), readTlv(bytes('020101'))), DerError);
    // A child that overruns its parent is truncated even if the buffer continues.
    const der = bytes('3003020201ff');
    assert.throws(() => readChildren(der, readTlv(der)), /truncated/);
  });

  test('decodeOid and decodeSmallInteger reject malformed content', () => {
    assert.throws(() => decodeOid(new Uint8Array(0)), DerError);
    assert.throws(() => decodeOid(bytes('2a86')), /truncated/);
    assert.throws(() => decodeOid(bytes('2a8001')), /non-minimal/);
    assert.throws(() => decodeSmallInteger(new Uint8Array(0)), DerError);
    assert.throws(() => decodeSmallInteger(bytes('0001')), /non-minimal/);
    assert.throws(() => decodeSmallInteger(bytes('80')), /negative/);
    assert.throws(() => decodeSmallInteger(bytes('01000000000000')), /too large/);
    assert.equal(decodeSmallInteger(bytes('0080')), 128);
  });
});
