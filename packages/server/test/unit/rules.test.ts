import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkContacts } from '../../src/core/contacts.ts';
import { canonicalIp, checkDnsName, parseOrderIdentifiers } from '../../src/core/identifiers.ts';
import { authorizationStatus, orderStatus } from '../../src/core/order-status.ts';
import { parseRevocationReason } from '../../src/core/revocation.ts';
import { parseTimestamp } from '../../src/core/timestamp.ts';
import type { Authorization, Order } from '../../src/core/types.ts';
import { typeOf } from './support.ts';

describe('identifiers (RFC 8555 §7.1.3, RFC 8738)', () => {
  it('accepts LDH names and refuses everything else', () => {
    for (const ok of ['example.com', 'a.b.c.example', 'xn--bcher-kva.example', 'localhost', 'a-1.example']) {
      assert.equal(checkDnsName(ok), undefined, ok);
    }
    for (const bad of [
      '',
      'com',
      'example.com.',
      '-a.example',
      'a-.example',
      'a_b.example',
      'ab--c.example',
      `${'a'.repeat(64)}.com`,
      'x.123',
      `${'a.'.repeat(127)}com`,
    ]) {
      assert.notEqual(checkDnsName(bad), undefined, bad);
    }
  });

  it('canonicalizes IP addresses (RFC 5952) and refuses non-canonical IPv4', () => {
    assert.equal(canonicalIp('127.0.0.1'), '127.0.0.1');
    assert.equal(canonicalIp('2001:DB8:0:0:0:0:0:1'), '2001:db8::1');
    assert.equal(canonicalIp('::ffff:1.2.3.4'), '::ffff:102:304');
    assert.equal(canonicalIp('010.0.0.1'), undefined);
    assert.equal(canonicalIp('example.com'), undefined);
  });

  it('normalizes, deduplicates, and reports each bad identifier separately', () => {
    const { identifiers, errors } = parseOrderIdentifiers(
      [
        { type: 'dns', value: 'WWW.Example.COM' },
        { type: 'dns', value: 'www.example.com' },
        { type: 'dns', value: '*.example.com' },
        { type: 'ip', value: '2001:db8::0:1' },
        { type: 'dns', value: 'a.*.example.com' },
        { type: 'dns', value: '10.0.0.1' },
        { type: 'email', value: 'x@example.com' },
      ],
      100,
    );
    assert.deepEqual(
      identifiers.map((i) => [i.identifier.value, i.authzValue, i.wildcard]),
      [
        ['www.example.com', 'www.example.com', false],
        ['*.example.com', 'example.com', true],
        ['2001:db8::1', '2001:db8::1', false],
      ],
    );
    assert.deepEqual(
      errors.map((e) => [e.type, e.identifier?.value]),
      [
        ['rejectedIdentifier', 'a.*.example.com'],
        ['rejectedIdentifier', '10.0.0.1'],
        ['unsupportedIdentifier', 'x@example.com'],
      ],
    );
  });

  it('refuses an empty, malformed or oversized identifier list', () => {
    assert.equal(
      typeOf(() => parseOrderIdentifiers([], 10)),
      'malformed',
    );
    assert.equal(
      typeOf(() => parseOrderIdentifiers('x', 10)),
      'malformed',
    );
    assert.equal(
      typeOf(() => parseOrderIdentifiers([{ type: 'dns' }], 10)),
      'malformed',
    );
    const many = Array.from({ length: 3 }, (_, i) => ({ type: 'dns', value: `n${i}.example.com` }));
    assert.equal(
      typeOf(() => parseOrderIdentifiers(many, 2)),
      'rejectedIdentifier',
    );
  });
});

describe('order and authorization status (RFC 8555 §7.1.6)', () => {
  const now = 1_000_000;
  const authz = (status: Authorization['status'], expiresAt = now + 1000): Authorization => ({
    id: status,
    accountId: 'a',
    identifier: { type: 'dns', value: 'example.com' },
    wildcard: false,
    status,
    expiresAt,
    createdAt: 0,
    challenges: [],
  });
  const order = (status: Order['status'], n: number, expiresAt = now + 1000): Order => ({
    id: 'o',
    accountId: 'a',
    status,
    identifiers: [],
    authorizationIds: Array.from({ length: n }, (_, i) => String(i)),
    notBefore: null,
    notAfter: null,
    expiresAt,
    error: null,
    certificateId: null,
    profile: null,
    createdAt: 0,
  });

  it('derives expired authorizations', () => {
    assert.equal(authorizationStatus(authz('pending', now), now), 'expired');
    assert.equal(authorizationStatus(authz('valid', now - 1), now), 'expired');
    assert.equal(authorizationStatus(authz('invalid', now - 1), now), 'invalid');
    assert.equal(authorizationStatus(authz('valid'), now), 'valid');
  });

  it('derives pending, ready and invalid from the authorizations', () => {
    assert.equal(orderStatus(order('pending', 2), [authz('valid'), authz('pending')], now), 'pending');
    assert.equal(orderStatus(order('pending', 2), [authz('valid'), authz('valid')], now), 'ready');
    assert.equal(orderStatus(order('pending', 2), [authz('valid'), authz('invalid')], now), 'invalid');
    assert.equal(orderStatus(order('pending', 2), [authz('valid'), authz('deactivated')], now), 'invalid');
    assert.equal(orderStatus(order('pending', 1), [authz('valid', now - 1)], now), 'invalid');
    assert.equal(
      orderStatus(order('pending', 2), [authz('valid')], now),
      'pending',
      'a missing authorization is not valid',
    );
  });

  it('an expired order is invalid unless it already has its certificate', () => {
    assert.equal(orderStatus(order('pending', 1, now), [authz('valid')], now), 'invalid');
    assert.equal(orderStatus(order('valid', 1, now), [authz('valid')], now), 'valid');
    assert.equal(orderStatus(order('processing', 1), [authz('valid')], now), 'processing');
  });
});

describe('contacts (RFC 8555 §7.3)', () => {
  it('accepts mailto and refuses other schemes, bad addresses, header fields, too many', () => {
    assert.deepEqual(checkContacts(['mailto:a@example.com'], ['mailto'], 5), ['mailto:a@example.com']);
    assert.deepEqual(checkContacts(undefined, ['mailto'], 5), []);
    assert.equal(
      typeOf(() => checkContacts(['tel:+1'], ['mailto'], 5)),
      'unsupportedContact',
    );
    assert.equal(
      typeOf(() => checkContacts(['mailto:a@b'], ['mailto'], 5)),
      'invalidContact',
    );
    assert.equal(
      typeOf(() => checkContacts(['mailto:a@example.com,b@example.com'], ['mailto'], 5)),
      'invalidContact',
    );
    assert.equal(
      typeOf(() => checkContacts(['mailto:a@example.com?cc=x'], ['mailto'], 5)),
      'invalidContact',
    );
    assert.equal(
      typeOf(() => checkContacts(['nonsense'], ['mailto'], 5)),
      'invalidContact',
    );
    assert.equal(
      typeOf(() => checkContacts('mailto:a@example.com', ['mailto'], 5)),
      'malformed',
    );
    assert.equal(
      typeOf(() => checkContacts(['mailto:a@example.com', 'mailto:b@example.com'], ['mailto'], 1)),
      'invalidContact',
    );
  });
});

describe('revocation reasons and timestamps', () => {
  it('accepts the subscriber reasons only (RFC 5280 §5.3.1)', () => {
    for (const ok of [0, 1, 3, 4, 5, 9]) assert.equal(parseRevocationReason(ok), ok);
    assert.equal(parseRevocationReason(undefined), 0);
    for (const bad of [2, 6, 7, 8, 10, 11, -1])
      assert.equal(
        typeOf(() => parseRevocationReason(bad)),
        'badRevocationReason',
      );
    assert.equal(
      typeOf(() => parseRevocationReason('1')),
      'malformed',
    );
  });

  it('parses RFC 3339 timestamps only', () => {
    assert.equal(parseTimestamp('2026-01-02T03:04:05Z', 'notBefore'), Date.UTC(2026, 0, 2, 3, 4, 5));
    assert.equal(
      parseTimestamp('2026-01-02T03:04:05.5+01:00', 'notBefore'),
      Date.UTC(2026, 0, 2, 2, 4, 5, 500),
    );
    assert.equal(parseTimestamp(undefined, 'notBefore'), null);
    assert.equal(
      typeOf(() => parseTimestamp('2026-01-02', 'notBefore')),
      'malformed',
    );
    assert.equal(
      typeOf(() => parseTimestamp(12, 'notBefore')),
      'malformed',
    );
  });
});
