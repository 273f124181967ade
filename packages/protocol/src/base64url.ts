/** base64url without padding (RFC 4648 §5), as RFC 8555 §6.1 requires everywhere. */

export function b64u(data: Uint8Array | string): string {
  return Buffer.from(data).toString('base64url');
}

const B64U = /^[A-Za-z0-9_-]*$/;

/** Decodes strict base64url: no padding, no other alphabet. Returns undefined when malformed. */
export function fromB64u(text: string): Buffer | undefined {
  if (typeof text !== 'string' || !B64U.test(text) || text.length % 4 === 1) return undefined;
  return Buffer.from(text, 'base64url');
}

export function pemToDer(pem: string): Buffer[] {
  const out: Buffer[] = [];
  const re = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END \1-----/g;
  for (let m = re.exec(pem); m; m = re.exec(pem)) out.push(Buffer.from(m[2]!.replace(/\s+/g, ''), 'base64'));
  return out;
}

export function derToPem(der: Uint8Array, label = 'CERTIFICATE'): string {
  const b64 = Buffer.from(der).toString('base64');
  const lines = b64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}
