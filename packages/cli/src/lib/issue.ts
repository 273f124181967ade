/**
 * The issuance flow used by `certificate obtain|renew` and the daemon: the step-by-step RFC 8555 API
 * (not obtainCertificate) because each identifier may use its own challenge type, challenge hooks run
 * around each validation, and a renewal names the certificate it replaces (RFC 9773 §5).
 */
import type { KeyObject } from 'node:crypto';
import {
  type AcmeClient,
  AcmeProblemError,
  AcmeStatusError,
  type ChallengeSolver,
  createCsr,
  pickChallenge,
} from '@akamu/client';
import type { AuthorizationJson, ChallengeJson, Identifier, OrderJson } from '@akamu/protocol';

export interface ChallengeEvent {
  identifier: Identifier;
  challenge: ChallengeJson;
  keyAuthorization: string;
}

export interface IssueOptions {
  identifiers: Identifier[];
  /** Solvers to try for one identifier, in order of preference (the first the CA offers is used). */
  solversFor: (identifier: Identifier) => readonly ChallengeSolver[];
  certificateKey: KeyObject;
  /** Ask for OCSP Must-Staple (RFC 7633) in the CSR. */
  mustStaple?: boolean;
  /** RFC 9773: the ARI certificate identifier of the certificate this one replaces. */
  replaces?: string;
  timeoutMs?: number;
  signal?: AbortSignal;
  progress?: (message: string) => void;
  /** Runs once the challenge is presented, before the CA is asked to validate. */
  beforeChallenge?: (event: ChallengeEvent) => Promise<void>;
  /** Runs once the authorization is decided (valid or not), before the solver cleans up. */
  afterChallenge?: (event: ChallengeEvent & { valid: boolean }) => Promise<void>;
}

export interface Issued {
  certificatePem: string;
  orderUrl: string;
  certificateUrl: string;
  /** False when the CA refused `replaces` and the order was placed without it. */
  replaced: boolean;
}

/** An identifier as the configuration names it: wildcards keep their "*." prefix. */
export function identifierName(identifier: Identifier, wildcard = false): string {
  return wildcard ? `*.${identifier.value}` : identifier.value;
}

export async function issueCertificate(client: AcmeClient, opts: IssueOptions): Promise<Issued> {
  const progress = opts.progress ?? (() => {});
  const wait = { timeoutMs: opts.timeoutMs, signal: opts.signal };
  const names = opts.identifiers.map((id) => id.value);
  progress(`ordering a certificate for ${names.join(', ')}`);
  let placed: { url: string; order: OrderJson };
  let replaced = opts.replaces !== undefined;
  try {
    placed = await client.newOrder({ identifiers: opts.identifiers, replaces: opts.replaces });
  } catch (error) {
    // A CA may refuse `replaces` (already replaced, unknown to it): the renewal itself must not fail.
    if (opts.replaces === undefined || !(error instanceof AcmeProblemError)) throw error;
    progress(`the CA refused replaces=${opts.replaces} (${error.message}); ordering without it`);
    replaced = false;
    placed = await client.newOrder({ identifiers: opts.identifiers });
  }
  const { url: orderUrl, order } = placed;
  if (order.status === 'pending') {
    const results = await Promise.allSettled(
      order.authorizations.map((url) => authorize(client, url, opts, wait, progress)),
    );
    const failure = results.find((r) => r.status === 'rejected');
    if (failure) throw failure.reason;
  } else if (order.status !== 'ready') {
    throw new AcmeStatusError(orderUrl, order.status, ['pending', 'ready'], order.error);
  }

  opts.signal?.throwIfAborted();
  const dnsNames = opts.identifiers.filter((id) => id.type === 'dns').map((id) => id.value);
  const ipAddresses = opts.identifiers.filter((id) => id.type === 'ip').map((id) => id.value);
  const csr = createCsr({ key: opts.certificateKey, dnsNames, ipAddresses, mustStaple: opts.mustStaple });
  progress('finalizing the order');
  let finalized: OrderJson;
  try {
    finalized = await client.finalize(order, csr);
  } catch (error) {
    if (!(error instanceof AcmeProblemError && error.isType('orderNotReady'))) throw error;
    finalized = await client.finalize(await client.waitForOrder(orderUrl, ['ready'], wait), csr);
  }
  if (finalized.status !== 'valid') finalized = await client.waitForOrder(orderUrl, ['valid'], wait);
  if (finalized.certificate === undefined)
    throw new AcmeStatusError(orderUrl, 'valid without certificate', ['valid']);
  progress('downloading the certificate');
  const { pem } = await client.downloadCertificate(finalized.certificate);
  return { certificatePem: pem, orderUrl, certificateUrl: finalized.certificate, replaced };
}

async function authorize(
  client: AcmeClient,
  url: string,
  opts: IssueOptions,
  wait: { timeoutMs?: number; signal?: AbortSignal },
  progress: (message: string) => void,
): Promise<void> {
  const authz: AuthorizationJson = await client.getAuthorization(url, wait.signal);
  const name = identifierName(authz.identifier, authz.wildcard === true);
  if (authz.status === 'valid') {
    progress(`${name}: already authorized`);
    return;
  }
  const candidates = opts.solversFor({ type: authz.identifier.type, value: name });
  const { solver, challenge } = pickChallenge(url, authz, candidates);
  const keyAuthorization = client.keyAuthorization(challenge.token);
  const event = { identifier: { type: authz.identifier.type, value: name }, challenge, keyAuthorization };
  progress(`${name}: presenting ${challenge.type}`);
  await solver.present(authz.identifier, challenge, keyAuthorization);
  let valid = false;
  let failure: unknown;
  try {
    await opts.beforeChallenge?.(event);
    if (challenge.status === 'pending') {
      const payload = (await solver.challengePayload?.(authz.identifier, challenge, keyAuthorization)) ?? {};
      await client.respondChallenge(challenge.url, payload);
    }
    progress(`${name}: waiting for validation`);
    await client.waitForAuthorization(url, wait);
    valid = true;
    progress(`${name}: valid`);
  } catch (error) {
    failure = error;
  }
  try {
    await opts.afterChallenge?.({ ...event, valid });
    await solver.cleanup(authz.identifier, challenge, keyAuthorization);
  } catch (error) {
    // A cleanup failure only surfaces when nothing else went wrong.
    failure ??= error;
  }
  if (failure !== undefined) throw failure;
}
