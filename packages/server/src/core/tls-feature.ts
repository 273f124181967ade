import {
  contentOf,
  decodeSmallInteger,
  expectTag,
  integer,
  octetString,
  oid,
  readChildren,
  readWhole,
  sequence,
  TAG,
} from '@akamu/protocol';
import { AcmeError } from '../errors.ts';

/**
 * "OCSP Must-Staple": the TLS Feature extension (RFC 7633), which a CSR requests (certbot
 * `--must-staple`, lego `--must-staple`, uacme `-m`, dehydrated `--ocsp`) and the CA copies into the
 * certificate. A TLS client that sees it expects the server to staple an OCSP response, so it is only
 * issued in a certificate that names an OCSP responder.
 */
export const OID_PE_TLSFEATURE = '1.3.6.1.5.5.7.1.24';

/** RFC 7633 §6: the features are TLS extension numbers; status_request (RFC 6066) is Must-Staple. */
export const TLS_FEATURE_STATUS_REQUEST = 5;

/**
 * The TLS features a CSR requests (RFC 7633 §4.1: SEQUENCE OF INTEGER), or undefined when it requests
 * none. Only status_request is issued; anything else, or a malformed value, is badCSR.
 */
export function requestedTlsFeatures(extensions: { oid: string; value: Buffer }[]): number[] | undefined {
  const requested = extensions.find((e) => e.oid === OID_PE_TLSFEATURE);
  if (!requested) return undefined;
  let features: number[];
  try {
    const list = readWhole(requested.value, TAG.SEQUENCE, 'Features');
    features = readChildren(requested.value, list).map((f) => {
      expectTag(f, TAG.INTEGER, 'feature');
      return decodeSmallInteger(contentOf(requested.value, f));
    });
  } catch (err) {
    throw new AcmeError('badCSR', `the CSR's TLS Feature extension is malformed: ${(err as Error).message}`);
  }
  if (features.length === 0)
    throw new AcmeError('badCSR', "the CSR's TLS Feature extension lists no feature");
  const other = features.filter((f) => f !== TLS_FEATURE_STATUS_REQUEST);
  if (other.length > 0) {
    throw new AcmeError(
      'badCSR',
      `the CSR requests TLS feature ${other.join(', ')}; only status_request (5, OCSP Must-Staple) is issued`,
    );
  }
  return [TLS_FEATURE_STATUS_REQUEST];
}

/** The certificate's TLS Feature extension (non-critical, RFC 7633 §4.2) for these features. */
export function tlsFeatureExtension(features: number[]): Buffer {
  return sequence(oid(OID_PE_TLSFEATURE), octetString(sequence(...features.map((f) => integer(f)))));
}
