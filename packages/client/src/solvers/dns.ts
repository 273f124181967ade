/**
 * DNS challenges: the dns-01 record name and value (RFC 8555 §8.4), the dns-persist-01 record
 * (draft-ietf-acme-dns-persist), and two dns-01 solvers: DnsHookSolver runs operator scripts,
 * Rfc2136Solver sends RFC 2136 dynamic updates (optionally TSIG-signed, RFC 8945) to a name server
 * and waits until that server answers with the record.
 */
import { execFile } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { type ChallengeJson, dns01TxtValue, dnsPersistAccountUri, type Identifier } from '@akamu/protocol';
import {
  buildQuery,
  buildUpdate,
  CLASS,
  type DnsServerAddress,
  decodeTxt,
  encodeTxt,
  exchange,
  normalizeName,
  parseMessage,
  parseServer,
  RCODE_NAMES,
  signTsig,
  type TsigKey,
  TYPE,
  verifyTsig,
} from '../dns/wire.ts';
import { ChallengeSolverError } from '../errors.ts';
import type { ChallengeSolver } from './challenge-solver.ts';

export type { TsigAlgorithm, TsigKey } from '../dns/wire.ts';
export { dns01TxtValue };

function baseName(identifier: Identifier | string): string {
  const value = typeof identifier === 'string' ? identifier : identifier.value;
  if (typeof identifier !== 'string' && identifier.type !== 'dns')
    throw new TypeError(`DNS challenges validate dns identifiers, not ${identifier.type}`);
  const name = value.replace(/\.$/, '').replace(/^\*\./, '');
  if (name === '' || name.includes('*')) throw new TypeError(`invalid DNS name ${JSON.stringify(value)}`);
  return name;
}

/**
 * RFC 8555 §8.4: `_acme-challenge.<name>`. A wildcard identifier `*.example.com` is validated at
 * `_acme-challenge.example.com` (RFC 8555 §7.1.3).
 */
export function dns01RecordName(identifier: Identifier | string): string {
  return `_acme-challenge.${baseName(identifier)}`;
}

export interface DnsPersist01RecordOptions {
  /** The name (or dns identifier) to authorize; a leading `*.` is removed. */
  domain: Identifier | string;
  /** The CA's issuer domain name, as in its CAA `issue` values (the challenge's `issuer-domain-names`). */
  issuerDomainName: string;
  /** The ACME account URL (client.accountUrl). */
  accountUrl: string;
  /** Also authorize wildcard certificates and subdomains: `policy=wildcard`. */
  wildcard?: boolean;
  /** The record stops authorizing issuance after this time: `persistUntil=<UNIX seconds>`. */
  persistUntil?: Date | number;
  /**
   * The directory's `meta.accountHashPrefix` (draft-ietf-acme-dns-persist-02 §4.1). When the CA
   * advertises one, `accounturi` is the hashed account URI under it rather than the account URL;
   * `thumbprint` (client.thumbprint) is then required.
   */
  accountHashPrefix?: string;
  /** The account key's RFC 7638 thumbprint, for the hashed account URI. */
  thumbprint?: string;
  /** Hashed URI only: bind the record to this name (default) or, false, to any name ("*"). */
  bindToDomain?: boolean;
}

/**
 * draft-ietf-acme-dns-persist-02 §4.1 hashed account URI: `<prefix>sha-256/<base64url(SHA-256(
 * len(domain) || domain || thumbprint || accountUrl))>`, domain being the lower-case name or "*".
 * The same function the server checks records with (@akamu/protocol).
 */
export const dnsPersistHashedAccountUri = dnsPersistAccountUri;

const ISSUER_DOMAIN =
  /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/;

/**
 * The dns-persist-01 TXT record (draft-ietf-acme-dns-persist): at `_validation-persist.<domain>`, an
 * RFC 8659 §4.2 issue-value `<issuer-domain-name>; accounturi=<account URI>[; policy=wildcard]
 * [; persistUntil=<UNIX seconds>]`. The account URI is the account URL (draft-01, CA/Browser Forum
 * BR 3.2.2.4.22), or with `accountHashPrefix` the hashed account URI of draft-02. The record is
 * long-lived: publish it once per account and CA.
 */
export function dnsPersist01Record(opts: DnsPersist01RecordOptions): { name: string; value: string } {
  const issuer = opts.issuerDomainName.toLowerCase().replace(/\.$/, '');
  if (!ISSUER_DOMAIN.test(issuer))
    throw new TypeError(`invalid issuer domain name ${JSON.stringify(opts.issuerDomainName)}`);
  // RFC 8659 §4.2 parameter values are %x21-3A / %x3C-7E: no spaces, no semicolons.
  if (!/^[\x21-\x3a\x3c-\x7e]+$/.test(opts.accountUrl))
    throw new TypeError(`invalid account URL ${JSON.stringify(opts.accountUrl)}`);
  const domain = baseName(opts.domain).toLowerCase();
  let accountUri = opts.accountUrl;
  if (opts.accountHashPrefix !== undefined) {
    if (typeof opts.thumbprint !== 'string' || opts.thumbprint === '')
      throw new TypeError('a hashed account URI needs the account key thumbprint');
    const bound = opts.bindToDomain === false ? '*' : domain;
    accountUri = dnsPersistHashedAccountUri(opts.accountHashPrefix, bound, opts.thumbprint, opts.accountUrl);
  }
  if (!/^[\x21-\x3a\x3c-\x7e]+$/.test(accountUri))
    throw new TypeError(`invalid account URI ${JSON.stringify(accountUri)}`);
  const parts = [issuer, `accounturi=${accountUri}`];
  if (opts.wildcard) parts.push('policy=wildcard');
  if (opts.persistUntil !== undefined) {
    const seconds =
      opts.persistUntil instanceof Date ? Math.floor(opts.persistUntil.getTime() / 1000) : opts.persistUntil;
    if (!Number.isSafeInteger(seconds) || seconds < 0)
      throw new TypeError('persistUntil must be a date or UNIX seconds');
    parts.push(`persistUntil=${seconds}`);
  }
  return { name: `_validation-persist.${domain}`, value: parts.join('; ') };
}

/** The dns-01 record a solver publishes for one challenge. */
function dnsRecord(identifier: Identifier, keyAuthorization: string): { name: string; value: string } {
  return { name: dns01RecordName(identifier), value: dns01TxtValue(keyAuthorization) };
}

// ---------------------------------------------------------------------------
// DnsHookSolver
// ---------------------------------------------------------------------------

export interface DnsHookSolverOptions {
  /** Executable that publishes the TXT record: `deploy <domain> <txt-name> <txt-value>`. */
  deploy: string;
  /** Executable that removes it again: `clean <domain> <txt-name> <txt-value>`. */
  clean: string;
  /** Extra environment for both (the ACME_* variables are set on top). */
  env?: Record<string, string>;
  /** Kill a hook (SIGKILL) and fail after this long. Default 120 000. */
  timeoutMs?: number;
}

const HOOK_OUTPUT_LIMIT = 1024 * 1024;

/**
 * dns-01 through operator scripts. Each hook is run directly (no shell) with three arguments, the
 * domain without `*.`, the record name and the TXT value, and these environment variables (plus
 * the solver's `env` and the caller's environment):
 *
 *   ACME_ACTION            deploy | clean
 *   ACME_CHALLENGE_TYPE    dns-01
 *   ACME_DOMAIN            www.example.com (the identifier without a leading `*.`)
 *   ACME_IDENTIFIER        the identifier as ordered (`*.example.com` for a wildcard)
 *   ACME_WILDCARD          1 for a wildcard identifier, else 0
 *   ACME_TXT_NAME          _acme-challenge.www.example.com (no trailing dot)
 *   ACME_TXT_VALUE         the base64url SHA-256 of the key authorization
 *   ACME_TOKEN             the challenge token
 *   ACME_KEY_AUTHORIZATION token.thumbprint
 *
 * `deploy` must return once the record is published and visible to the CA (wait for propagation in
 * the script); a non-zero exit, a signal or the timeout fails the authorization with
 * ChallengeSolverError, which carries the end of the hook's stderr.
 */
export class DnsHookSolver implements ChallengeSolver {
  readonly type = 'dns-01';
  readonly #options: DnsHookSolverOptions;
  readonly #timeoutMs: number;

  constructor(opts: DnsHookSolverOptions) {
    if (typeof opts.deploy !== 'string' || opts.deploy === '')
      throw new TypeError('deploy must name an executable');
    if (typeof opts.clean !== 'string' || opts.clean === '')
      throw new TypeError('clean must name an executable');
    this.#timeoutMs = opts.timeoutMs ?? 120_000;
    if (!(this.#timeoutMs > 0)) throw new TypeError('timeoutMs must be positive');
    this.#options = opts;
  }

  present(identifier: Identifier, challenge: ChallengeJson, keyAuthorization: string): Promise<void> {
    return this.#run('deploy', identifier, challenge, keyAuthorization);
  }

  cleanup(identifier: Identifier, challenge: ChallengeJson, keyAuthorization: string): Promise<void> {
    return this.#run('clean', identifier, challenge, keyAuthorization);
  }

  #run(
    action: 'deploy' | 'clean',
    identifier: Identifier,
    challenge: ChallengeJson,
    keyAuthorization: string,
  ): Promise<void> {
    const { name, value } = dnsRecord(identifier, keyAuthorization);
    const domain = baseName(identifier);
    const env = {
      ...process.env,
      ...this.#options.env,
      ACME_ACTION: action,
      ACME_CHALLENGE_TYPE: this.type,
      ACME_DOMAIN: domain,
      ACME_IDENTIFIER: identifier.value,
      ACME_WILDCARD: identifier.value.startsWith('*.') ? '1' : '0',
      ACME_TXT_NAME: name,
      ACME_TXT_VALUE: value,
      ACME_TOKEN: challenge.token,
      ACME_KEY_AUTHORIZATION: keyAuthorization,
    };
    const file = action === 'deploy' ? this.#options.deploy : this.#options.clean;
    return new Promise((resolve, reject) => {
      execFile(
        file,
        [domain, name, value],
        { env, timeout: this.#timeoutMs, killSignal: 'SIGKILL', maxBuffer: HOOK_OUTPUT_LIMIT },
        (error, _stdout, stderr) => {
          if (!error) return resolve();
          const tail = String(stderr).trim().slice(-2000);
          const e = error as NodeJS.ErrnoException & { killed?: boolean; signal?: string; code?: unknown };
          const why = e.killed
            ? `timed out after ${this.#timeoutMs} ms`
            : typeof e.code === 'number'
              ? `exited with status ${e.code}`
              : e.signal
                ? `was killed by ${e.signal}`
                : e.message;
          reject(
            new ChallengeSolverError(this.type, `${action} hook ${file} ${why}${tail ? `: ${tail}` : ''}`, {
              identifier,
              cause: error,
            }),
          );
        },
      );
    });
  }
}

// ---------------------------------------------------------------------------
// Rfc2136Solver
// ---------------------------------------------------------------------------

export interface Rfc2136SolverOptions {
  /** The primary name server accepting updates: `host:port` (`[v6]:port`; port 53 when omitted). */
  server: string;
  /** The zone to update; by default found by asking the server for the SOA of the record name. */
  zone?: string;
  /** Sign updates with TSIG (RFC 8945); the server's answers must then be signed with the same key. */
  tsig?: TsigKey;
  /** TTL of the TXT records. Default 60. */
  ttl?: number;
  /** How long present() waits for the server to answer with the record. Default 60 000. */
  propagationTimeoutMs?: number;
  /** Per DNS exchange (UDP, then TCP). Default 5 000. */
  timeoutMs?: number;
}

/**
 * dns-01 through RFC 2136 dynamic updates. present() adds the TXT record (an UPDATE with the zone's
 * SOA in the zone section and one RR in the update section), then queries the same server until it
 * answers with the value; cleanup() deletes exactly that record (class NONE, RFC 2136 §2.5.4), so
 * other values at the same name (a wildcard and its base name) stay. Messages go over UDP, over TCP
 * when truncated or too large.
 */
export class Rfc2136Solver implements ChallengeSolver {
  readonly type = 'dns-01';
  readonly #server: DnsServerAddress;
  readonly #options: Rfc2136SolverOptions;
  readonly #ttl: number;
  readonly #timeoutMs: number;
  readonly #propagationTimeoutMs: number;
  /** name|value → presentations not yet cleaned up (orders sharing a pending authorization). */
  readonly #refs = new Map<string, number>();

  constructor(opts: Rfc2136SolverOptions) {
    this.#server = parseServer(opts.server);
    this.#ttl = opts.ttl ?? 60;
    this.#timeoutMs = opts.timeoutMs ?? 5_000;
    this.#propagationTimeoutMs = opts.propagationTimeoutMs ?? 60_000;
    if (!Number.isInteger(this.#ttl) || this.#ttl < 0 || this.#ttl > 0x7fffffff)
      throw new TypeError('invalid ttl');
    if (opts.tsig) {
      if (opts.tsig.algorithm !== 'hmac-sha256' && opts.tsig.algorithm !== 'hmac-sha512')
        throw new TypeError(`unsupported TSIG algorithm ${String(opts.tsig.algorithm)}`);
      if (!Buffer.isBuffer(opts.tsig.secret) || opts.tsig.secret.length === 0)
        throw new TypeError('tsig.secret must be a non-empty Buffer');
    }
    this.#options = opts;
  }

  async present(identifier: Identifier, challenge: ChallengeJson, keyAuthorization: string): Promise<void> {
    const { name, value } = dnsRecord(identifier, keyAuthorization);
    const key = `${normalizeName(name)}|${value}`;
    const refs = this.#refs.get(key) ?? 0;
    if (refs === 0) {
      const zone = this.#options.zone ?? (await this.findZone(name, identifier));
      await this.#update(zone, name, value, 'add', identifier);
    }
    this.#refs.set(key, refs + 1);
    try {
      await this.#waitVisible(name, value, identifier);
    } catch (error) {
      // present() failed, so nobody will call cleanup(): take the record back out.
      await this.cleanup(identifier, challenge, keyAuthorization).catch(() => {});
      throw error;
    }
  }

  async cleanup(identifier: Identifier, _challenge: ChallengeJson, keyAuthorization: string): Promise<void> {
    const { name, value } = dnsRecord(identifier, keyAuthorization);
    const key = `${normalizeName(name)}|${value}`;
    const refs = this.#refs.get(key) ?? 0;
    if (refs > 1) {
      this.#refs.set(key, refs - 1);
      return;
    }
    this.#refs.delete(key);
    const zone = this.#options.zone ?? (await this.findZone(name, identifier));
    await this.#update(zone, name, value, 'delete', identifier);
  }

  /** The TXT values the server answers for `name` (authoritatively, no recursion). */
  async lookupTxt(name: string): Promise<string[]> {
    const answer = parseMessage(await exchange(this.#server, buildQuery(name, TYPE.TXT), this.#timeoutMs));
    if (answer.rcode !== 0 && answer.rcode !== 3)
      throw new Error(`TXT query for ${name} answered ${RCODE_NAMES[answer.rcode] ?? answer.rcode}`);
    const wanted = normalizeName(name);
    return answer.answers
      .filter((r) => r.type === TYPE.TXT && normalizeName(r.name) === wanted)
      .map((r) => decodeTxt(r.data));
  }

  /**
   * The zone containing `name`: the owner of the SOA the server returns for it (in the answer, or in
   * the authority section of a negative answer), asking for each parent in turn until one has one.
   */
  async findZone(name: string, identifier?: Identifier): Promise<string> {
    const labels = normalizeName(name).split('.');
    for (let i = 0; i < labels.length; i++) {
      const candidate = labels.slice(i).join('.');
      let answer: ReturnType<typeof parseMessage>;
      try {
        answer = parseMessage(await exchange(this.#server, buildQuery(candidate, TYPE.SOA), this.#timeoutMs));
      } catch (cause) {
        throw new ChallengeSolverError(this.type, `SOA query for ${candidate} failed: ${errorText(cause)}`, {
          identifier,
          cause,
        });
      }
      const soa = [...answer.answers, ...answer.authorities].find((r) => r.type === TYPE.SOA);
      if (soa) return normalizeName(soa.name);
    }
    throw new ChallengeSolverError(this.type, `no zone found for ${name} at ${this.#options.server}`, {
      identifier,
    });
  }

  async #update(
    zone: string,
    name: string,
    value: string,
    action: 'add' | 'delete',
    identifier: Identifier,
  ): Promise<void> {
    const record =
      action === 'add'
        ? { name, type: TYPE.TXT, class: CLASS.IN, ttl: this.#ttl, data: encodeTxt(value) }
        : { name, type: TYPE.TXT, class: CLASS.NONE, ttl: 0, data: encodeTxt(value) };
    let message = buildUpdate(zone, [record]);
    let requestMac: Buffer | undefined;
    const { tsig } = this.#options;
    if (tsig) ({ message, mac: requestMac } = signTsig(message, tsig));
    const what = `${action} TXT ${name} in zone ${zone} at ${this.#options.server}`;
    let raw: Buffer;
    try {
      raw = await exchange(this.#server, message, this.#timeoutMs);
    } catch (cause) {
      throw new ChallengeSolverError(this.type, `${what} failed: ${errorText(cause)}`, { identifier, cause });
    }
    const answer = parseMessage(raw);
    if (tsig) {
      const check = verifyTsig(raw, tsig, requestMac);
      if (answer.rcode !== 0) {
        const tsigError = check.error ? ` (TSIG ${RCODE_NAMES[check.error] ?? check.error})` : '';
        throw new ChallengeSolverError(
          this.type,
          `${what} refused: ${RCODE_NAMES[answer.rcode] ?? answer.rcode}${tsigError}`,
          { identifier },
        );
      }
      if (!check.valid)
        throw new ChallengeSolverError(
          this.type,
          `${what}: the answer's TSIG does not verify (${check.reason})`,
          { identifier },
        );
    } else if (answer.rcode !== 0) {
      throw new ChallengeSolverError(
        this.type,
        `${what} refused: ${RCODE_NAMES[answer.rcode] ?? answer.rcode}`,
        { identifier },
      );
    }
  }

  async #waitVisible(name: string, value: string, identifier: Identifier): Promise<void> {
    const deadline = Date.now() + this.#propagationTimeoutMs;
    let delay = 50;
    let last = '';
    for (;;) {
      try {
        if ((await this.lookupTxt(name)).includes(value)) return;
        last = 'not in the answer';
      } catch (error) {
        last = errorText(error);
      }
      const left = deadline - Date.now();
      if (left <= 0)
        throw new ChallengeSolverError(
          this.type,
          `TXT ${name} not visible at ${this.#options.server} after ${this.#propagationTimeoutMs} ms (${last})`,
          { identifier },
        );
      await sleep(Math.min(delay, left));
      delay = Math.min(delay * 2, 1_000);
    }
  }
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
