import { createHash, type KeyObject, X509Certificate } from 'node:crypto';
import type { ClientIdentity } from '../wfe/client-identity.ts';
import type { ClientKeyType } from './tls-config.ts';

/**
 * Verification of a client certificate chain against the configured trust anchors and rules, the same for
 * a certificate presented in the TLS handshake and one forwarded by a trusted proxy (RFC 5280 §6.1 path
 * validation, restricted to what a client-certificate policy needs: signatures, validity, CA flags,
 * depth, key types and sizes, extended key usage, revocation by akamu's own records).
 */

export const EKU_CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';
const EKU_ANY = '2.5.29.37.0';

export interface ClientCertRules {
  anchors: X509Certificate[];
  /** Most intermediates between the client certificate and its trust anchor. */
  maxIntermediates: number;
  minRsaBits: number;
  keyTypes: ReadonlySet<ClientKeyType>;
  /**
   * Whether a certificate is revoked by akamu's own records; called for client certificates issued by
   * akamu's issuing CA (`issuedByUs`). Undefined: no revocation checking.
   */
  isRevoked?: (serialHex: string) => Promise<boolean>;
  issuedByUs?: (leaf: X509Certificate) => boolean;
}

/**
 * OpenSSL's verdict on a chain presented in the TLS handshake (tls.TLSSocket authorized and
 * authorizationError), verified against the same trust anchors. Node does not report the intermediates
 * a client sent to a server (getPeerCertificate(true) stops at the client certificate), so for these
 * the path itself is OpenSSL's and akamu applies its rules to what it can see.
 */
export interface HandshakeVerdict {
  authorized: boolean;
  error?: string;
}

export type ClientCertVerdict = { ok: true; identity: ClientIdentity } | { ok: false; reason: string };

/** The key type name of a public key as `client_key_types` spells it; undefined for others (DSA, DH…). */
export function clientKeyTypeOf(key: KeyObject): ClientKeyType | undefined {
  const type = key.asymmetricKeyType as string | undefined;
  switch (type) {
    case 'rsa':
    case 'rsa-pss':
      return 'rsa';
    case 'ec': {
      const curve = key.asymmetricKeyDetails?.namedCurve;
      if (curve === 'prime256v1') return 'ec:P-256';
      if (curve === 'secp384r1') return 'ec:P-384';
      if (curve === 'secp521r1') return 'ec:P-521';
      return undefined;
    }
    case 'ed25519':
    case 'ed448':
    case 'ml-dsa-44':
    case 'ml-dsa-65':
    case 'ml-dsa-87':
      return type;
    default:
      return undefined;
  }
}

/** Key type and size rules for one certificate of the chain; a reason when it breaks one. */
export function keyRuleViolation(
  cert: X509Certificate,
  rules: ClientCertRules,
  what: string,
): string | undefined {
  const type = clientKeyTypeOf(cert.publicKey);
  if (type === 'rsa') {
    const bits = cert.publicKey.asymmetricKeyDetails?.modulusLength ?? 0;
    if (bits < rules.minRsaBits)
      return `${what} has a ${bits}-bit RSA key (at least ${rules.minRsaBits} required)`;
  }
  if (what === 'the client certificate' && (type === undefined || !rules.keyTypes.has(type))) {
    return `${what} has a ${type ?? cert.publicKey.asymmetricKeyType} key, which is not accepted`;
  }
  return undefined;
}

function validityViolation(cert: X509Certificate, now: number, what: string): string | undefined {
  if (now < cert.validFromDate.getTime()) return `${what} is not valid before ${cert.validFrom}`;
  if (now > cert.validToDate.getTime()) return `${what} expired on ${cert.validTo}`;
  return undefined;
}

function signedBy(child: X509Certificate, parent: X509Certificate): boolean {
  try {
    return child.checkIssued(parent) && child.verify(parent.publicKey);
  } catch {
    return false;
  }
}

/**
 * Verifies `leafDer` with the other certificates the client sent (any order) against the rules at `now`.
 * The path is built upward from the client certificate: each step either reaches a trust anchor or uses a
 * CA certificate the client sent.
 */
export async function verifyClientChain(
  leafDer: Buffer,
  extraDers: Buffer[],
  rules: ClientCertRules,
  now: number,
  source: ClientIdentity['source'],
  handshake?: HandshakeVerdict,
): Promise<ClientCertVerdict> {
  let leaf: X509Certificate;
  try {
    leaf = new X509Certificate(leafDer);
  } catch {
    return { ok: false, reason: 'the client certificate cannot be parsed' };
  }
  const extras: X509Certificate[] = [];
  for (const der of extraDers) {
    try {
      if (!der.equals(leafDer)) extras.push(new X509Certificate(der));
    } catch {
      return { ok: false, reason: 'a certificate of the client chain cannot be parsed' };
    }
  }
  const refuse = (reason: string): ClientCertVerdict => ({ ok: false, reason });
  const leafProblem =
    validityViolation(leaf, now, 'the client certificate') ??
    keyRuleViolation(leaf, rules, 'the client certificate');
  if (leafProblem) return refuse(leafProblem);
  if (leaf.ca) return refuse('the client certificate is a CA certificate');
  // RFC 5280 §4.2.1.12: with an extendedKeyUsage extension, the certificate must allow clientAuth.
  const ekus = leaf.keyUsage;
  if (ekus && ekus.length > 0 && !ekus.includes(EKU_CLIENT_AUTH) && !ekus.includes(EKU_ANY)) {
    return refuse('the client certificate does not allow TLS client authentication (extendedKeyUsage)');
  }

  if (handshake && !handshake.authorized) {
    return refuse(
      `the client certificate does not chain to a trusted CA (${handshake.error ?? 'unverified'})`,
    );
  }

  const path: X509Certificate[] = [leaf];
  let current = leaf;
  for (;;) {
    const anchor = rules.anchors.find((a) => signedBy(current, a));
    if (anchor) {
      const anchorProblem = validityViolation(anchor, now, `the trust anchor "${oneLine(anchor.subject)}"`);
      if (anchorProblem) return refuse(anchorProblem);
      path.push(anchor);
      break;
    }
    const next = extras.find((c) => !path.includes(c) && c.ca && signedBy(current, c));
    if (!next && handshake) {
      // OpenSSL verified a path through intermediates Node does not show: at least one more.
      if (path.length > rules.maxIntermediates) {
        return refuse(
          `the client chain has more than ${rules.maxIntermediates} intermediate CA certificates`,
        );
      }
      break;
    }
    if (!next) {
      return refuse(
        `the client certificate does not chain to a trusted CA ("${oneLine(current.issuer)}" is unknown)`,
      );
    }
    const what = `the intermediate "${oneLine(next.subject)}"`;
    const problem = validityViolation(next, now, what) ?? keyRuleViolation(next, rules, what);
    if (problem) return refuse(problem);
    path.push(next);
    if (path.length - 1 > rules.maxIntermediates) {
      return refuse(`the client chain has more than ${rules.maxIntermediates} intermediate CA certificates`);
    }
    current = next;
  }

  const serial = leaf.serialNumber.toLowerCase();
  if (rules.isRevoked && rules.issuedByUs?.(leaf) && (await rules.isRevoked(serial))) {
    return refuse('the client certificate is revoked');
  }
  return { ok: true, identity: identityOf(leaf, leafDer, source) };
}

function oneLine(dn: string): string {
  return dn.split('\n').join(', ');
}

/** The identity fields of a verified certificate. */
export function identityOf(
  cert: X509Certificate,
  der: Buffer,
  source: ClientIdentity['source'],
): ClientIdentity {
  const cn = /^CN=(.*)$/m.exec(cert.subject)?.[1];
  return {
    fingerprintSha256: createHash('sha256').update(der).digest('hex'),
    subject: cert.subject,
    commonName: cn,
    sans: parseSubjectAltName(cert.subjectAltName),
    issuer: cert.issuer,
    serial: cert.serialNumber.toLowerCase(),
    notAfter: cert.validToDate.getTime(),
    der,
    source,
  };
}

/** node:crypto's subjectAltName text ("DNS:a, IP Address:1.2.3.4, email:x@y, URI:…"), values JSON-quoted when needed. */
export function parseSubjectAltName(text: string | undefined): ClientIdentity['sans'] {
  const sans: ClientIdentity['sans'] = { dns: [], ip: [], email: [], uri: [] };
  if (!text) return sans;
  const re = /(DNS|IP Address|email|URI):("(?:[^"\\]|\\.)*"|[^,]*)(?:, |$)/g;
  for (const m of text.matchAll(re)) {
    const raw = m[2]!;
    const value = raw.startsWith('"') ? (JSON.parse(raw) as string) : raw;
    const kind = m[1] === 'DNS' ? 'dns' : m[1] === 'IP Address' ? 'ip' : m[1] === 'email' ? 'email' : 'uri';
    sans[kind].push(value);
  }
  return sans;
}
