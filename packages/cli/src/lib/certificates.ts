/** Reading issued certificates: split a PEM chain, the names it covers, and a summary for output. */
import { X509Certificate } from 'node:crypto';
import { isIP } from 'node:net';
import type { Identifier } from '@akamu/protocol';
import { configError } from './exit-codes.ts';

const PEM_BLOCK = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/** The certificates of a PEM chain, leaf first, each as a PEM block ending in a newline. */
export function splitPemChain(pem: string): string[] {
  return (pem.match(PEM_BLOCK) ?? []).map((block) => `${block}\n`);
}

/** Parses the leaf of a PEM file; a file with no certificate is a configuration error. */
export function parseLeaf(pem: string, path: string): X509Certificate {
  const [leaf] = splitPemChain(pem);
  if (!leaf) throw configError(`${path} contains no PEM certificate`);
  try {
    return new X509Certificate(leaf);
  } catch (error) {
    throw configError(`${path}: not a valid certificate: ${(error as Error).message}`, error);
  }
}

/** `-d` values to ACME identifiers: IP addresses become ip identifiers (RFC 8738), the rest dns. */
export function identifiersFromNames(names: readonly string[]): Identifier[] {
  return names.map((name) =>
    isIP(name) ? { type: 'ip', value: name } : { type: 'dns', value: name.toLowerCase() },
  );
}

/** The dns and ip names in a certificate's subjectAltName. */
export function identifiersOfCertificate(cert: X509Certificate): Identifier[] {
  const out: Identifier[] = [];
  for (const part of (cert.subjectAltName ?? '').split(/,\s*/)) {
    if (part.startsWith('DNS:')) out.push({ type: 'dns', value: part.slice(4) });
    else if (part.startsWith('IP Address:')) out.push({ type: 'ip', value: part.slice(11) });
  }
  return out;
}

/** Same set of identifiers, ignoring order and case. */
export function sameIdentifiers(a: readonly Identifier[], b: readonly Identifier[]): boolean {
  const key = (ids: readonly Identifier[]) =>
    ids
      .map((id) => `${id.type}:${id.value.toLowerCase()}`)
      .sort()
      .join(',');
  return key(a) === key(b);
}

export interface CertificateSummary {
  subject: string;
  issuer: string;
  serial: string;
  notBefore: string;
  notAfter: string;
  identifiers: Identifier[];
  sha256: string;
}

export function summarize(cert: X509Certificate): CertificateSummary {
  return {
    subject: cert.subject,
    issuer: cert.issuer,
    serial: cert.serialNumber.toLowerCase(),
    notBefore: new Date(cert.validFrom).toISOString(),
    notAfter: new Date(cert.validTo).toISOString(),
    identifiers: identifiersOfCertificate(cert),
    sha256: cert.fingerprint256,
  };
}
