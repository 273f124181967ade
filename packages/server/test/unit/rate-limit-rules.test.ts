import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseConfig } from '../../src/config.ts';
import {
  AddressList,
  nameSetKey,
  registeredDomain,
  retryAfterSeconds,
} from '../../src/core/rate-limit-rules.ts';

const dns = (value: string) => ({ type: 'dns', value });

describe('rate-limit rules (docs/operations.md "Rate limits")', () => {
  it('a registered domain is the last two labels, or one label below a configured public suffix', () => {
    assert.equal(registeredDomain(dns('www.eng.example.com'), []), 'example.com');
    assert.equal(registeredDomain(dns('*.eng.example.com'), []), 'example.com');
    assert.equal(registeredDomain(dns('example.com'), []), 'example.com');
    assert.equal(registeredDomain(dns('localhost'), []), 'localhost');
    assert.equal(registeredDomain(dns('WWW.Example.COM.'), []), 'example.com');
    assert.equal(registeredDomain(dns('www.shop.co.uk'), ['co.uk']), 'shop.co.uk');
    assert.equal(registeredDomain(dns('co.uk'), ['co.uk']), 'co.uk');
    // The longest matching suffix wins; a suffix only matches at a label boundary.
    assert.equal(
      registeredDomain(dns('a.team.corp.example'), ['example', 'corp.example']),
      'team.corp.example',
    );
    assert.equal(registeredDomain(dns('www.notco.uk'), ['co.uk']), 'notco.uk');
    assert.equal(registeredDomain({ type: 'ip', value: '192.0.2.1' }, []), 'ip:192.0.2.1');
  });

  it('duplicate certificates share the set of names whatever their order and case', () => {
    assert.equal(
      nameSetKey([dns('b.example'), dns('A.example')]),
      nameSetKey([dns('a.example'), dns('b.example')]),
    );
    assert.equal(nameSetKey([dns('a.example'), dns('a.example')]), nameSetKey([dns('a.example')]));
    assert.notEqual(nameSetKey([dns('a.example')]), nameSetKey([dns('a.example'), dns('b.example')]));
    assert.notEqual(nameSetKey([dns('1.2.3.4')]), nameSetKey([{ type: 'ip', value: '1.2.3.4' }]));
  });

  it('address lists match addresses, CIDR blocks and IPv4-mapped IPv6', () => {
    const list = new AddressList(['127.0.0.0/8', '::1', '10.1.2.3', '2001:db8::/32']);
    assert.ok(list.has('127.0.0.1'));
    assert.ok(list.has('127.255.0.9'));
    assert.ok(list.has('::ffff:127.0.0.1'));
    assert.ok(list.has('::1'));
    assert.ok(list.has('10.1.2.3'));
    assert.ok(list.has('2001:db8:1::5'));
    assert.ok(!list.has('10.1.2.4'));
    assert.ok(!list.has('192.0.2.1'));
    assert.ok(!list.has(undefined));
    assert.ok(!list.has('not-an-ip'));
    assert.ok(!new AddressList([]).has('127.0.0.1'));
    assert.throws(() => new AddressList(['localhost']), /not an IP address/);
    assert.throws(() => new AddressList(['10.0.0.0/33']), /prefix length/);
  });

  it('Retry-After is whole seconds, at least one', () => {
    assert.equal(retryAfterSeconds(10_000, 0), 10);
    assert.equal(retryAfterSeconds(10_001, 0), 11);
    assert.equal(retryAfterSeconds(0, 5), 1);
  });

  it('[rate_limits] and [metrics] have safe defaults and refuse bad values naming the key', () => {
    const c = parseConfig({});
    assert.deepEqual(c.rate_limits.exempt_ips, ['127.0.0.0/8', '::1']);
    assert.equal(c.rate_limits.new_accounts_per_ip_window, 3 * 3_600_000);
    assert.equal(c.rate_limits.certificates_per_domain_window, 7 * 86_400_000);
    assert.equal(c.metrics.enabled, true);
    assert.equal(c.metrics.path, '/metrics');
    assert.throws(() => parseConfig({ rate_limits: { exempt_ips: ['nope'] } }), /rate_limits\.exempt_ips/);
    assert.throws(
      () => parseConfig({ rate_limits: { failed_validations: -1 } }),
      /rate_limits\.failed_validations/,
    );
    assert.throws(() => parseConfig({ rate_limits: { policy_url: 'relative' } }), /rate_limits\.policy_url/);
    assert.throws(() => parseConfig({ metrics: { path: 'metrics' } }), /metrics\.path/);
    assert.equal(
      parseConfig({ rate_limits: { duplicate_certificates_window: '1h' } }).rate_limits
        .duplicate_certificates_window,
      3_600_000,
    );
  });
});
