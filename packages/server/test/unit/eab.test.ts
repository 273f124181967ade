import assert from 'node:assert/strict';
import { createHmac, generateKeyPairSync, hkdfSync } from 'node:crypto';
import { describe, it } from 'node:test';
import { type Jwk, jwkThumbprint, publicJwk } from '@akamu/protocol';
import { parseConfig } from '../../src/config.ts';
import {
  assertEabKeyUsable,
  checkEabBindsAccountKey,
  DERIVED_KID_PREFIX,
  deriveEabCredentials,
  isEabKeyExpired,
  parseEabHmacKey,
  parseExternalAccountBinding,
  parsePrincipal,
  verifyEabMac,
} from '../../src/core/eab.ts';
import { AcmeError } from '../../src/errors.ts';
import { isTrusted, trustedProxyList } from '../../src/wfe/routes/eab.ts';

const URL_NEW_ACCOUNT = 'https://ca.example/acme/new-account';
const b64u = (v: string | Buffer) => Buffer.from(v).toString('base64url');
const macKey = Buffer.alloc(32, 7);
const accountJwk = publicJwk(
  generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'jwk' }) as Jwk,
);
const thumbprint = jwkThumbprint(accountJwk);

function binding(
  header: Record<string, unknown> = {},
  payload: unknown = accountJwk,
  key: Buffer = macKey,
): { protected: string; payload: string; signature: string } {
  const h = { alg: 'HS256', kid: 'kid-1', url: URL_NEW_ACCOUNT, ...header };
  const prot = b64u(JSON.stringify(h));
  const pay = b64u(JSON.stringify(payload));
  const hash =
    typeof h.alg === 'string' && /^HS(256|384|512)$/.test(h.alg) ? `sha${h.alg.slice(2)}` : 'sha256';
  const sig = createHmac(hash, key).update(`${prot}.${pay}`).digest();
  return { protected: prot, payload: pay, signature: b64u(sig) };
}

function problemType(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof AcmeError, `not an AcmeError: ${e}`);
    return e.type;
  }
  assert.fail('did not throw');
}

describe('external account binding rules (RFC 8555 §7.3.4)', () => {
  it('accepts HS256, HS384 and HS512 bindings and verifies their MAC', () => {
    for (const alg of ['HS256', 'HS384', 'HS512']) {
      const eab = parseExternalAccountBinding(binding({ alg }));
      assert.equal(eab.alg, alg);
      assert.equal(eab.kid, 'kid-1');
      checkEabBindsAccountKey(eab, URL_NEW_ACCOUNT, thumbprint);
      assert.equal(verifyEabMac(eab, macKey), true);
      assert.equal(verifyEabMac(eab, Buffer.alloc(32, 8)), false);
    }
  });

  it('refuses a MAC that was changed, truncated or made with another algorithm', () => {
    const good = binding();
    const sig = Buffer.from(good.signature, 'base64url');
    sig[0] = sig[0]! ^ 1;
    assert.equal(verifyEabMac(parseExternalAccountBinding({ ...good, signature: b64u(sig) }), macKey), false);
    assert.equal(
      verifyEabMac(parseExternalAccountBinding({ ...good, signature: b64u(sig.subarray(0, 16)) }), macKey),
      false,
    );
    // An HS512 MAC presented as HS256: the lengths differ, so timingSafeEqual is never asked.
    const hs512 = binding({ alg: 'HS512' });
    const forged = binding({ alg: 'HS256' });
    assert.equal(
      verifyEabMac(parseExternalAccountBinding({ ...forged, signature: hs512.signature }), macKey),
      false,
    );
  });

  it('refuses malformed bindings as malformed', () => {
    const good = binding();
    const cases: unknown[] = [
      null,
      'a string',
      [good],
      { ...good, header: { alg: 'HS256' } },
      { signatures: [good] },
      { protected: good.protected, payload: good.payload },
      { ...good, payload: '' },
      { ...good, signature: '' },
      { ...good, protected: 'not base64url!' },
      { ...good, protected: b64u('not json') },
      { ...good, protected: b64u('[]') },
      binding({ alg: 'RS256' }),
      binding({ alg: 'none' }),
      binding({ alg: 'ES256' }),
      binding({ kid: undefined }),
      binding({ kid: 7 }),
      binding({ kid: '' }),
      binding({ url: undefined }),
      binding({ nonce: 'abc' }),
      binding({ jwk: accountJwk }),
      binding({ crit: ['exp'] }),
      binding({}, 'not an object'),
      binding({}, { kty: 'oct', k: 'abc' }),
      binding({}, { ...accountJwk, d: 'private' }),
    ];
    for (const c of cases)
      assert.equal(
        problemType(() => parseExternalAccountBinding(c)),
        'malformed',
        JSON.stringify(c),
      );
  });

  it('requires the new-account URL and the account key of the request', () => {
    const other = publicJwk(generateKeyPairSync('ed25519').publicKey.export({ format: 'jwk' }) as Jwk);
    assert.equal(
      problemType(() =>
        checkEabBindsAccountKey(
          parseExternalAccountBinding(binding({ url: `${URL_NEW_ACCOUNT}x` })),
          URL_NEW_ACCOUNT,
          thumbprint,
        ),
      ),
      'malformed',
    );
    assert.equal(
      problemType(() =>
        checkEabBindsAccountKey(parseExternalAccountBinding(binding({}, other)), URL_NEW_ACCOUNT, thumbprint),
      ),
      'malformed',
    );
    // The same key with its members in another order and an extra member is the same key (RFC 7638).
    const reordered = { y: accountJwk.y, x: accountJwk.x, crv: accountJwk.crv, kty: 'EC', use: 'sig' };
    checkEabBindsAccountKey(parseExternalAccountBinding(binding({}, reordered)), URL_NEW_ACCOUNT, thumbprint);
  });

  it('refuses used and expired keys as unauthorized', () => {
    const now = 1_000_000;
    assertEabKeyUsable({ kid: 'k', usedBy: null, expiresAt: null }, now);
    assertEabKeyUsable({ kid: 'k', usedBy: null, expiresAt: now + 1 }, now);
    assert.equal(
      problemType(() => assertEabKeyUsable({ kid: 'k', usedBy: 'acct', expiresAt: null }, now)),
      'unauthorized',
    );
    assert.equal(
      problemType(() => assertEabKeyUsable({ kid: 'k', usedBy: null, expiresAt: now }, now)),
      'unauthorized',
    );
    assert.equal(isEabKeyExpired(null, now), false);
    assert.equal(isEabKeyExpired(now - 1, now), true);
  });

  it('accepts MAC keys of 32 to 128 bytes in base64url', () => {
    assert.deepEqual(parseEabHmacKey(b64u(macKey)), macKey);
    assert.equal(parseEabHmacKey(b64u(Buffer.alloc(31))), undefined);
    assert.equal(parseEabHmacKey(b64u(Buffer.alloc(129))), undefined);
    assert.equal(parseEabHmacKey(`${b64u(macKey)}=`), undefined);
    assert.equal(parseEabHmacKey(Buffer.alloc(32).toString('base64').replace(/A/, '+')), undefined);
  });
});

describe('HKDF-derived EAB keys (RFC 5869)', () => {
  const master = Buffer.alloc(32, 42);

  it('derives a stable kid and MAC key per principal, different for each principal and secret', () => {
    const a = deriveEabCredentials(master, 'alice@EXAMPLE.ORG');
    assert.deepEqual(deriveEabCredentials(master, 'alice@EXAMPLE.ORG'), a);
    assert.ok(a.kid.startsWith(DERIVED_KID_PREFIX));
    assert.equal(a.hmacKey.length, 32);
    const b = deriveEabCredentials(master, 'bob@EXAMPLE.ORG');
    assert.notEqual(b.kid, a.kid);
    assert.notDeepEqual(b.hmacKey, a.hmacKey);
    assert.notEqual(deriveEabCredentials(Buffer.alloc(32, 43), 'alice@EXAMPLE.ORG').kid, a.kid);
    // Cross-checked against node:crypto's HKDF directly, with the documented info strings.
    const expectedKey = Buffer.from(
      hkdfSync('sha256', master, Buffer.alloc(0), Buffer.from('akamu eab v1 hmac\0alice@EXAMPLE.ORG'), 32),
    );
    assert.deepEqual(a.hmacKey, expectedKey);
  });

  it('accepts a principal of 1–255 characters without control characters', () => {
    assert.equal(parsePrincipal(' alice '), 'alice');
    assert.equal(parsePrincipal(undefined), undefined);
    assert.equal(parsePrincipal(['a', 'b']), undefined);
    assert.equal(parsePrincipal(''), undefined);
    assert.equal(parsePrincipal('a\nb'), undefined);
    assert.equal(parsePrincipal('x'.repeat(256)), undefined);
  });

  it('believes only trusted proxy addresses and blocks, IPv4-mapped peers included', () => {
    const list = trustedProxyList(['192.0.2.10', '10.0.0.0/8', 'fd00::/8']);
    assert.equal(isTrusted(list, '192.0.2.10'), true);
    assert.equal(isTrusted(list, '::ffff:192.0.2.10'), true);
    assert.equal(isTrusted(list, '10.200.1.1'), true);
    assert.equal(isTrusted(list, 'fd12::1'), true);
    assert.equal(isTrusted(list, '192.0.2.11'), false);
    assert.equal(isTrusted(list, '127.0.0.1'), false);
    assert.equal(isTrusted(trustedProxyList([]), '127.0.0.1'), false);
  });
});

describe('[eab] configuration', () => {
  const key = b64u(macKey);

  it('parses static keys, the master secret and the proxy settings with safe defaults', () => {
    const c = parseConfig({});
    assert.deepEqual(c.eab, {
      keys: {},
      master_secret: '',
      principal_header: 'X-Remote-User',
      trusted_proxies: [],
    });
    const full = parseConfig({
      eab: {
        keys: {
          'kid-1': { hmac_key: key, expires: '2030-01-01T00:00:00Z', note: 'team a', profiles: ['p'] },
        },
        master_secret: key,
        trusted_proxies: ['127.0.0.1', '10.0.0.0/8'],
      },
    });
    assert.equal(full.eab.keys['kid-1']!.expires, Date.parse('2030-01-01T00:00:00Z'));
    assert.deepEqual(full.eab.keys['kid-1']!.profiles, ['p']);
  });

  it('refuses short keys, bad kids, bad dates and bad proxy addresses', () => {
    const bad = [
      { keys: { 'kid-1': { hmac_key: b64u(Buffer.alloc(8)) } } },
      { keys: { '-kid': { hmac_key: key } } },
      { keys: { 'kid-1': { hmac_key: key, expires: 'someday' } } },
      { keys: { 'kid-1': { hmac_key: key, unknown: 1 } } },
      { master_secret: 'short' },
      { trusted_proxies: ['not-an-ip'] },
      { trusted_proxies: ['10.0.0.0/33'] },
      { principal_header: 'X Remote User' },
    ];
    for (const eab of bad)
      assert.throws(() => parseConfig({ eab }), /invalid configuration/, JSON.stringify(eab));
  });
});
