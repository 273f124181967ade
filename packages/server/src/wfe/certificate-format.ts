/**
 * RFC 8555 §7.4.2: the formats a certificate is downloaded in, chosen by the request's Accept header
 * (RFC 9110 §12.5.1).
 *
 * - `application/pem-certificate-chain` (RFC 8555 §9.1), the default: the leaf followed by its issuers.
 *   The chain is in the body, so the response has no `Link: rel="up"`: the RFC asks for it only "for
 *   formats that can only express a single certificate", and clients such as Caddy's (acmez) follow every
 *   "up" link and append what it returns, which would repeat the intermediate.
 * - `application/pkix-cert` (RFC 2585, DER), only when the client prefers it: the one certificate, with
 *   `Link: <…/acme/issuer>;rel="up"` so the client can build the chain.
 */
export type CertificateFormat = 'pem-chain' | 'der';

export const PEM_CHAIN_TYPE = 'application/pem-certificate-chain';
export const DER_CERT_TYPE = 'application/pkix-cert';

/** DER only when Accept ranks application/pkix-cert above the PEM chain; a tie or no header is PEM. */
export function certificateFormat(accept: string | undefined): CertificateFormat {
  if (!accept) return 'pem-chain';
  const ranges = parseAccept(accept);
  return quality(ranges, DER_CERT_TYPE) > quality(ranges, PEM_CHAIN_TYPE) ? 'der' : 'pem-chain';
}

interface MediaRange {
  type: string;
  subtype: string;
  q: number;
}

/** The media ranges of an Accept header, lower-cased; a malformed range or q-value is skipped. */
function parseAccept(accept: string): MediaRange[] {
  const ranges: MediaRange[] = [];
  for (const part of accept.split(',')) {
    const [range = '', ...params] = part.split(';');
    const [type, subtype, extra] = range.trim().toLowerCase().split('/');
    if (!type || !subtype || extra !== undefined) continue;
    let q = 1;
    for (const param of params) {
      const [name, value] = param.split('=').map((s) => s.trim());
      if (name?.toLowerCase() !== 'q') continue;
      q = /^(0(\.\d{0,3})?|1(\.0{0,3})?)$/.test(value ?? '') ? Number(value) : Number.NaN;
    }
    if (!Number.isNaN(q)) ranges.push({ type, subtype, q });
  }
  return ranges;
}

/** RFC 9110 §12.5.1: the q of the most specific range matching `mediaType` (type/subtype, type/*, *\/*). */
function quality(ranges: MediaRange[], mediaType: string): number {
  const [type, subtype] = mediaType.split('/');
  let best: { specificity: number; q: number } = { specificity: -1, q: 0 };
  for (const r of ranges) {
    const specificity =
      r.type === type && r.subtype === subtype
        ? 2
        : r.type === type && r.subtype === '*'
          ? 1
          : r.type === '*' && r.subtype === '*'
            ? 0
            : -1;
    if (specificity > best.specificity) best = { specificity, q: r.q };
  }
  return best.q;
}
