import assert from 'node:assert/strict';
import {
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
  randomBytes,
  sign,
  X509Certificate,
} from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { type AcmeClient, AcmeProblemError, createCsr, generateKey } from '@akamu/client';
import {
  type AuthorizationJson,
  bitString,
  constructed,
  implicit,
  integer,
  octetString,
  oid,
  pemToDer,
  sequence,
  setOf,
} from '@akamu/protocol';
import { FakeClock } from '../../src/clock.ts';
import { base32Encode, onionAddress, onionServiceKey } from '../../src/core/onion.ts';
import { OID_APPLICANT_SIGNING_NONCE, OID_CA_SIGNING_NONCE } from '../../src/va/onion-csr-01.ts';
import { startTestCa, type TestCa } from '../helpers.ts';

/** A hidden-service key and its real v3 address (Tor rend-spec-v3 §6). */
function hiddenService(): { key: KeyObject; address: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const raw = publicKey.export({ type: 'spki', format: 'der' }).subarray(12);
  return { key: privateKey, address: onionAddress(raw) };
}

/**
 * An RFC 9799 §3.2 CSR built from scratch: PKCS#10 signed with Ed25519, with the cabf-caSigningNonce and
 * cabf-applicantSigningNonce attributes and a dNSName SAN in an extensionRequest.
 */
function onionCsr(
  key: KeyObject,
  name: string,
  opts: { caNonce?: Buffer; applicantNonce?: Buffer | null } = {},
): string {
  const attributes: Buffer[] = [];
  if (opts.caNonce) attributes.push(sequence(oid(OID_CA_SIGNING_NONCE), setOf(octetString(opts.caNonce))));
  if (opts.applicantNonce !== null) {
    const nonce = opts.applicantNonce ?? randomBytes(16);
    attributes.push(sequence(oid(OID_APPLICANT_SIGNING_NONCE), setOf(octetString(nonce))));
  }
  const san = sequence(oid('2.5.29.17'), octetString(sequence(implicit(2, Buffer.from(name)))));
  attributes.push(sequence(oid('1.2.840.113549.1.9.14'), setOf(sequence(san))));
  const info = sequence(
    integer(0),
    sequence(),
    createPublicKey(key).export({ type: 'spki', format: 'der' }),
    setOfAs(0xa0, attributes),
  );
  const csr = sequence(info, sequence(oid('1.3.101.112')), bitString(sign(null, info, key)));
  return csr.toString('base64url');
}

/** [0] IMPLICIT SET OF: DER orders the elements. */
function setOfAs(tag: number, parts: Buffer[]): Buffer {
  return constructed(tag, [...parts].sort(Buffer.compare));
}

async function settle(client: AcmeClient, url: string): Promise<AuthorizationJson> {
  await client.waitForAuthorization(url).catch(() => undefined);
  return client.getAuthorization(url);
}

describe('onion-csr-01 (RFC 9799)', () => {
  let ca: TestCa;
  before(async () => {
    ca = await startTestCa();
  });
  after(() => ca.close());

  it('derives v3 addresses and checks their checksum and version', () => {
    const { address } = hiddenService();
    assert.match(address, /^[a-z2-7]{56}\.onion$/);
    assert.ok('publicKey' in onionServiceKey(address));
    assert.ok('publicKey' in onionServiceKey(`www.${address}`));
    const flipped = `${address[0] === 'a' ? 'b' : 'a'}${address.slice(1)}`;
    assert.match(String((onionServiceKey(flipped) as { error: string }).error), /checksum/);
    assert.match(String((onionServiceKey('expyuzz4wqqyqhjn.onion') as { error: string }).error), /version 2/);
    const v4 = base32Encode(Buffer.concat([Buffer.alloc(32, 1), Buffer.alloc(2), Buffer.from([4])]));
    assert.match(String((onionServiceKey(`${v4}.onion`) as { error: string }).error), /version 4/);
  });

  it('refuses v2 and malformed onion names with rejectedIdentifier', async () => {
    const client = await ca.account();
    await assert.rejects(
      client.newOrder({ identifiers: [{ type: 'dns', value: 'expyuzz4wqqyqhjn.onion' }] }),
      (e: unknown) => {
        assert.ok(e instanceof AcmeProblemError);
        const sub = e.problem.subproblems?.[0] ?? e.problem;
        assert.equal(sub.type, 'urn:ietf:params:acme:error:rejectedIdentifier');
        assert.match(String(sub.detail), /version 2/);
        return true;
      },
    );
  });

  it('offers only onion-csr-01 with a nonce, validates a CSR signed by the service key, and issues', async () => {
    const client = await ca.account();
    const { key, address } = hiddenService();
    const names = [address, `*.${address}`];
    const { url, order } = await client.newOrder({
      identifiers: names.map((value) => ({ type: 'dns', value })),
    });
    for (const authzUrl of order.authorizations) {
      const authz = await client.getAuthorization(authzUrl);
      assert.deepEqual(
        authz.challenges.map((c) => c.type),
        ['onion-csr-01'],
      );
      const challenge = authz.challenges[0] as (typeof authz.challenges)[0] & { nonce: string };
      const nonce = Buffer.from(challenge.nonce, 'base64');
      assert.ok(nonce.length >= 8, 'at least 64 bits');
      assert.match(challenge.nonce, /=$/, 'base64 with padding');
      await client.respondChallenge(challenge.url, { csr: onionCsr(key, address, { caNonce: nonce }) });
      const done = await settle(client, authzUrl);
      assert.equal(done.status, 'valid', JSON.stringify(done));
    }
    const ready = await client.waitForOrder(url, ['ready']);
    const finalized = await client.finalize(
      ready,
      createCsr({ key: generateKey('ec:P-256'), dnsNames: names }),
    );
    const valid = finalized.status === 'valid' ? finalized : await client.waitForOrder(url, ['valid']);
    const { pem } = await client.downloadCertificate(valid.certificate!);
    const leaf = new X509Certificate(pemToDer(pem)[0]!);
    assert.equal(leaf.subjectAltName, `DNS:${address}, DNS:*.${address}`);
  });

  async function failWith(
    build: (key: KeyObject, address: string, nonce: Buffer) => unknown,
  ): Promise<{ type?: string; detail?: string }> {
    const client = await ca.account();
    const { key, address } = hiddenService();
    const { order } = await client.newOrder({ identifiers: [{ type: 'dns', value: address }] });
    const authzUrl = order.authorizations[0]!;
    const challenge = (await client.getAuthorization(authzUrl)).challenges[0] as unknown as {
      url: string;
      nonce: string;
    };
    await client.respondChallenge(
      challenge.url,
      build(key, address, Buffer.from(challenge.nonce, 'base64')) as object,
    );
    const done = await settle(client, authzUrl);
    assert.equal(done.status, 'invalid');
    return done.challenges[0]!.error ?? {};
  }

  it('refuses a CSR signed by another key', async () => {
    const other = generateKeyPairSync('ed25519').privateKey;
    const error = await failWith((_k, address, nonce) => ({
      csr: onionCsr(other, address, { caNonce: nonce }),
    }));
    assert.equal(error.type, 'urn:ietf:params:acme:error:unauthorized');
  });

  it('refuses a CSR with the wrong CA nonce', async () => {
    const error = await failWith((key, address) => ({
      csr: onionCsr(key, address, { caNonce: randomBytes(32) }),
    }));
    assert.equal(error.type, 'urn:ietf:params:acme:error:incorrectResponse');
    assert.match(String(error.detail), /caSigningNonce/);
  });

  it('refuses a CSR without the applicant nonce', async () => {
    const error = await failWith((key, address, nonce) => ({
      csr: onionCsr(key, address, { caNonce: nonce, applicantNonce: null }),
    }));
    assert.match(String(error.detail), /applicantSigningNonce/);
  });

  it('refuses to certify the onion service key itself at finalize (RFC 9799 §3.2)', async () => {
    const client = await ca.account();
    const { key, address } = hiddenService();
    const { url, order } = await client.newOrder({ identifiers: [{ type: 'dns', value: address }] });
    const authzUrl = order.authorizations[0]!;
    const challenge = (await client.getAuthorization(authzUrl)).challenges[0] as unknown as {
      url: string;
      nonce: string;
    };
    await client.respondChallenge(challenge.url, {
      csr: onionCsr(key, address, { caNonce: Buffer.from(challenge.nonce, 'base64') }),
    });
    assert.equal((await settle(client, authzUrl)).status, 'valid');
    const ready = await client.waitForOrder(url, ['ready']);
    await assert.rejects(client.finalize(ready, createCsr({ key, dnsNames: [address] })), (e: unknown) => {
      assert.ok(e instanceof AcmeProblemError);
      assert.equal(e.type, 'urn:ietf:params:acme:error:badCSR');
      assert.match(String(e.problem.detail), /onion service/);
      return true;
    });
  });

  it('refuses a nonce older than 30 days', async () => {
    const clock = new FakeClock();
    const old = await startTestCa({ acme: { pending_authorization_lifetime: '60d' } }, { clock });
    try {
      const client = await old.account();
      const { key, address } = hiddenService();
      const { order } = await client.newOrder({ identifiers: [{ type: 'dns', value: address }] });
      const authzUrl = order.authorizations[0]!;
      const challenge = (await client.getAuthorization(authzUrl)).challenges[0] as unknown as {
        url: string;
        nonce: string;
      };
      clock.advance(31 * 86_400_000);
      await client.respondChallenge(challenge.url, {
        csr: onionCsr(key, address, { caNonce: Buffer.from(challenge.nonce, 'base64') }),
      });
      const done = await settle(client, authzUrl);
      assert.equal(done.status, 'invalid');
      assert.match(String(done.challenges[0]!.error?.detail), /30 days/);
    } finally {
      await old.close();
    }
  });

  it('refuses a response without a CSR', async () => {
    const error = await failWith(() => ({}));
    assert.equal(error.type, 'urn:ietf:params:acme:error:malformed');
  });
});
