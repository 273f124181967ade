import { createSecureContext, type SecureContextOptions } from 'node:tls';

/**
 * The protocol policy of the HTTPS listener: TLS 1.2 and 1.3 only, forward-secret AEAD suites only
 * (RFC 9325 §4.2: ECDHE with AES-GCM or ChaCha20-Poly1305 for TLS 1.2; the TLS 1.3 AEAD suites of
 * RFC 8446 §B.4 without the CCM ones), and the key exchange groups in the operator's order.
 */

/** TLS 1.3 suites (RFC 8446 §B.4), then TLS 1.2 ECDHE+AEAD suites (RFC 9325 §4.2). */
export const CIPHER_SUITES = [
  'TLS_AES_128_GCM_SHA256',
  'TLS_AES_256_GCM_SHA384',
  'TLS_CHACHA20_POLY1305_SHA256',
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-CHACHA20-POLY1305',
].join(':');

/** Whether this process's OpenSSL knows a key exchange group (X25519MLKEM768 needs OpenSSL 3.5). */
export function groupSupported(group: string): boolean {
  try {
    createSecureContext({ ecdhCurve: group });
    return true;
  } catch {
    return false;
  }
}

/** The configured groups this OpenSSL supports, in order, and those it does not. */
export function usableGroups(groups: string[]): { usable: string[]; unsupported: string[] } {
  const usable: string[] = [];
  const unsupported: string[] = [];
  for (const g of groups) (groupSupported(g) ? usable : unsupported).push(g);
  return { usable, unsupported };
}

/** The protocol part of every secure context of the listener. */
export function protocolOptions(minVersion: 'TLSv1.2' | 'TLSv1.3', groups: string[]): SecureContextOptions {
  return {
    minVersion,
    maxVersion: 'TLSv1.3',
    ciphers: CIPHER_SUITES,
    ecdhCurve: groups.join(':'),
    honorCipherOrder: true,
  };
}
