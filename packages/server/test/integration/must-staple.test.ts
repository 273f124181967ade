import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type AcmeClient, AcmeProblemError, createCsr, generateKey } from '@akamu/client';
import { pemToDer } from '@akamu/protocol';
import { startTestCa, type TestCa } from '../helpers.ts';
import { problem, readyOrder } from './renewal-support.ts';

/** `openssl x509 -text` of a certificate, or `openssl req -text` of a DER CSR. */
function opensslText(kind: 'x509' | 'req', der: Buffer): string {
  const r = spawnSync('openssl', [kind, '-inform', 'DER', '-noout', '-text'], {
    input: der,
    encoding: 'utf8',
  });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout;
}

/** A CSR made by openssl with the given -addext lines, for requests @akamu/client does not make. */
function opensslCsr(ca: TestCa, name: string, addext: string[]): Buffer {
  const keyFile = join(ca.dataDir, `${name}.key.pem`);
  writeFileSync(keyFile, generateKey('ec:P-256').export({ type: 'pkcs8', format: 'pem' }));
  const r = spawnSync(
    'openssl',
    [
      'req',
      '-new',
      '-key',
      keyFile,
      '-subj',
      '/',
      '-outform',
      'DER',
      ...addext.flatMap((e) => ['-addext', e]),
    ],
    { encoding: 'buffer' },
  );
  assert.equal(r.status, 0, r.stderr.toString());
  return r.stdout;
}

const names = (n: string) => [`${n}.staple.example.localhost`];
const ready = (ca: TestCa, client: AcmeClient, n: string, extra: Record<string, unknown> = {}) =>
  readyOrder(ca, client, { identifiers: names(n).map((value) => ({ type: 'dns', value })), ...extra });

/** RFC 7633 OCSP Must-Staple: copied from the CSR when certificates name an OCSP responder. */
describe('OCSP Must-Staple (RFC 7633)', () => {
  let withOcsp: TestCa;
  let withoutOcsp: TestCa;
  before(async () => {
    withOcsp = await startTestCa({
      ocsp: { include_in_certificates: true },
      star: { min_lifetime: '1s', check_interval: '1h' },
    });
    withoutOcsp = await startTestCa();
  });
  after(async () => {
    await withOcsp?.close();
    await withoutOcsp?.close();
  });

  it('copies the TLS Feature status_request into a certificate that names the OCSP responder', async () => {
    const client = await withOcsp.account();
    const { order } = await ready(withOcsp, client, 'a');
    const key = generateKey('ec:P-256');
    const valid = await client.finalize(order, createCsr({ key, dnsNames: names('a'), mustStaple: true }));
    const { pem } = await client.downloadCertificate(valid.certificate!);
    const text = opensslText('x509', pemToDer(pem)[0]!);
    assert.match(text, /TLS Feature:\s*\n\s*status_request/);
    assert.match(text, /OCSP - URI:https:\/\/[^\s]+\/ca\/ocsp/);
    // Not critical (RFC 7633 §4.2 leaves it to the CA; a critical one breaks older TLS stacks).
    assert.doesNotMatch(text, /TLS Feature: critical/);
  });

  it('adds nothing when the CSR does not ask', async () => {
    const client = await withOcsp.account();
    const { order } = await ready(withOcsp, client, 'b');
    const valid = await client.finalize(
      order,
      createCsr({ key: generateKey('ec:P-256'), dnsNames: names('b') }),
    );
    const { pem } = await client.downloadCertificate(valid.certificate!);
    assert.doesNotMatch(opensslText('x509', pemToDer(pem)[0]!), /TLS Feature/);
  });

  it('takes the request from openssl too, and refuses features other than status_request', async () => {
    const client = await withOcsp.account();
    const { order } = await ready(withOcsp, client, 'c');
    const v2 = opensslCsr(withOcsp, 'v2', [
      `subjectAltName=DNS:${names('c')[0]}`,
      'tlsfeature=status_request_v2',
    ]);
    assert.match(opensslText('req', v2), /status_request_v2/);
    const refused = await problem(client.finalize(order, v2));
    assert.equal(refused.type, 'urn:ietf:params:acme:error:badCSR');
    assert.match(refused.problem.detail ?? '', /TLS feature 17; only status_request/);
    // The order is still ready: finalize again with a request openssl made for Must-Staple.
    const csr = opensslCsr(withOcsp, 'v1', [
      `subjectAltName=DNS:${names('c')[0]}`,
      'tlsfeature=status_request',
    ]);
    const valid = await client.finalize(order, csr);
    assert.equal(valid.status, 'valid');
    const { pem } = await client.downloadCertificate(valid.certificate!);
    assert.match(opensslText('x509', pemToDer(pem)[0]!), /TLS Feature:\s*\n\s*status_request/);
  });

  it('refuses Must-Staple when certificates name no OCSP responder, and the order stays ready', async () => {
    const client = await withoutOcsp.account();
    const { order, url } = await ready(withoutOcsp, client, 'd');
    const key = generateKey('ec:P-256');
    const refused = await problem(
      client.finalize(order, createCsr({ key, dnsNames: names('d'), mustStaple: true })),
    );
    assert.ok(refused instanceof AcmeProblemError);
    assert.equal(refused.type, 'urn:ietf:params:acme:error:badCSR');
    assert.equal(refused.status, 400);
    assert.match(refused.problem.detail ?? '', /writes no OCSP URL/);
    assert.equal((await client.waitForOrder(url, ['ready'])).status, 'ready');
  });

  it('refuses Must-Staple in a STAR order (RFC 8739), whose renewals reuse only the key', async () => {
    const client = await withOcsp.account();
    const now = Date.now();
    const { order } = await ready(withOcsp, client, 'e', {
      'auto-renewal': { 'end-date': new Date(now + 3_600_000).toISOString(), lifetime: 600 },
    });
    const key = generateKey('ec:P-256');
    const refused = await problem(
      client.finalize(order, createCsr({ key, dnsNames: names('e'), mustStaple: true })),
    );
    assert.equal(refused.type, 'urn:ietf:params:acme:error:badCSR');
    assert.match(refused.problem.detail ?? '', /STAR/);
  });
});
