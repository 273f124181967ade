import type { KeyObject } from 'node:crypto';
import { describeKey } from '../ca/csr.ts';
import { AcmeError, malformed } from '../errors.ts';

/**
 * RFC 9115 §4: the CSR template of a delegation. The subset this CA checks: the allowed key types, the
 * subject common name and the subjectAltName dNSNames; a value of "**" lets the delegate choose it. Other
 * subject attributes are accepted in a template but never copied into certificates (the issuer sets the
 * subject to the CN only), so they are not compared.
 */
export interface CsrTemplate {
  keyTypes: KeyTypeRule[];
  commonName: string | undefined;
  dnsNames: string[];
}

export interface KeyTypeRule {
  publicKeyType: 'id-ecPublicKey' | 'rsaEncryption' | 'id-Ed25519';
  namedCurve?: string;
  publicKeyLength?: number;
}

export const ANY_VALUE = '**';

const CURVES: Record<string, string> = { secp256r1: 'P-256', secp384r1: 'P-384', secp521r1: 'P-521' };

/** Validates a template given by the operator (RFC 9115 §4.1 schema, the members above). */
export function parseCsrTemplate(raw: unknown): CsrTemplate {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw malformed('the csr-template must be a JSON object');
  }
  const t = raw as Record<string, unknown>;
  if (!Array.isArray(t.keyTypes) || t.keyTypes.length === 0) {
    throw malformed('the csr-template needs a non-empty keyTypes array');
  }
  const keyTypes = t.keyTypes.map((k): KeyTypeRule => {
    const o = (typeof k === 'object' && k !== null ? k : {}) as Record<string, unknown>;
    if (o.PublicKeyType === 'id-ecPublicKey') {
      if (typeof o.namedCurve !== 'string' || !(o.namedCurve in CURVES)) {
        throw malformed('an id-ecPublicKey key type needs namedCurve secp256r1, secp384r1 or secp521r1');
      }
      return { publicKeyType: 'id-ecPublicKey', namedCurve: o.namedCurve };
    }
    if (o.PublicKeyType === 'rsaEncryption') {
      if (
        typeof o.PublicKeyLength !== 'number' ||
        !Number.isInteger(o.PublicKeyLength) ||
        o.PublicKeyLength < 2048
      ) {
        throw malformed('an rsaEncryption key type needs a PublicKeyLength of at least 2048');
      }
      return { publicKeyType: 'rsaEncryption', publicKeyLength: o.PublicKeyLength };
    }
    if (o.PublicKeyType === 'id-Ed25519') return { publicKeyType: 'id-Ed25519' };
    throw malformed(`unsupported PublicKeyType ${JSON.stringify(o.PublicKeyType)} in the csr-template`);
  });
  const subject = (t.subject ?? {}) as Record<string, unknown>;
  if (typeof subject !== 'object' || Array.isArray(subject))
    throw malformed('csr-template subject must be an object');
  const commonName = subject.commonName;
  if (commonName !== undefined && typeof commonName !== 'string') {
    throw malformed('csr-template subject.commonName must be a string');
  }
  const extensions = (t.extensions ?? {}) as Record<string, unknown>;
  const san = (extensions.subjectAltName ?? {}) as Record<string, unknown>;
  const dns = san.DNS;
  if (!Array.isArray(dns) || dns.length === 0 || !dns.every((d) => typeof d === 'string' && d.length > 0)) {
    throw malformed('the csr-template needs extensions.subjectAltName.DNS: a non-empty array of names');
  }
  const eku = extensions.extendedKeyUsage;
  if (eku !== undefined && !(Array.isArray(eku) && eku.includes('serverAuth'))) {
    throw malformed('this CA issues serverAuth certificates only; extendedKeyUsage must include serverAuth');
  }
  return { keyTypes, commonName, dnsNames: dns.map((d: string) => (d === ANY_VALUE ? d : d.toLowerCase())) };
}

/** RFC 9115 §2.3.1: every identifier of a delegated order must be allowed by the template. */
export function checkIdentifiersMatchTemplate(names: string[], template: CsrTemplate): void {
  const bad = names.filter((n) => !template.dnsNames.includes(ANY_VALUE) && !template.dnsNames.includes(n));
  if (bad.length > 0) {
    throw malformed(`the delegation's CSR template does not allow ${bad.join(', ')}`);
  }
}

/** RFC 9115 §4: the CSR must fit the template (key type, CN, SAN names); else badCSR. */
export function checkCsrMatchesTemplate(
  csr: { publicKey: KeyObject; commonName?: string; dnsNames: string[] },
  template: CsrTemplate,
): void {
  const key = describeKey(csr.publicKey);
  const keyOk = template.keyTypes.some((k) => {
    if (k.publicKeyType === 'id-ecPublicKey') return key.type === 'ec' && key.curve === CURVES[k.namedCurve!];
    if (k.publicKeyType === 'rsaEncryption') return key.type === 'rsa' && key.bits === k.publicKeyLength;
    return key.type === 'ed25519';
  });
  if (!keyOk) throw new AcmeError('badCSR', "the CSR's key type is not one the delegation's template allows");
  if (
    template.commonName !== undefined &&
    template.commonName !== ANY_VALUE &&
    csr.commonName !== undefined &&
    csr.commonName.toLowerCase() !== template.commonName.toLowerCase()
  ) {
    throw new AcmeError('badCSR', "the CSR's common name is not the delegation template's");
  }
  const bad = csr.dnsNames.filter(
    (n) => !template.dnsNames.includes(ANY_VALUE) && !template.dnsNames.includes(n),
  );
  if (bad.length > 0) {
    throw new AcmeError('badCSR', `the delegation's CSR template does not allow ${bad.join(', ')}`);
  }
}
