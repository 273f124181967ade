/** Helpers for the renewal tests (ARI, STAR, delegation): hand-made requests and the authorization flow. */
import assert from 'node:assert/strict';
import { type AcmeClient, AcmeProblemError, createCsr, generateKey, JwsSigner } from '@akamu/client';
import type { OrderJson } from '@akamu/protocol';
import type { TestCa } from '../helpers.ts';

export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/** A POST signed by the client's account with any payload ('' = POST-as-GET). Throws AcmeProblemError on 4xx/5xx. */
export async function post(client: AcmeClient, url: string, payload: object | ''): Promise<RawResponse> {
  const dir = await client.directory();
  return client.transport.post(url, payload, new JwsSigner(client.accountKey), {
    nonceUrl: dir.newNonce,
    kid: client.accountUrl!,
    accept: 'application/json, application/pem-certificate-chain, application/problem+json',
  });
}

export const json = <T = Record<string, unknown>>(res: RawResponse): T =>
  JSON.parse(res.body.toString('utf8'));

/** The problem a failing call throws. */
export async function problem(p: Promise<unknown>): Promise<AcmeProblemError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof AcmeProblemError) return e;
    throw e;
  }
  assert.fail('expected an ACME problem');
}

/** new-order with any payload, then every challenge solved: resolves to the order once it is ready. */
export async function readyOrder(
  ca: TestCa,
  client: AcmeClient,
  payload: Record<string, unknown>,
): Promise<{ url: string; order: OrderJson; created: OrderJson }> {
  const dir = await client.directory();
  const res = await post(client, dir.newOrder, payload);
  assert.equal(res.status, 201);
  const url = String(res.headers.location);
  const created = json<OrderJson>(res);
  for (const authzUrl of created.authorizations) {
    const authz = await client.getAuthorization(authzUrl);
    if (authz.status === 'valid') continue;
    const challenge = authz.challenges.find((c) => c.type === 'http-01')!;
    await ca.solver.present(authz.identifier, challenge, client.keyAuthorization(challenge.token));
    await client.respondChallenge(challenge.url);
    await client.waitForAuthorization(authzUrl);
  }
  const order = await client.waitForOrder(url, ['ready']);
  return { url, order, created };
}

/** Finalizes a ready order with a fresh P-256 key; resolves to the order as finalize answers it. */
export async function finalize(client: AcmeClient, order: OrderJson, names: string[]): Promise<OrderJson> {
  const key = generateKey('ec:P-256');
  return client.finalize(order, createCsr({ key, dnsNames: names }));
}

/** A full issuance for dns names; resolves to the leaf PEM and the valid order. */
export async function issue(
  ca: TestCa,
  client: AcmeClient,
  names: string[],
  extra: Record<string, unknown> = {},
): Promise<{ pem: string; order: OrderJson; url: string }> {
  const { url, order } = await readyOrder(ca, client, {
    identifiers: names.map((value) => ({ type: 'dns', value })),
    ...extra,
  });
  const valid = await finalize(client, order, names);
  assert.equal(valid.status, 'valid');
  const { pem } = await client.downloadCertificate(valid.certificate!);
  return { pem, order: valid, url };
}
