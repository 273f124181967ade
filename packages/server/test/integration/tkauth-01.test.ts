import assert from 'node:assert/strict';
import { generateKeyPairSync, type KeyObject, X509Certificate } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { type AcmeClient, AcmeProblemError, createCsr, generateKey } from '@akamu/client';
import { type AuthorizationJson, derToPem, explicit, ia5String, pemToDer, sequence } from '@akamu/protocol';
import { SignJWT } from 'jose';
import { CertificateIssuer, createSelfSignedCa, newSerial } from '../../src/ca/certificate-issuer.ts';
import { OID_PE_TNAUTHLIST } from '../../src/core/tnauthlist.ts';
import { accountFingerprint } from '../../src/va/tkauth-01.ts';
import { startTestCa, type TestCa } from '../helpers.ts';

/** A Token Authority: a root CA and a signing certificate under it (RFC 9447 §4 x5c chain). */
function tokenAuthority(name: string): { rootDer: Buffer; signerDer: Buffer; signerKey: KeyObject } {
  const root = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const now = Date.now();
  const rootDer = createSelfSignedCa({
    privateKey: root.privateKey,
    commonName: `${name} Root`,
    serial: newSerial(),
    notBefore: new Date(now - 60_000),
    notAfter: new Date(now + 86_400_000),
  });
  const signer = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const signerDer = new CertificateIssuer({ issuerKey: root.privateKey, issuerCertDer: rootDer }).issue({
    serial: newSerial(),
    spki: signer.publicKey.export({ type: 'spki', format: 'der' }),
    dnsNames: [`${name.toLowerCase()}.example`],
    ipAddresses: [],
    notBefore: new Date(now - 60_000),
    notAfter: new Date(now + 86_400_000),
    extendedKeyUsages: [],
  });
  return { rootDer, signerDer, signerKey: signer.privateKey };
}

/** RFC 8226 TNAuthList with one service provider code: SEQUENCE { spc [0] EXPLICIT IA5String }. */
function tnAuthList(spc: string): string {
  return sequence(explicit(0, ia5String(spc))).toString('base64');
}

let jtiCounter = 0;
async function atcToken(
  ta: ReturnType<typeof tokenAuthority>,
  claims: { tkvalue: string; fingerprint: string; exp?: number; jti?: string; tktype?: string },
): Promise<string> {
  return new SignJWT({
    atc: {
      tktype: claims.tktype ?? 'TNAuthList',
      tkvalue: claims.tkvalue,
      ca: false,
      fingerprint: claims.fingerprint,
    },
  })
    .setProtectedHeader({
      alg: 'ES256',
      typ: 'JWT',
      x5c: [ta.signerDer.toString('base64'), ta.rootDer.toString('base64')],
    })
    .setIssuer('https://authority.example.org')
    .setJti(claims.jti ?? `jti-${++jtiCounter}-${Date.now()}`)
    .setExpirationTime(claims.exp ?? Math.floor(Date.now() / 1000) + 300)
    .sign(ta.signerKey);
}

async function settle(client: AcmeClient, url: string): Promise<AuthorizationJson> {
  await client.waitForAuthorization(url).catch(() => undefined);
  return client.getAuthorization(url);
}

describe('tkauth-01 (RFC 9447, RFC 9448)', () => {
  const trusted = tokenAuthority('Trusted');
  let ca: TestCa;
  before(async () => {
    const anchor = `${process.env.TMPDIR ?? '/tmp'}/akamu-tkauth-anchor-${process.pid}.pem`;
    writeFileSync(anchor, derToPem(trusted.rootDer));
    ca = await startTestCa({
      tkauth: { token_authorities: ['https://authority.example.org/authz'], trust_anchors: [anchor] },
    });
  });
  after(() => ca.close());

  /** Orders a TNAuthList and returns the challenge and the account's fingerprint. */
  async function challengeFor(client: AcmeClient, value: string) {
    const { url, order } = await client.newOrder({ identifiers: [{ type: 'TNAuthList', value }] });
    const authzUrl = order.authorizations[0]!;
    const authz = await client.getAuthorization(authzUrl);
    const challenge = authz.challenges.find((c) => c.type === 'tkauth-01')!;
    const thumbprint = client.keyAuthorization(challenge.token).split('.')[1]!;
    return { orderUrl: url, authzUrl, authz, challenge, fingerprint: accountFingerprint(thumbprint) };
  }

  async function respond(client: AcmeClient, value: string, token: (fp: string) => Promise<string>) {
    const c = await challengeFor(client, value);
    await client.respondChallenge(c.challenge.url, { atc: await token(c.fingerprint) });
    const done = await settle(client, c.authzUrl);
    return { ...c, done, error: done.challenges.find((x) => x.type === 'tkauth-01')?.error };
  }

  it('offers tkauth-01 with tkauth-type atc and the token authority', async () => {
    const client = await ca.account();
    const { authz, challenge } = await challengeFor(client, tnAuthList('1001'));
    assert.deepEqual(
      authz.challenges.map((c) => c.type),
      ['tkauth-01'],
    );
    const fields = challenge as unknown as Record<string, unknown>;
    assert.equal(fields['tkauth-type'], 'atc');
    assert.equal(fields['token-authority'], 'https://authority.example.org/authz');
  });

  it('refuses a TNAuthList value that is not DER with rejectedIdentifier', async () => {
    const client = await ca.account();
    await assert.rejects(
      client.newOrder({ identifiers: [{ type: 'TNAuthList', value: 'bm90IGRlcg==' }] }),
      (e) => {
        assert.ok(e instanceof AcmeProblemError);
        assert.equal(
          (e.problem.subproblems?.[0] ?? e.problem).type,
          'urn:ietf:params:acme:error:rejectedIdentifier',
        );
        return true;
      },
    );
  });

  it('validates a good token and issues a certificate with the TNAuthList extension', async () => {
    const client = await ca.account();
    const value = tnAuthList('1002');
    const r = await respond(client, value, (fingerprint) =>
      atcToken(trusted, { tkvalue: value, fingerprint }),
    );
    assert.equal(r.done.status, 'valid', JSON.stringify(r.done));
    const ready = await client.waitForOrder(r.orderUrl, ['ready']);
    const csr = createCsr({ key: generateKey('ec:P-256'), commonName: 'SHAKEN 1002' });
    const finalized = await client.finalize(ready, csr);
    const valid = finalized.status === 'valid' ? finalized : await client.waitForOrder(r.orderUrl, ['valid']);
    const { pem } = await client.downloadCertificate(valid.certificate!);
    const leaf = new X509Certificate(pemToDer(pem)[0]!);
    assert.equal(leaf.subjectAltName, undefined);
    // The extension's value is exactly the identifier's DER.
    const expected = Buffer.concat([
      Buffer.from([0x04, Buffer.from(value, 'base64').length]),
      Buffer.from(value, 'base64'),
    ]);
    assert.ok(leaf.raw.includes(expected), 'TNAuthList extension value in the certificate');
    assert.ok(
      leaf.raw.includes(Buffer.from('06082b0601050507011a', 'hex')),
      `extension ${OID_PE_TNAUTHLIST}`,
    );
  });

  it('refuses an expired token', async () => {
    const client = await ca.account();
    const value = tnAuthList('1003');
    const r = await respond(client, value, (fingerprint) =>
      atcToken(trusted, { tkvalue: value, fingerprint, exp: Math.floor(Date.now() / 1000) - 3600 }),
    );
    assert.equal(r.done.status, 'invalid');
    assert.match(String(r.error?.detail), /expired/);
  });

  it("refuses a token bound to another account's key", async () => {
    const client = await ca.account();
    const other = await ca.account();
    const otherFp = accountFingerprint(other.keyAuthorization('x').split('.')[1]!);
    const value = tnAuthList('1004');
    const r = await respond(client, value, () => atcToken(trusted, { tkvalue: value, fingerprint: otherFp }));
    assert.equal(r.done.status, 'invalid');
    assert.equal(r.error?.type, 'urn:ietf:params:acme:error:unauthorized');
    assert.match(String(r.error?.detail), /fingerprint/);
  });

  it('refuses a token for another TNAuthList', async () => {
    const client = await ca.account();
    const value = tnAuthList('1005');
    const r = await respond(client, value, (fingerprint) =>
      atcToken(trusted, { tkvalue: tnAuthList('9999'), fingerprint }),
    );
    assert.equal(r.done.status, 'invalid');
    assert.match(String(r.error?.detail), /tkvalue/);
  });

  it('refuses a token whose chain leads to an untrusted authority', async () => {
    const client = await ca.account();
    const rogue = tokenAuthority('Rogue');
    const value = tnAuthList('1006');
    const r = await respond(client, value, (fingerprint) => atcToken(rogue, { tkvalue: value, fingerprint }));
    assert.equal(r.done.status, 'invalid');
    assert.match(String(r.error?.detail), /trust anchor/);
  });

  it('refuses a token used twice (jti replay)', async () => {
    const client = await ca.account();
    const value = tnAuthList('1007');
    let token = '';
    const first = await respond(client, value, async (fingerprint) => {
      token = await atcToken(trusted, { tkvalue: value, fingerprint, jti: 'replayed-jti' });
      return token;
    });
    assert.equal(first.done.status, 'valid');
    // The same account orders the same TNAuthList again after deactivating the first authorization.
    await client.deactivateAuthorization(first.authzUrl);
    const second = await respond(client, value, async () => token);
    assert.equal(second.done.status, 'invalid');
    assert.match(String(second.error?.detail), /already used/);
  });

  it('refuses a response without a token', async () => {
    const client = await ca.account();
    const r = await respond(client, tnAuthList('1008'), async () => '');
    assert.equal(r.done.status, 'invalid');
    assert.equal(r.error?.type, 'urn:ietf:params:acme:error:malformed');
  });
});
