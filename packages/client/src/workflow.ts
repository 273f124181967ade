/**
 * obtainCertificate: the whole RFC 8555 §7.1 issuance flow for an existing account — order, solve
 * every pending authorization in parallel, finalize, wait, download.
 */
import type { KeyObject } from 'node:crypto';
import type { AuthorizationJson, Identifier } from '@akamu/protocol';
import type { AcmeClient, AutoRenewalOptions, StarOrderJson } from './client.ts';
import { createCsr } from './csr.ts';
import { AcmeNoSolverError, AcmeProblemError, AcmeStatusError } from './errors.ts';
import { generateKey } from './keys.ts';
import type { ChallengeSolver } from './solvers/challenge-solver.ts';

export interface ObtainCertificateOptions {
  identifiers: Identifier[];
  /** In order of preference: the first solver whose type the server offers is used. */
  solvers: ChallengeSolver[];
  /** DER CSR to submit; then certificateKey must be its key. Default: built from identifiers. */
  csr?: Buffer;
  /** Certificate key; generated ec:P-256 when absent. */
  certificateKey?: KeyObject;
  profile?: string;
  /** RFC 9773: the certId (see certId()) of the certificate this one replaces. */
  replaces?: string;
  /** RFC 8739: make it a STAR order; certificateUrl is then the rolling `star-certificate` URL. */
  autoRenewal?: AutoRenewalOptions;
  /** Time limit for each wait (authorizations, order). Default 60 000 ms. */
  timeoutMs?: number;
  signal?: AbortSignal;
}

export interface ObtainedCertificate {
  certificatePem: string;
  certificateKey: KeyObject;
  orderUrl: string;
  /** The certificate URL, or for a STAR order its rolling `star-certificate` URL. */
  certificateUrl: string;
}

export async function obtainCertificate(
  client: AcmeClient,
  opts: ObtainCertificateOptions,
): Promise<ObtainedCertificate> {
  if (client.accountUrl === undefined)
    throw new TypeError('the client has no account: call newAccount() first');
  if (opts.identifiers.length === 0) throw new TypeError('identifiers must not be empty');
  if (opts.csr && !opts.certificateKey) throw new TypeError('a csr needs its certificateKey');
  const { signal } = opts;
  const wait = { timeoutMs: opts.timeoutMs, signal };
  const certificateKey = opts.certificateKey ?? generateKey('ec:P-256');
  const csr = opts.csr ?? csrForIdentifiers(certificateKey, opts.identifiers);

  signal?.throwIfAborted();
  const { url: orderUrl, order } = await client.newOrder({
    identifiers: opts.identifiers,
    profile: opts.profile,
    replaces: opts.replaces,
    autoRenewal: opts.autoRenewal,
  });

  if (order.status === 'pending') {
    const results = await Promise.allSettled(
      order.authorizations.map((url) => authorize(client, url, opts.solvers, wait)),
    );
    const failure = results.find((r) => r.status === 'rejected');
    if (failure) throw failure.reason;
  } else if (order.status !== 'ready') {
    throw new AcmeStatusError(orderUrl, order.status, ['pending', 'ready'], order.error);
  }

  signal?.throwIfAborted();
  let finalized: StarOrderJson;
  try {
    finalized = await client.finalize(order, csr);
  } catch (error) {
    // All authorizations are valid, but the server may not have marked the order ready yet.
    if (!(error instanceof AcmeProblemError && error.isType('orderNotReady'))) throw error;
    const ready = await client.waitForOrder(orderUrl, ['ready'], wait);
    finalized = await client.finalize(ready, csr);
  }
  if (finalized.status !== 'valid') finalized = await client.waitForOrder(orderUrl, ['valid'], wait);
  const star = opts.autoRenewal !== undefined;
  const certificateUrl = star ? finalized['star-certificate'] : finalized.certificate;
  if (certificateUrl === undefined)
    throw new AcmeStatusError(orderUrl, 'valid without certificate', ['valid']);

  signal?.throwIfAborted();
  const { pem } = star
    ? await client.downloadStarCertificate(certificateUrl, { signal })
    : await client.downloadCertificate(certificateUrl);
  return { certificatePem: pem, certificateKey, orderUrl, certificateUrl };
}

/** A CSR whose SANs are exactly the dns and ip identifiers (RFC 8555 §7.4, RFC 8738 §3). */
function csrForIdentifiers(key: KeyObject, identifiers: Identifier[]): Buffer {
  const dnsNames: string[] = [];
  const ipAddresses: string[] = [];
  for (const id of identifiers) {
    if (id.type === 'dns') dnsNames.push(id.value);
    else if (id.type === 'ip') ipAddresses.push(id.value);
    else throw new TypeError(`cannot build a CSR for identifier type ${id.type}; pass csr`);
  }
  return createCsr({ key, dnsNames, ipAddresses });
}

/** Solves one authorization unless it is already valid; cleans up whatever it presented. */
async function authorize(
  client: AcmeClient,
  url: string,
  solvers: ChallengeSolver[],
  wait: { timeoutMs?: number; signal?: AbortSignal },
): Promise<void> {
  const authz: AuthorizationJson = await client.getAuthorization(url, wait.signal);
  if (authz.status === 'valid') return;
  const { solver, challenge } = pickChallenge(url, authz, solvers);
  const keyAuthorization = client.keyAuthorization(challenge.token);
  await solver.present(authz.identifier, challenge, keyAuthorization);
  let failed = false;
  try {
    if (challenge.status === 'pending') {
      const payload = solver.challengePayload
        ? await solver.challengePayload(authz.identifier, challenge, keyAuthorization)
        : {};
      await client.respondChallenge(challenge.url, payload);
    }
    await client.waitForAuthorization(url, wait);
  } catch (error) {
    failed = true;
    throw error;
  } finally {
    // A cleanup failure only surfaces when nothing else went wrong.
    await solver.cleanup(authz.identifier, challenge, keyAuthorization).catch((error: unknown) => {
      if (!failed) throw error;
    });
  }
}

/**
 * For a pending authorization, the first of `solvers` whose challenge type the CA offers, with that
 * challenge. Throws AcmeStatusError when the authorization is not pending, AcmeNoSolverError when no
 * solver fits.
 */
export function pickChallenge(
  url: string,
  authz: AuthorizationJson,
  solvers: readonly ChallengeSolver[],
): { solver: ChallengeSolver; challenge: AuthorizationJson['challenges'][number] } {
  if (authz.status !== 'pending') {
    throw new AcmeStatusError(
      url,
      authz.status,
      ['pending', 'valid'],
      authz.challenges?.find((c) => c.error)?.error,
    );
  }
  for (const solver of solvers) {
    const challenge = authz.challenges.find((c) => c.type === solver.type);
    if (challenge) return { solver, challenge };
  }
  throw new AcmeNoSolverError(
    authz.identifier,
    authz.challenges.map((c) => c.type),
    solvers.map((s) => s.type),
  );
}
