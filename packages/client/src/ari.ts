/** RFC 9773 ACME Renewal Information: the certificate identifier (§4.1). */
import { contentOf, decodeOid, pemToDer, readChildren, readWhole, TAG, type Tlv } from '@akamu/protocol';

const OID_AUTHORITY_KEY_IDENTIFIER = '2.5.29.35';

/**
 * The ARI CertID of a certificate (RFC 9773 §4.1): base64url(authorityKeyIdentifier keyIdentifier)
 * "." base64url(serial number DER content octets, leading zero included). Takes PEM (the first
 * certificate of a chain) or DER. Throws a TypeError for a certificate without an AKI keyIdentifier.
 */
export function certId(certificate: string | Buffer): string {
  let der: Buffer;
  if (typeof certificate === 'string' || certificate.subarray(0, 11).toString('latin1') === '-----BEGIN ') {
    const first = pemToDer(certificate.toString())[0];
    if (!first) throw new TypeError('no PEM certificate found');
    der = first;
  } else {
    der = certificate;
  }
  try {
    const cert = readWhole(der, TAG.SEQUENCE, 'Certificate');
    const tbs = readChildren(der, cert)[0];
    if (!tbs || tbs.tag !== TAG.SEQUENCE) throw new TypeError('no TBSCertificate');
    const fields = readChildren(der, tbs);
    let i = fields[0]?.tag === 0xa0 ? 1 : 0; // version [0] EXPLICIT, absent for v1
    const serial = fields[i++];
    if (!serial || serial.tag !== TAG.INTEGER) throw new TypeError('no serial number');
    const keyId = authorityKeyId(der, fields);
    return `${keyId.toString('base64url')}.${contentOf(der, serial).toString('base64url')}`;
  } catch (error) {
    if (error instanceof TypeError) throw error;
    throw new TypeError(`not a DER certificate: ${(error as Error).message}`, { cause: error });
  }
}

function authorityKeyId(der: Buffer, fields: Tlv[]): Buffer {
  const extensions = fields.find((f) => f.tag === 0xa3);
  if (extensions) {
    const list = readChildren(der, extensions)[0];
    for (const ext of list ? readChildren(der, list) : []) {
      const parts = readChildren(der, ext);
      if (parts[0]?.tag !== TAG.OID || decodeOid(contentOf(der, parts[0])) !== OID_AUTHORITY_KEY_IDENTIFIER)
        continue;
      const value = parts.at(-1)!;
      const aki = contentOf(der, value);
      const seq = readWhole(aki, TAG.SEQUENCE, 'AuthorityKeyIdentifier');
      const keyId = readChildren(aki, seq).find((t) => t.tag === 0x80); // [0] IMPLICIT KeyIdentifier
      if (keyId) return Buffer.from(contentOf(aki, keyId));
    }
  }
  throw new TypeError('the certificate has no authorityKeyIdentifier keyIdentifier (RFC 9773 §4.1)');
}
