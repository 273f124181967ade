import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { integer, octetString, sequence } from '@akamu/protocol';
import {
  OID_PE_TLSFEATURE,
  requestedTlsFeatures,
  TLS_FEATURE_STATUS_REQUEST,
  tlsFeatureExtension,
} from '../../src/core/tls-feature.ts';
import { AcmeError } from '../../src/errors.ts';

const requested = (value: Buffer) => [{ oid: OID_PE_TLSFEATURE, value }];
const badCsr = (detail: RegExp) => (e: unknown) =>
  e instanceof AcmeError && e.type === 'badCSR' && detail.test(e.message);

/** RFC 7633 §4.1: Features ::= SEQUENCE OF INTEGER; only status_request (5) is issued. */
describe('requestedTlsFeatures', () => {
  it('is undefined without the extension, and [5] for status_request (repeated or not)', () => {
    assert.equal(requestedTlsFeatures([]), undefined);
    assert.equal(requestedTlsFeatures([{ oid: '2.5.29.17', value: Buffer.alloc(2) }]), undefined);
    assert.deepEqual(requestedTlsFeatures(requested(sequence(integer(5)))), [TLS_FEATURE_STATUS_REQUEST]);
    assert.deepEqual(requestedTlsFeatures(requested(sequence(integer(5), integer(5)))), [5]);
  });

  it('refuses other features, an empty list and malformed values as badCSR', () => {
    assert.throws(() => requestedTlsFeatures(requested(sequence(integer(17)))), badCsr(/TLS feature 17/));
    assert.throws(() => requestedTlsFeatures(requested(sequence(integer(5), integer(17)))), badCsr(/17/));
    assert.throws(() => requestedTlsFeatures(requested(sequence())), badCsr(/lists no feature/));
    assert.throws(() => requestedTlsFeatures(requested(octetString(Buffer.from([5])))), badCsr(/malformed/));
    assert.throws(
      () => requestedTlsFeatures(requested(Buffer.from([0x30, 0x05, 0x02]))),
      badCsr(/malformed/),
    );
    assert.throws(
      () => requestedTlsFeatures(requested(Buffer.concat([sequence(integer(5)), Buffer.from([0])]))),
      badCsr(/malformed/),
    );
    assert.throws(() => requestedTlsFeatures(requested(sequence(integer(-5)))), badCsr(/malformed/));
  });

  it('writes the non-critical extension: SEQUENCE { OID, OCTET STRING { SEQUENCE { INTEGER 5 } } }', () => {
    assert.equal(
      tlsFeatureExtension([5]).toString('hex'),
      '3011' + '06082b06010505070118' + '0405' + '3003' + '020105',
    );
  });
});
