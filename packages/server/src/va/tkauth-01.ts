import { timingSafeEqual, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { type Identifier, pemToDer } from '@akamu/protocol';
import { decodeProtectedHeader, jwtVerify } from 'jose';
import { decodeTnAuthList, IDENTIFIER_TYPE_TNAUTHLIST } from '../core/tnauthlist.ts';
import type { AuthorityTokenLedger } from '../sa/authority-token-ledger.ts';
import {
  type ChallengeValidator,
  problem,
  type ValidationOutcome,
  type ValidationRequest,
} from './validator.ts';

/** JWS algorithms accepted for authority tokens (RFC 7518; no "none", no HMAC). */
const ALGORITHMS = ['ES256', 'ES384', 'ES512', 'RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'EdDSA'];
const MAX_TOKEN_LENGTH = 64 * 1024;
const MAX_CHAIN = 5;

export interface TkAuth01Options {
  /** RFC 9447 §3 "token-authority": where clients get tokens (shown in the challenge), may be empty. */
  tokenAuthority: string | undefined;
  /** Token Authority trust anchors: the x5c chain of a token must end at (or under) one of them. */
  trustAnchors: X509Certificate[];
  ledger: AuthorityTokenLedger;
  now?: () => number;
}

/**
 * RFC 9447 §4 / RFC 9448 §5.1: the "fingerprint" binding of an ATC token to the ACME account, a
 * SHA-256 fingerprint in the RFC 4572 form ("SHA256 AB:CD:…") of the account key's RFC 7638 JWK
 * thumbprint input, i.e. the bytes of the account's JWK thumbprint.
 */
export function accountFingerprint(thumbprint: string): string {
  const hex = Buffer.from(thumbprint, 'base64url').toString('hex').toUpperCase();
  return `SHA256 ${hex.match(/../g)!.join(':')}`;
}

/** The digest bytes of an RFC 4572 SHA-256 fingerprint ("SHA256" or "sha-256", then colon hex). */
export function parseFingerprint(text: unknown): Buffer | undefined {
  if (typeof text !== 'string') return undefined;
  const m = /^(?:SHA256|SHA-256)\s+((?:[0-9A-F]{2}:){31}[0-9A-F]{2})$/i.exec(text.trim());
  return m ? Buffer.from(m[1]!.replace(/:/g, ''), 'hex') : undefined;
}

/**
 * Validates an x5c chain (leaf first, RFC 7515 §4.1.6) against trust anchors: each certificate is
 * issued and signed by the next and valid now; intermediates are CAs; the last is a trust anchor or is
 * issued and signed by one. Returns the anchor, or why the chain is not trusted.
 */
export function verifyChain(
  chain: X509Certificate[],
  anchors: X509Certificate[],
  now: number,
): { anchor: X509Certificate } | { error: string } {
  if (chain.length === 0) return { error: 'the x5c chain is empty' };
  for (const [i, cert] of chain.entries()) {
    if (Date.parse(cert.validFrom) > now || Date.parse(cert.validTo) < now) {
      return { error: `x5c certificate ${i} (${cert.subject.replace(/\n/g, ', ')}) is not valid now` };
    }
    const next = chain[i + 1];
    if (next) {
      if (!next.ca) return { error: `x5c certificate ${i + 1} is not a CA certificate` };
      if (!cert.checkIssued(next) || !cert.verify(next.publicKey)) {
        return { error: `x5c certificate ${i} is not signed by certificate ${i + 1}` };
      }
    }
  }
  const last = chain.at(-1)!;
  for (const anchor of anchors) {
    if (last.fingerprint256 === anchor.fingerprint256) return { anchor };
    if (last.checkIssued(anchor) && last.verify(anchor.publicKey)) return { anchor };
  }
  return { error: 'the x5c chain does not lead to a configured Token Authority trust anchor' };
}

/**
 * RFC 9447 tkauth-01 with tkauth-type "atc", for TNAuthList identifiers (RFC 9448). The client posts
 * `{ atc: "<JWT>" }`; the token must be signed by the key of its x5c leaf, the chain must lead to a
 * configured trust anchor, `exp` must not have passed, `jti` must not have been redeemed before, and the
 * `atc` claim must name tktype TNAuthList, tkvalue equal to the identifier (as DER), and the account's
 * fingerprint. A token for a CA certificate (`ca: true`) is refused: akamu issues end-entity certificates.
 */
export class TkAuth01Validator implements ChallengeValidator {
  readonly type = 'tkauth-01';
  readonly #opts: TkAuth01Options;

  constructor(opts: TkAuth01Options) {
    this.#opts = opts;
  }

  supports(identifier: Identifier, wildcard: boolean): boolean {
    return !wildcard && identifier.type === IDENTIFIER_TYPE_TNAUTHLIST && this.#opts.trustAnchors.length > 0;
  }

  challengeFields(): Record<string, unknown> {
    const fields: Record<string, unknown> = { 'tkauth-type': 'atc' };
    if (this.#opts.tokenAuthority) fields['token-authority'] = this.#opts.tokenAuthority;
    return fields;
  }

  async validate(req: ValidationRequest): Promise<ValidationOutcome> {
    const { identifier } = req;
    const now = this.#opts.now?.() ?? Date.now();
    const token = req.payload?.atc;
    if (typeof token !== 'string' || token.length === 0 || token.length > MAX_TOKEN_LENGTH) {
      return problem(
        'malformed',
        'the tkauth-01 response must carry "atc", the authority token (a JWT)',
        identifier,
      );
    }
    let header: ReturnType<typeof decodeProtectedHeader>;
    try {
      header = decodeProtectedHeader(token);
    } catch {
      return problem('malformed', 'the authority token is not a JWT', identifier);
    }
    if (!Array.isArray(header.x5c) || header.x5c.length === 0 || header.x5c.length > MAX_CHAIN) {
      return problem(
        'unauthorized',
        `the authority token must carry an x5c chain of 1 to ${MAX_CHAIN} certificates`,
        identifier,
      );
    }
    let chain: X509Certificate[];
    try {
      chain = header.x5c.map((b64) => new X509Certificate(Buffer.from(String(b64), 'base64')));
    } catch {
      return problem('unauthorized', 'the x5c header holds a certificate that cannot be parsed', identifier);
    }
    const trusted = verifyChain(chain, this.#opts.trustAnchors, now);
    if ('error' in trusted) return problem('unauthorized', trusted.error, identifier);

    let claims: Record<string, unknown>;
    try {
      const verified = await jwtVerify(token, chain[0]!.publicKey, {
        algorithms: ALGORITHMS,
        currentDate: new Date(now),
        requiredClaims: ['exp', 'jti'],
      });
      claims = verified.payload as Record<string, unknown>;
    } catch (e) {
      const code = (e as { code?: string }).code;
      const why =
        code === 'ERR_JWT_EXPIRED'
          ? 'the authority token has expired'
          : code === 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED'
            ? 'the authority token signature does not verify with its x5c certificate'
            : `the authority token is not acceptable: ${(e as Error).message}`;
      return problem('unauthorized', why, identifier);
    }

    const atc = claims.atc;
    if (typeof atc !== 'object' || atc === null || Array.isArray(atc)) {
      return problem('unauthorized', 'the authority token has no "atc" claim', identifier);
    }
    const { tktype, tkvalue, fingerprint, ca } = atc as Record<string, unknown>;
    if (tktype !== IDENTIFIER_TYPE_TNAUTHLIST) {
      return problem(
        'unauthorized',
        `the token's atc.tktype is ${JSON.stringify(tktype)}, not "TNAuthList"`,
        identifier,
      );
    }
    const wanted = decodeTnAuthList(identifier.value);
    const given = typeof tkvalue === 'string' ? decodeTnAuthList(tkvalue) : { error: 'missing' };
    if ('error' in wanted || 'error' in given || !given.der.equals(wanted.der)) {
      return problem(
        'unauthorized',
        "the token's atc.tkvalue is not this identifier's TNAuthList",
        identifier,
      );
    }
    if (ca !== undefined && ca !== false) {
      return problem(
        'unauthorized',
        'the token authorizes a CA certificate; this CA issues end-entity certificates',
        identifier,
      );
    }
    const expected = Buffer.from(
      req.keyAuthorization.slice(req.keyAuthorization.indexOf('.') + 1),
      'base64url',
    );
    const bound = parseFingerprint(fingerprint);
    if (!bound || bound.length !== expected.length || !timingSafeEqual(bound, expected)) {
      return problem(
        'unauthorized',
        `the token's atc.fingerprint is not this account's key fingerprint (${accountFingerprint(expected.toString('base64url'))})`,
        identifier,
      );
    }
    const jti = String(claims.jti);
    const exp = Number(claims.exp) * 1000;
    if (!(await this.#opts.ledger.redeem(trusted.anchor.fingerprint256, jti, exp, now))) {
      return problem(
        'unauthorized',
        `the authority token (jti ${JSON.stringify(jti)}) was already used`,
        identifier,
      );
    }
    return undefined;
  }
}

/** Reads `tkauth.trust_anchors`: PEM files, each with one or more CA certificates. */
export function loadTrustAnchors(files: string[]): X509Certificate[] {
  const anchors: X509Certificate[] = [];
  for (const file of files) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (e) {
      throw new Error(`tkauth.trust_anchors: cannot read ${file}: ${(e as Error).message}`);
    }
    const ders = pemToDer(text);
    if (ders.length === 0) throw new Error(`tkauth.trust_anchors: ${file} holds no PEM certificate`);
    for (const der of ders) anchors.push(new X509Certificate(der));
  }
  return anchors;
}
