/** Shared steps of the profile, subdomain and policy integration tests. */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import {
  type AcmeClient,
  AcmeProblemError,
  createCsr,
  generateKey,
  JwsSigner,
  type KeySpec,
} from '@akamu/client';
import { type AuthorizationJson, type OrderJson, pemToDer } from '@akamu/protocol';
import type { TestCa } from '../helpers.ts';

/** Answers the http-01 challenge of an authorization with the test CA's responder and waits until it is valid. */
export async function validateHttp01(
  ca: TestCa,
  client: AcmeClient,
  authzUrl: string,
): Promise<AuthorizationJson> {
  const authz = await client.getAuthorization(authzUrl);
  const challenge = authz.challenges.find((c) => c.type === 'http-01');
  assert.ok(challenge, `http-01 offered for ${authz.identifier.value}: ${JSON.stringify(authz)}`);
  await ca.solver.present(authz.identifier, challenge, client.keyAuthorization(challenge.token));
  await client.respondChallenge(challenge.url);
  const done = await client.waitForAuthorization(authzUrl);
  assert.equal(done.status, 'valid', JSON.stringify(done));
  return done;
}

/** Finalizes a ready order with a fresh key of `spec` and returns the leaf certificate. */
export async function finalizeOrder(
  client: AcmeClient,
  orderUrl: string,
  order: OrderJson,
  names: string[],
  spec: KeySpec = 'ec:P-256',
): Promise<{ leaf: X509Certificate; der: Buffer; order: OrderJson }> {
  const ready = order.status === 'ready' ? order : await client.waitForOrder(orderUrl, ['ready']);
  const finalized = await client.finalize(ready, createCsr({ key: generateKey(spec), dnsNames: names }));
  const valid = finalized.status === 'valid' ? finalized : await client.waitForOrder(orderUrl, ['valid']);
  const { pem } = await client.downloadCertificate(valid.certificate!);
  const der = pemToDer(pem)[0]!;
  return { leaf: new X509Certificate(der), der, order: valid };
}

/** The problem a promise rejects with (fails the test when it resolves or throws something else). */
export async function problemOf(p: Promise<unknown>): Promise<AcmeProblemError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  assert.ok(err instanceof AcmeProblemError, `expected an ACME problem, got ${String(err)}`);
  return err;
}

/** A registered account whose key the test keeps, to sign requests the client library has no method for. */
export async function accountWithSigner(ca: TestCa): Promise<{
  client: AcmeClient;
  post: (url: string, payload: object) => ReturnType<AcmeClient['transport']['post']>;
}> {
  const client = await ca.account();
  const signer = new JwsSigner(client.accountKey);
  const dir = await client.directory();
  return {
    client,
    post: (url, payload) =>
      client.transport.post(url, payload, signer, { nonceUrl: dir.newNonce, kid: client.accountUrl! }),
  };
}
