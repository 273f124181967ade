import { fromB64u } from '@akamu/protocol';
import { malformed } from '../errors.ts';

/** RFC 9773 (ACME Renewal Information): certificate identifiers and suggested renewal windows. */

export interface CertId {
  /** The keyIdentifier of the certificate's Authority Key Identifier extension. */
  keyId: Buffer;
  /** The serial number as this CA stores it: lower-case hex of the unsigned big-endian value. */
  serialHex: string;
}

export interface RenewalWindow {
  start: number;
  end: number;
}

/**
 * RFC 9773 §4.1: certID = base64url(AKI keyIdentifier) "." base64url(serial), where the serial is the
 * contents octets of its DER INTEGER (a leading zero byte when the high bit of the first byte is set).
 */
export function certIdOf(keyId: Buffer, serialHex: string): string {
  let serial = Buffer.from(serialHex.length % 2 === 1 ? `0${serialHex}` : serialHex, 'hex');
  if (serial.length === 0 || (serial[0]! & 0x80) !== 0) serial = Buffer.concat([Buffer.from([0]), serial]);
  return `${keyId.toString('base64url')}.${serial.toString('base64url')}`;
}

/**
 * Parses a certID (RFC 9773 §4.1). Malformed: not two strict base64url parts, an empty part, or a serial
 * that is not the minimal encoding of a positive INTEGER (RFC 5280 §4.1.2.2 allows at most 20 octets).
 */
export function parseCertId(text: unknown): CertId {
  if (typeof text !== 'string') throw malformed('the certificate identifier must be a string');
  const parts = text.split('.');
  if (parts.length !== 2) throw malformed('a certificate identifier is base64url(AKI) "." base64url(serial)');
  const keyId = fromB64u(parts[0]!);
  const serial = fromB64u(parts[1]!);
  if (!keyId || !serial || keyId.length === 0 || serial.length === 0) {
    throw malformed('the certificate identifier is not two base64url strings without padding');
  }
  if (serial.length > 21) throw malformed('the serial number in the certificate identifier is too long');
  if ((serial[0]! & 0x80) !== 0)
    throw malformed('the serial number in the certificate identifier is negative');
  if (serial.length > 1 && serial[0] === 0 && (serial[1]! & 0x80) === 0) {
    throw malformed('the serial number in the certificate identifier is not minimally encoded');
  }
  const unsigned = serial[0] === 0 && serial.length > 1 ? serial.subarray(1) : serial;
  return { keyId, serialHex: unsigned.toString('hex') };
}

/**
 * The window for a certificate in good standing: from two thirds of its validity to five sixths, so a
 * client renewing at a random time inside it (RFC 9773 §4.2) still has a sixth of the lifetime left.
 */
export function defaultRenewalWindow(notBefore: number, notAfter: number): RenewalWindow {
  const lifetime = notAfter - notBefore;
  return {
    start: notBefore + Math.floor((lifetime * 2) / 3),
    end: notBefore + Math.floor((lifetime * 5) / 6),
  };
}

/**
 * RFC 9773 §4.2: a certificate that must be replaced at once (revoked, or flagged by the operator) gets
 * a window that has already ended, which tells a client to renew immediately.
 */
export function pastRenewalWindow(at: number): RenewalWindow {
  return { start: at - 3_600_000, end: at - 1_000 };
}
