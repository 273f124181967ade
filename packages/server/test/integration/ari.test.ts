import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { pemToDer } from '@akamu/protocol';
import { AsnConvert } from '@peculiar/asn1-schema';
import * as asn1x509 from '@peculiar/asn1-x509';
import { startTestCa, type TestCa } from '../helpers.ts';
import { finalize, issue, json, problem, readyOrder } from './renewal-support.ts';

/**
 * RFC 9773 certID computed independently of the server: the AKI keyIdentifier and the serial's DER
 * INTEGER contents, each base64url.
 */
function certIdOf(pem: string): string {
  const der = pemToDer(pem)[0]!;
  const cert = AsnConvert.parse(der, asn1x509.Certificate);
  const akiExt = cert.tbsCertificate.extensions!.find(
    (e) => e.extnID === asn1x509.id_ce_authorityKeyIdentifier,
  )!;
  const aki = AsnConvert.parse(akiExt.extnValue, asn1x509.AuthorityKeyIdentifier);
  const keyId = Buffer.from(aki.keyIdentifier!.buffer);
  const serial = Buffer.from(cert.tbsCertificate.serialNumber);
  return `${keyId.toString('base64url')}.${serial.toString('base64url')}`;
}

describe('ARI: renewal information (RFC 9773)', () => {
  let ca: TestCa;
  before(async () => {
    ca = await startTestCa({ ari: { retry_after: '2h', explanation_url: 'https://ca.example/renewals' } });
  });
  after(() => ca.close());

  const renewalInfo = async (certId: string) => {
    const client = ca.client();
    const dir = await client.directory();
    assert.ok(dir.renewalInfo, 'the directory names renewalInfo');
    return client.transport.request('GET', `${dir.renewalInfo}/${certId}`);
  };

  it('answers a valid certificate with a window inside its validity, Retry-After and explanationURL', async () => {
    const client = await ca.account();
    const { pem } = await issue(ca, client, ['ari-valid.example.localhost']);
    const res = await renewalInfo(certIdOf(pem));
    assert.equal(res.status, 200);
    assert.equal(res.headers['retry-after'], '7200');
    const body = json<{ suggestedWindow: { start: string; end: string }; explanationURL: string }>(res);
    assert.equal(body.explanationURL, 'https://ca.example/renewals');
    const leaf = new X509Certificate(pem);
    const notBefore = Date.parse(leaf.validFrom);
    const notAfter = Date.parse(leaf.validTo);
    const start = Date.parse(body.suggestedWindow.start);
    const end = Date.parse(body.suggestedWindow.end);
    assert.ok(notBefore < start && start < end && end < notAfter, JSON.stringify(body));
    assert.ok(start > Date.now(), 'a fresh 90-day certificate is not due yet');
  });

  it('answers a revoked certificate with a window in the past', async () => {
    const client = await ca.account();
    const { pem } = await issue(ca, client, ['ari-revoked.example.localhost']);
    await client.revokeCertificate(pemToDer(pem)[0]!, { reason: 1 });
    const body = json<{ suggestedWindow: { start: string; end: string } }>(await renewalInfo(certIdOf(pem)));
    assert.ok(Date.parse(body.suggestedWindow.end) < Date.now(), JSON.stringify(body));
    assert.ok(Date.parse(body.suggestedWindow.start) < Date.parse(body.suggestedWindow.end));
  });

  it('serves the window an operator set with setRenewalWindow', async () => {
    const client = await ca.account();
    const { pem } = await issue(ca, client, ['ari-flagged.example.localhost']);
    const serial = new X509Certificate(pem).serialNumber.toLowerCase();
    const start = Date.now() - 7_200_000;
    const end = Date.now() - 3_600_000;
    await ca.server.renewals!.setRenewalWindow(serial, start, end);
    const body = json<{ suggestedWindow: { start: string; end: string } }>(await renewalInfo(certIdOf(pem)));
    assert.deepEqual(body.suggestedWindow, {
      start: new Date(start).toISOString(),
      end: new Date(end).toISOString(),
    });
    await assert.rejects(ca.server.renewals!.setRenewalWindow(serial, end, start), { type: 'malformed' });
    await assert.rejects(ca.server.renewals!.setRenewalWindow(serial, start, 9e15), { type: 'malformed' });
    await assert.rejects(ca.server.renewals!.setRenewalWindow('0123', start, end), { status: 404 });
  });

  it('answers an unknown certID with 404 and a malformed one with 400 malformed', async () => {
    const client = await ca.account();
    const { pem } = await issue(ca, client, ['ari-unknown.example.localhost']);
    const [keyId] = certIdOf(pem).split('.');
    const unknown = await problem(renewalInfo(`${keyId}.AQIDBA`));
    assert.equal(unknown.status, 404);
    const otherIssuer = await problem(
      renewalInfo(`AAAAAAAAAAAAAAAAAAAAAAAAAAA.${certIdOf(pem).split('.')[1]}`),
    );
    assert.equal(otherIssuer.status, 404, 'the AKI must be this CA');
    for (const bad of ['nodot', 'a.b.c', `${keyId}.`, `${keyId}.gA`, `${keyId}.AAE`, `${keyId}.a+b=`]) {
      const p = await problem(renewalInfo(encodeURIComponent(bad)));
      assert.equal(p.status, 400, bad);
      assert.equal(p.type, 'urn:ietf:params:acme:error:malformed', bad);
    }
  });
});

describe('ARI: replaces in new-order (RFC 9773 §5)', () => {
  let ca: TestCa;
  before(async () => {
    ca = await startTestCa();
  });
  after(() => ca.close());

  it('accepts the same account, records and echoes replaces, then refuses a second replacement', async () => {
    const client = await ca.account();
    const names = ['replaced.example.localhost'];
    const first = await issue(ca, client, names);
    const certId = certIdOf(first.pem);
    const second = await issue(ca, client, names, { replaces: certId });
    assert.equal(second.order.replaces, certId);
    assert.equal((await client.getOrder(second.url)).replaces, certId);
    const again = await problem(
      client.newOrder({ identifiers: [{ type: 'dns', value: names[0]! }], replaces: certId }),
    );
    assert.equal(again.status, 409);
    assert.equal(again.type, 'urn:ietf:params:acme:error:alreadyReplaced');
  });

  it('refuses a certificate held by another account, a malformed certID and an unrelated order', async () => {
    const holder = await ca.account();
    const names = ['held.example.localhost'];
    const { pem } = await issue(ca, holder, names);
    const other = await ca.account();
    const stolen = await problem(
      other.newOrder({ identifiers: [{ type: 'dns', value: names[0]! }], replaces: certIdOf(pem) }),
    );
    assert.equal(stolen.type, 'urn:ietf:params:acme:error:unauthorized');
    const malformed = await problem(
      holder.newOrder({ identifiers: [{ type: 'dns', value: names[0]! }], replaces: 'not-a-cert-id' }),
    );
    assert.equal(malformed.type, 'urn:ietf:params:acme:error:malformed');
    const unrelated = await problem(
      holder.newOrder({
        identifiers: [{ type: 'dns', value: 'other.example.localhost' }],
        replaces: certIdOf(pem),
      }),
    );
    assert.equal(unrelated.type, 'urn:ietf:params:acme:error:malformed');
  });

  it('refuses a second replacement while the first order is pending, accepts one once it is invalid', async () => {
    const client = await ca.account();
    const names = ['raced.example.localhost'];
    const { pem } = await issue(ca, client, names);
    const certId = certIdOf(pem);
    const identifiers = [{ type: 'dns', value: names[0]! }];
    const first = await readyOrder(ca, client, { identifiers, replaces: certId });
    const second = await problem(client.newOrder({ identifiers, replaces: certId }));
    assert.equal(second.status, 409);
    assert.equal(second.type, 'urn:ietf:params:acme:error:alreadyReplaced');
    // The first order becomes invalid when its authorization is deactivated (RFC 8555 §7.1.6).
    await client.deactivateAuthorization(first.order.authorizations[0]!);
    assert.equal((await client.getOrder(first.url)).status, 'invalid');
    const third = await readyOrder(ca, client, { identifiers, replaces: certId });
    assert.equal((await finalize(client, third.order, names)).status, 'valid');
  });
});
