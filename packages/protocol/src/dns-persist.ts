import { createHash } from 'node:crypto';
import { b64u } from './base64url.ts';

/** The label of dns-persist-01 validation records (draft-ietf-acme-dns-persist §2). */
export const DNS_PERSIST_LABEL = '_validation-persist';

/**
 * The hashed account URI of a dns-persist-01 record (draft-ietf-acme-dns-persist-02 §4.1):
 * `<accountHashPrefix>sha-256/<base64url(SHA-256(len(domain) || domain || thumbprint || accountUrl))>`,
 * where domain is the validated FQDN (lower-case A-labels, no trailing dot) or "*" to opt out of the
 * domain binding, and thumbprint the 43-character base64url JWK thumbprint of an account key.
 */
export function dnsPersistAccountUri(
  accountHashPrefix: string,
  domain: string,
  thumbprint: string,
  accountUrl: string,
): string {
  const name = Buffer.from(domain, 'ascii');
  if (name.length > 255) throw new RangeError('domain name longer than 255 octets');
  const digest = createHash('sha256')
    .update(Buffer.from([name.length]))
    .update(name)
    .update(Buffer.from(thumbprint, 'ascii'))
    .update(Buffer.from(accountUrl, 'ascii'))
    .digest();
  return `${accountHashPrefix}sha-256/${b64u(digest)}`;
}
