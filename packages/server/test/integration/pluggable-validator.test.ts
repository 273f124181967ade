import assert from 'node:assert/strict';
import { createHash, X509Certificate } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { createCsr, generateKey } from '@akamu/client';
import { pemToDer } from '@akamu/protocol';
import type { ChallengeValidator, ValidationRequest } from '../../src/index.ts';
import { startTestCa, type TestCa } from '../helpers.ts';

/**
 * docs/embedding.md "A validator of your own": an embedder registers a brand-new challenge type through
 * createServer(config, { validators }) and a certificate is issued with it, without touching the server.
 */
describe('a validator of your own', () => {
  /** "lab-01": the client posts { proof: hex SHA-256 of the key authorization }; only names under .lab. */
  const seen: ValidationRequest[] = [];
  const lab: ChallengeValidator = {
    type: 'lab-01',
    supports: (identifier, wildcard) =>
      !wildcard && identifier.type === 'dns' && identifier.value.endsWith('.lab'),
    async validate(req) {
      seen.push(req);
      const expected = createHash('sha256').update(req.keyAuthorization).digest('hex');
      return req.payload?.proof === expected
        ? undefined
        : { type: 'urn:ietf:params:acme:error:incorrectResponse', detail: 'wrong proof', status: 400 };
    },
    challengeFields: (token) => ({ hint: `sha256 of ${token}.<thumbprint>` }),
  };
  let ca: TestCa;
  before(async () => {
    ca = await startTestCa({}, { validators: [lab] });
  });
  after(() => ca.close());

  it('offers the new type only where it applies and shows its extra fields', async () => {
    const client = await ca.account();
    const { order } = await client.newOrder({ identifiers: [{ type: 'dns', value: 'printer.lab' }] });
    const authz = await client.getAuthorization(order.authorizations[0]!);
    const challenge = authz.challenges.find((c) => c.type === 'lab-01');
    assert.ok(challenge, JSON.stringify(authz.challenges));
    assert.equal(
      (challenge as unknown as { hint: string }).hint,
      `sha256 of ${challenge.token}.<thumbprint>`,
    );
    const other = await client.newOrder({ identifiers: [{ type: 'dns', value: 'www.example.localhost' }] });
    const otherAuthz = await client.getAuthorization(other.order.authorizations[0]!);
    assert.ok(!otherAuthz.challenges.some((c) => c.type === 'lab-01'));
  });

  it('issues a certificate validated by it, with the response payload passed through', async () => {
    const client = await ca.account();
    const { url, order } = await client.newOrder({ identifiers: [{ type: 'dns', value: 'scanner.lab' }] });
    const authzUrl = order.authorizations[0]!;
    const challenge = (await client.getAuthorization(authzUrl)).challenges.find((c) => c.type === 'lab-01')!;
    const proof = createHash('sha256').update(client.keyAuthorization(challenge.token)).digest('hex');
    await client.respondChallenge(challenge.url, { proof });
    assert.equal((await client.waitForAuthorization(authzUrl)).status, 'valid');
    assert.equal(seen.at(-1)?.challengeType, 'lab-01');
    assert.equal(seen.at(-1)?.identifier.value, 'scanner.lab');
    const ready = await client.waitForOrder(url, ['ready']);
    const finalized = await client.finalize(
      ready,
      createCsr({ key: generateKey('ec:P-256'), dnsNames: ['scanner.lab'] }),
    );
    const valid = finalized.status === 'valid' ? finalized : await client.waitForOrder(url, ['valid']);
    const { pem } = await client.downloadCertificate(valid.certificate!);
    assert.equal(new X509Certificate(pemToDer(pem)[0]!).subjectAltName, 'DNS:scanner.lab');
  });

  it('records its refusal as the challenge error', async () => {
    const client = await ca.account();
    const { order } = await client.newOrder({ identifiers: [{ type: 'dns', value: 'fax.lab' }] });
    const authzUrl = order.authorizations[0]!;
    const challenge = (await client.getAuthorization(authzUrl)).challenges.find((c) => c.type === 'lab-01')!;
    await client.respondChallenge(challenge.url, { proof: 'nope' });
    await client.waitForAuthorization(authzUrl).catch(() => undefined);
    const authz = await client.getAuthorization(authzUrl);
    assert.equal(authz.status, 'invalid');
    const failed = authz.challenges.find((c) => c.type === 'lab-01')!;
    assert.equal(failed.error?.type, 'urn:ietf:params:acme:error:incorrectResponse');
  });
});
