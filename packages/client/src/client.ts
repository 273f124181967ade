/**
 * AcmeClient: one method per RFC 8555 resource (§7), over HttpTransport. Every read is a POST-as-GET
 * (§6.3); everything but newAccount and revocation by certificate key is signed with the account `kid`.
 */
import type { KeyObject } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  type AccountJson,
  type AuthorizationJson,
  type ChallengeJson,
  type DirectoryJson,
  dns01TxtValue,
  type Identifier,
  keyAuthorization,
  type OrderJson,
  type OrderStatus,
  type ProblemJson,
} from '@akamu/protocol';
import { certId } from './ari.ts';
import { AcmeStatusError, AcmeTimeoutError, AcmeTransportError, AcmeUnsupportedError } from './errors.ts';
import { encodePayload, type HmacAlgorithm, JwsSigner, signExternalAccountBinding } from './jws.ts';
import {
  type HttpResponse,
  HttpTransport,
  type HttpTransportOptions,
  jsonBody,
  links,
  location,
  retryAfterMs,
} from './transport.ts';

export interface AcmeClientOptions extends HttpTransportOptions {
  directoryUrl: string;
  /** The account's private key. */
  accountKey: KeyObject;
  /** Known account URL (kid); otherwise set by newAccount. */
  accountUrl?: string;
  /** A directory already fetched (e.g. shared by many clients of one CA); otherwise fetched on first use. */
  directory?: DirectoryJson;
  /**
   * Share one transport (keep-alive connections and nonce pool) between clients. When given,
   * caBundle, timeoutMs, userAgent and the other transport options are ignored, and close() leaves it open.
   */
  transport?: HttpTransport;
}

export interface NewAccountOptions {
  contact?: string[];
  termsOfServiceAgreed?: boolean;
  /** RFC 8555 §7.3.1: only look up the account of this key; accountDoesNotExist if there is none. */
  onlyReturnExisting?: boolean;
  /** RFC 8555 §7.3.4. hmacKey is the raw MAC key (base64url-decode what the CA hands out). */
  externalAccountBinding?: { kid: string; hmacKey: Buffer; alg?: HmacAlgorithm };
}

export interface NewOrderOptions {
  identifiers: Identifier[];
  notBefore?: string;
  notAfter?: string;
  /** draft-ietf-acme-profiles */
  profile?: string;
  /** RFC 9773 ARI: the certificate identifier this order replaces (see certId). */
  replaces?: string;
  /** RFC 8739 STAR: the CA re-issues a short-term certificate every `lifetime` until `endDate`. */
  autoRenewal?: AutoRenewalOptions;
}

/** RFC 8739 §3.1.1 `auto-renewal` of a STAR order. */
export interface AutoRenewalOptions {
  /** The earliest date of validity of the first certificate. Default: when the order is finalized. */
  startDate?: Date | string;
  /** The latest date of validity of the last certificate. */
  endDate: Date | string;
  /** Validity of each certificate, in seconds. */
  lifetime: number;
  /** Seconds each certificate is pre-dated so consecutive ones overlap. */
  lifetimeAdjust?: number;
  /** Allow the rolling certificate to be fetched with a plain GET (no account signature). */
  allowCertificateGet?: boolean;
}

/** An order; a STAR order (RFC 8739 §3.1.1) also carries `auto-renewal` and `star-certificate`. */
export interface StarOrderJson extends OrderJson {
  'auto-renewal'?: {
    'start-date'?: string;
    'end-date': string;
    lifetime: number;
    'lifetime-adjust'?: number;
    'allow-certificate-get'?: boolean;
  };
  /** The rolling certificate URL, once the order is valid. */
  'star-certificate'?: string;
}

/** RFC 9773 §4.2: the CA's suggested renewal window for a certificate. */
export interface RenewalInfo {
  suggestedWindow: { start: Date; end: Date };
  /** A page explaining why the window is what it is (e.g. an incident). */
  explanationURL?: string;
  /** When to ask again (the response's Retry-After). */
  retryAfter?: Date;
}

export interface WaitOptions {
  /** Give up with AcmeTimeoutError after this long. Default 60 000. */
  timeoutMs?: number;
  signal?: AbortSignal;
}

export const DEFAULT_WAIT_TIMEOUT_MS = 60_000;
const FIRST_POLL_DELAY_MS = 50;
const MAX_POLL_DELAY_MS = 3_000;

/** RFC 8555 §7.1.6: orders only move forward through these; invalid is terminal. */
const ORDER_PROGRESS: Record<OrderStatus, number> = {
  pending: 0,
  ready: 1,
  processing: 2,
  valid: 3,
  invalid: 4,
};

export class AcmeClient {
  readonly directoryUrl: string;
  readonly transport: HttpTransport;
  readonly #ownsTransport: boolean;
  #signer: JwsSigner;
  #accountUrl: string | undefined;
  #directory: Promise<DirectoryJson> | undefined;

  constructor(opts: AcmeClientOptions) {
    this.directoryUrl = new URL(opts.directoryUrl).href;
    this.#signer = new JwsSigner(opts.accountKey);
    this.#accountUrl = opts.accountUrl;
    if (opts.directory) this.#directory = Promise.resolve(opts.directory);
    this.#ownsTransport = opts.transport === undefined;
    this.transport = opts.transport ?? new HttpTransport(opts);
  }

  /** The account URL (JWS kid), once known. */
  get accountUrl(): string | undefined {
    return this.#accountUrl;
  }

  /** The current account key (replaced by keyChange). */
  get accountKey(): KeyObject {
    return this.#signer.key;
  }

  /** RFC 7638 thumbprint of the account key. */
  get thumbprint(): string {
    return this.#signer.thumbprint;
  }

  /** Closes keep-alive connections of the client's own transport. */
  close(): void {
    if (this.#ownsTransport) this.transport.close();
  }

  /** RFC 8555 §7.1.1. Fetched once and cached (a failed fetch is retried on the next call). */
  directory(): Promise<DirectoryJson> {
    this.#directory ??= this.transport.request('GET', this.directoryUrl).then(
      (res) => {
        const dir = jsonBody<DirectoryJson>(res);
        for (const field of ['newNonce', 'newAccount', 'newOrder', 'revokeCert', 'keyChange'] as const) {
          if (typeof dir[field] !== 'string')
            throw new AcmeTransportError(`directory has no ${field}`, res.url);
        }
        return dir;
      },
      (error: unknown) => {
        this.#directory = undefined;
        throw error;
      },
    );
    return this.#directory;
  }

  /**
   * RFC 8555 §7.3: creates the account, or finds the existing one for this key (`created` false,
   * HTTP 200). Sets accountUrl.
   */
  async newAccount(
    opts: NewAccountOptions = {},
  ): Promise<{ url: string; account: AccountJson; created: boolean }> {
    const dir = await this.directory();
    const payload: Record<string, unknown> = {};
    if (opts.contact !== undefined) payload.contact = opts.contact;
    if (opts.termsOfServiceAgreed !== undefined) payload.termsOfServiceAgreed = opts.termsOfServiceAgreed;
    if (opts.onlyReturnExisting) payload.onlyReturnExisting = true;
    if (opts.externalAccountBinding) {
      const eab = opts.externalAccountBinding;
      payload.externalAccountBinding = signExternalAccountBinding({
        accountJwk: this.#signer.jwk,
        kid: eab.kid,
        hmacKey: eab.hmacKey,
        alg: eab.alg,
        url: dir.newAccount,
      });
    }
    const res = await this.transport.post(dir.newAccount, payload, this.#signer, { nonceUrl: dir.newNonce });
    const url = location(res);
    this.#accountUrl = url;
    return { url, account: jsonBody<AccountJson>(res), created: res.status === 201 };
  }

  /** RFC 8555 §7.3.2 (POST-as-GET to the account URL). */
  async getAccount(): Promise<AccountJson> {
    return jsonBody<AccountJson>(await this.#post(this.#requireAccount(), ''));
  }

  /** RFC 8555 §7.3.2. An empty contact list removes all contacts. */
  async updateAccount(opts: { contact: string[] }): Promise<AccountJson> {
    return jsonBody<AccountJson>(await this.#post(this.#requireAccount(), { contact: opts.contact }));
  }

  /** RFC 8555 §7.3.6. The server refuses every later request of this account. */
  async deactivateAccount(): Promise<AccountJson> {
    return jsonBody<AccountJson>(await this.#post(this.#requireAccount(), { status: 'deactivated' }));
  }

  /** RFC 8555 §7.1.2.1: every order URL of the account, following Link rel="next" pages. */
  async listOrders(): Promise<string[]> {
    const account = await this.getAccount();
    if (typeof account.orders !== 'string') return [];
    const out: string[] = [];
    const seen = new Set<string>();
    for (let url: string | undefined = account.orders; url !== undefined && !seen.has(url); ) {
      seen.add(url);
      const res = await this.#post(url, '');
      const page = jsonBody<{ orders?: unknown }>(res);
      if (!Array.isArray(page.orders)) throw new AcmeTransportError('orders list has no orders array', url);
      for (const order of page.orders) if (typeof order === 'string') out.push(order);
      url = links(res, 'next')[0];
    }
    return out;
  }

  /**
   * RFC 8555 §7.3.5: rolls the account over to `newKey`. The inner JWS (signed by the new key, with its
   * jwk and no nonce) carries {account, oldKey}; the outer one is signed by the current key.
   */
  async keyChange(newKey: KeyObject): Promise<void> {
    const dir = await this.directory();
    const account = this.#requireAccount();
    const next = new JwsSigner(newKey);
    const inner = next.sign(
      { jwk: next.jwk, url: dir.keyChange },
      encodePayload({ account, oldKey: this.#signer.jwk }),
    );
    await this.transport.post(dir.keyChange, inner, this.#signer, { nonceUrl: dir.newNonce, kid: account });
    this.#signer = next;
  }

  /**
   * RFC 8555 §7.4. With `autoRenewal`, a STAR order (RFC 8739 §3.1.1); throws AcmeUnsupportedError
   * when the directory does not advertise `meta.auto-renewal`.
   */
  async newOrder(opts: NewOrderOptions): Promise<{ url: string; order: StarOrderJson }> {
    const dir = await this.directory();
    const payload: Record<string, unknown> = { identifiers: opts.identifiers };
    if (opts.notBefore !== undefined) payload.notBefore = opts.notBefore;
    if (opts.notAfter !== undefined) payload.notAfter = opts.notAfter;
    if (opts.profile !== undefined) payload.profile = opts.profile;
    if (opts.replaces !== undefined) payload.replaces = opts.replaces;
    if (opts.autoRenewal !== undefined) {
      if (dir.meta?.['auto-renewal'] === undefined)
        throw new AcmeUnsupportedError(
          'auto-renewal',
          'the CA does not offer STAR orders (no meta.auto-renewal)',
        );
      payload['auto-renewal'] = autoRenewalPayload(opts.autoRenewal);
    }
    const res = await this.#post(dir.newOrder, payload);
    return { url: location(res), order: jsonBody<StarOrderJson>(res) };
  }

  /** RFC 8555 §7.1.3. */
  async getOrder(url: string, signal?: AbortSignal): Promise<StarOrderJson> {
    return jsonBody<StarOrderJson>(await this.#post(url, '', signal));
  }

  /**
   * RFC 8739 §3.1.2: cancels a STAR order; the CA stops issuing and the rolling certificate URL
   * answers autoRenewalCanceled. Returns the order (status `canceled`).
   */
  async cancelStarOrder(orderUrl: string): Promise<StarOrderJson> {
    return jsonBody<StarOrderJson>(await this.#post(orderUrl, { status: 'canceled' }));
  }

  /**
   * RFC 8739 §3.3: the current certificate of a STAR order (its `star-certificate` URL), by
   * POST-as-GET, or with `unauthenticated` by a plain GET (allowed when the order was created with
   * `allowCertificateGet`). certNotBefore/certNotAfter come from the Cert-Not-Before/-After headers.
   */
  async downloadStarCertificate(
    url: string,
    opts: { unauthenticated?: boolean; signal?: AbortSignal } = {},
  ): Promise<{ pem: string; certNotBefore?: Date; certNotAfter?: Date }> {
    const accept = 'application/pem-certificate-chain';
    const res = opts.unauthenticated
      ? await this.transport.request('GET', url, { accept, signal: opts.signal })
      : await this.#post(url, '', opts.signal, accept);
    const pem = res.body.toString('utf8');
    if (!pem.includes('-----BEGIN CERTIFICATE-----'))
      throw new AcmeTransportError('certificate response is not a PEM chain', url);
    const out: { pem: string; certNotBefore?: Date; certNotAfter?: Date } = { pem };
    const notBefore = httpDate(res.headers['cert-not-before']);
    const notAfter = httpDate(res.headers['cert-not-after']);
    if (notBefore) out.certNotBefore = notBefore;
    if (notAfter) out.certNotAfter = notAfter;
    return out;
  }

  /**
   * RFC 9773 §4.2: the CA's suggested renewal window for a certificate (PEM, DER, or its certId), by
   * an unauthenticated GET of `<renewalInfo>/<certId>`. Throws AcmeUnsupportedError when the
   * directory has no `renewalInfo`.
   */
  async renewalInfo(certificate: string | Buffer, opts: { signal?: AbortSignal } = {}): Promise<RenewalInfo> {
    const dir = await this.directory();
    if (typeof dir.renewalInfo !== 'string')
      throw new AcmeUnsupportedError(
        'renewalInfo',
        'the CA does not offer ACME Renewal Information (no renewalInfo in its directory)',
      );
    const id =
      typeof certificate === 'string' && /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/.test(certificate)
        ? certificate
        : certId(certificate);
    const url = `${dir.renewalInfo.replace(/\/+$/, '')}/${id}`;
    const res = await this.transport.request('GET', url, { signal: opts.signal });
    const body = jsonBody<{ suggestedWindow?: { start?: unknown; end?: unknown }; explanationURL?: unknown }>(
      res,
    );
    const start = new Date(String(body.suggestedWindow?.start));
    const end = new Date(String(body.suggestedWindow?.end));
    if (Number.isNaN(start.getTime()) || Number.isNaN(end.getTime()) || end < start)
      throw new AcmeTransportError('renewal info has no valid suggestedWindow', url);
    const info: RenewalInfo = { suggestedWindow: { start, end } };
    if (typeof body.explanationURL === 'string') info.explanationURL = body.explanationURL;
    const now = Date.now();
    const retry = retryAfterMs(res, now);
    if (retry !== undefined) info.retryAfter = new Date(now + retry);
    return info;
  }

  /** RFC 8555 §7.5. */
  async getAuthorization(url: string, signal?: AbortSignal): Promise<AuthorizationJson> {
    return jsonBody<AuthorizationJson>(await this.#post(url, '', signal));
  }

  /** RFC 8555 §7.5.2. */
  async deactivateAuthorization(url: string): Promise<AuthorizationJson> {
    return jsonBody<AuthorizationJson>(await this.#post(url, { status: 'deactivated' }));
  }

  /** RFC 8555 §7.5.1 (POST-as-GET to a challenge URL). */
  async getChallenge(url: string): Promise<ChallengeJson> {
    return jsonBody<ChallengeJson>(await this.#post(url, ''));
  }

  /** RFC 8555 §7.5.1: tells the server to validate. The payload is {} for http-01, dns-01, tls-alpn-01. */
  async respondChallenge(url: string, payload: object = {}): Promise<ChallengeJson> {
    return jsonBody<ChallengeJson>(await this.#post(url, payload));
  }

  /**
   * Polls an authorization until it is `valid`. Throws AcmeStatusError when it ends otherwise
   * (its `problem` is the failed challenge's error), AcmeTimeoutError after `timeoutMs`.
   */
  async waitForAuthorization(url: string, opts: WaitOptions = {}): Promise<AuthorizationJson> {
    return this.#poll(url, opts, async (signal) => {
      const res = await this.#post(url, '', signal);
      const authz = jsonBody<AuthorizationJson>(res);
      if (authz.status === 'valid') return { done: authz, res };
      if (authz.status === 'pending') return { res };
      const failed = authz.challenges?.find((c) => c.error !== undefined);
      throw new AcmeStatusError(url, authz.status, ['valid'], failed?.error);
    });
  }

  /**
   * Polls an order until its status is one of `statuses`. Throws AcmeStatusError when it becomes
   * `invalid` or moves past all of them (its `problem` is the order's error), AcmeTimeoutError after
   * `timeoutMs`.
   */
  async waitForOrder(url: string, statuses: OrderStatus[], opts: WaitOptions = {}): Promise<OrderJson> {
    if (statuses.length === 0) throw new TypeError('statuses must not be empty');
    const furthest = Math.max(...statuses.map((s) => ORDER_PROGRESS[s]));
    return this.#poll(url, opts, async (signal) => {
      const res = await this.#post(url, '', signal);
      const order = jsonBody<OrderJson>(res);
      if (statuses.includes(order.status)) return { done: order, res };
      const progress = ORDER_PROGRESS[order.status];
      if (progress === undefined || order.status === 'invalid' || progress > furthest) {
        throw new AcmeStatusError(url, order.status, statuses, order.error as ProblemJson | undefined);
      }
      return { res };
    });
  }

  /** RFC 8555 §7.4: submits the CSR. The returned order may still be `processing`. */
  async finalize(order: { finalize: string }, csrDer: Buffer): Promise<OrderJson> {
    return jsonBody<OrderJson>(await this.#post(order.finalize, { csr: csrDer.toString('base64url') }));
  }

  /** RFC 8555 §7.4.2: the PEM chain, and the URLs of alternate chains (Link rel="alternate"). */
  async downloadCertificate(url: string): Promise<{ pem: string; alternates: string[] }> {
    const res = await this.#post(url, '', undefined, 'application/pem-certificate-chain');
    const pem = res.body.toString('utf8');
    if (!pem.includes('-----BEGIN CERTIFICATE-----')) {
      throw new AcmeTransportError('certificate response is not a PEM chain', url);
    }
    return { pem, alternates: links(res, 'alternate') };
  }

  /**
   * RFC 8555 §7.6. Signed by the account (kid) unless `certificateKey` is given: then by the
   * certificate's own key, with its jwk in the header. `reason` is an RFC 5280 CRLReason code.
   */
  async revokeCertificate(
    certDer: Buffer,
    opts: { reason?: number; certificateKey?: KeyObject } = {},
  ): Promise<void> {
    const dir = await this.directory();
    const payload: Record<string, unknown> = { certificate: certDer.toString('base64url') };
    if (opts.reason !== undefined) payload.reason = opts.reason;
    if (opts.certificateKey) {
      await this.transport.post(dir.revokeCert, payload, new JwsSigner(opts.certificateKey), {
        nonceUrl: dir.newNonce,
      });
    } else {
      await this.#post(dir.revokeCert, payload);
    }
  }

  /** RFC 8555 §8.1: token '.' thumbprint(account key). */
  keyAuthorization(token: string): string {
    return keyAuthorization(token, this.#signer.thumbprint);
  }

  /** RFC 8555 §8.4: the TXT record value for `_acme-challenge.<domain>`. */
  dns01TxtValue(token: string): string {
    return dns01TxtValue(this.keyAuthorization(token));
  }

  #requireAccount(): string {
    if (this.#accountUrl === undefined) throw new TypeError('no account URL: call newAccount() first');
    return this.#accountUrl;
  }

  async #post(
    url: string,
    payload: object | '',
    signal?: AbortSignal,
    accept?: string,
  ): Promise<HttpResponse> {
    const dir = await this.directory();
    return this.transport.post(url, payload, this.#signer, {
      nonceUrl: dir.newNonce,
      kid: this.#requireAccount(),
      signal,
      accept,
    });
  }

  /** Polls `check` until it returns `done`, sleeping Retry-After when given, else 50 ms doubling to 3 s. */
  async #poll<T>(
    url: string,
    opts: WaitOptions,
    check: (signal?: AbortSignal) => Promise<{ done?: T; res: HttpResponse }>,
  ): Promise<T> {
    const timeoutMs = opts.timeoutMs ?? DEFAULT_WAIT_TIMEOUT_MS;
    const deadline = Date.now() + timeoutMs;
    let backoff = FIRST_POLL_DELAY_MS;
    for (;;) {
      opts.signal?.throwIfAborted();
      const { done, res } = await check(opts.signal);
      if (done !== undefined) return done;
      const now = Date.now();
      if (now >= deadline) throw new AcmeTimeoutError('waiting for a status change', url, timeoutMs);
      const retryAfter = retryAfterMs(res, now);
      const delay = retryAfter === undefined ? backoff : Math.max(retryAfter, FIRST_POLL_DELAY_MS);
      backoff = Math.min(backoff * 2, MAX_POLL_DELAY_MS);
      try {
        await sleep(Math.min(delay, deadline - now), undefined, { signal: opts.signal });
      } catch (error) {
        if (opts.signal?.aborted) throw opts.signal.reason;
        throw error;
      }
    }
  }
}

function rfc3339(value: Date | string, what: string): string {
  const date = value instanceof Date ? value : new Date(value);
  if (Number.isNaN(date.getTime())) throw new TypeError(`${what} is not a valid date`);
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** RFC 8739 §3.1.1 member names and encodings. */
export function autoRenewalPayload(opts: AutoRenewalOptions): Record<string, unknown> {
  if (!Number.isSafeInteger(opts.lifetime) || opts.lifetime <= 0)
    throw new TypeError('autoRenewal.lifetime must be a positive number of seconds');
  const out: Record<string, unknown> = {
    'end-date': rfc3339(opts.endDate, 'autoRenewal.endDate'),
    lifetime: opts.lifetime,
  };
  if (opts.startDate !== undefined) out['start-date'] = rfc3339(opts.startDate, 'autoRenewal.startDate');
  if (opts.lifetimeAdjust !== undefined) {
    if (!Number.isSafeInteger(opts.lifetimeAdjust) || opts.lifetimeAdjust < 0)
      throw new TypeError('autoRenewal.lifetimeAdjust must be a non-negative number of seconds');
    out['lifetime-adjust'] = opts.lifetimeAdjust;
  }
  if (opts.allowCertificateGet !== undefined) out['allow-certificate-get'] = opts.allowCertificateGet;
  return out;
}

function httpDate(value: string | string[] | undefined): Date | undefined {
  if (typeof value !== 'string') return undefined;
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? undefined : date;
}
