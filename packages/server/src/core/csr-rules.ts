import type { KeyObject } from 'node:crypto';
import type { Identifier } from '@akamu/protocol';
import type { ParsedCsr } from '../ca/csr.ts';
import { describeKey } from '../ca/csr.ts';
import { AcmeError } from '../errors.ts';

/**
 * RFC 8555 §7.4: the CSR must request exactly the order's identifiers — every SAN is an identifier of the
 * order and every identifier is in the CSR (as a SAN, or the CN). A CN, if present, must be one of them.
 */
export function checkCsrMatchesOrder(csr: ParsedCsr, identifiers: Identifier[]): void {
  if (!csr.signatureValid) throw new AcmeError('badCSR', 'the CSR signature does not verify');
  if (csr.unsupportedNames.length > 0) {
    throw new AcmeError(
      'badCSR',
      `the CSR requests names of unsupported kinds: ${csr.unsupportedNames.join(', ')}`,
    );
  }
  const wanted = new Set(identifiers.map((i) => `${i.type}:${i.value}`));
  const requested = new Set([
    ...csr.dnsNames.map((n) => `dns:${n.toLowerCase()}`),
    ...csr.ipAddresses.map((a) => `ip:${a}`),
  ]);
  if (csr.commonName !== undefined) {
    const cn = csr.commonName.toLowerCase();
    const asName = wanted.has(`dns:${cn}`) ? `dns:${cn}` : `ip:${csr.commonName}`;
    if (!wanted.has(asName))
      throw new AcmeError(
        'badCSR',
        `the CSR common name "${csr.commonName}" is not an identifier of the order`,
      );
    requested.add(asName);
  }
  const extra = [...requested].filter((n) => !wanted.has(n));
  const missing = [...wanted].filter((n) => !requested.has(n));
  if (extra.length > 0 || missing.length > 0) {
    const parts = [];
    if (extra.length > 0) parts.push(`not in the order: ${extra.map(strip).join(', ')}`);
    if (missing.length > 0) parts.push(`missing from the CSR: ${missing.map(strip).join(', ')}`);
    throw new AcmeError('badCSR', `the CSR names do not match the order (${parts.join('; ')})`);
  }
}

const strip = (n: string) => n.slice(n.indexOf(':') + 1);

/**
 * Key policy for certificate keys: RSA 2048–8192 bits with exponent 65537, EC P-256/P-384/P-521, Ed25519,
 * Ed448 and ML-DSA-44/65/87. Anything else is badPublicKey.
 */
export function checkCertificateKey(key: KeyObject): void {
  const d = describeKey(key);
  if (d.type === 'rsa') {
    if ((d.bits ?? 0) < 2048 || (d.bits ?? 0) > 8192) {
      throw new AcmeError('badPublicKey', `RSA keys must be 2048 to 8192 bits, not ${d.bits}`);
    }
    if (d.publicExponent !== undefined && d.publicExponent !== 65537n) {
      throw new AcmeError('badPublicKey', 'RSA keys must use the public exponent 65537');
    }
    return;
  }
  if (d.type === 'ec') {
    if (d.curve === 'P-256' || d.curve === 'P-384' || d.curve === 'P-521') return;
    throw new AcmeError('badPublicKey', `EC curve ${d.curve} is not accepted (P-256, P-384, P-521)`);
  }
  if (d.type === 'ed25519' || d.type === 'ed448') return;
  // FIPS 204 ML-DSA; node:crypto has already checked the encoded public key length on import.
  if (d.type === 'ml-dsa-44' || d.type === 'ml-dsa-65' || d.type === 'ml-dsa-87') return;
  throw new AcmeError('badPublicKey', `${d.type} keys are not accepted`);
}

/** The CSR key may not be the account key (it would let a certificate holder take over the account). */
export function checkCsrKeyIsNotAccountKey(csrKey: KeyObject, accountKey: KeyObject): void {
  if (csrKey.equals(accountKey))
    throw new AcmeError('badCSR', 'the certificate key must not be the account key');
}
