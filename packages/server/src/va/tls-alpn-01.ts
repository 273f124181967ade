import { createHash, timingSafeEqual } from 'node:crypto';
import tls from 'node:tls';
import {
  contentOf,
  DerError,
  decodeOid,
  expectTag,
  type Identifier,
  ipFromBytes,
  ipToBytes,
  readChildren,
  readTlv,
  readWhole,
  TAG,
} from '@akamu/protocol';
import type { NetworkGuard } from './network-guard.ts';
import type { HostResolver } from './resolver.ts';
import {
  type ChallengeValidator,
  problem,
  type ValidationOutcome,
  type ValidationRequest,
} from './validator.ts';

/** RFC 8737 §6.2: the ALPN protocol a tls-alpn-01 responder must negotiate. */
export const ACME_TLS_ALPN = 'acme-tls/1';
/** RFC 8737 §6.1: id-pe-acmeIdentifier. */
export const OID_ACME_IDENTIFIER = '1.3.6.1.5.5.7.1.31';
const OID_SAN = '2.5.29.17';

export interface TlsAlpn01Options {
  port: number;
  resolver: HostResolver;
  guard: NetworkGuard;
}

/**
 * RFC 8738 §6: the SNI of a tls-alpn-01 handshake for an IP identifier is its reverse-DNS name:
 * `4.3.2.1.in-addr.arpa` for IPv4, the nibbles of the 16 bytes in reverse under `ip6.arpa` for IPv6.
 */
export function reverseDnsName(ip: string): string {
  const bytes = ipToBytes(ip);
  if (bytes.length === 4) return `${[...bytes].reverse().join('.')}.in-addr.arpa`;
  const nibbles: string[] = [];
  for (const b of bytes) nibbles.push((b >> 4).toString(16), (b & 0x0f).toString(16));
  return `${nibbles.reverse().join('.')}.ip6.arpa`;
}

/** What the challenge certificate says, read from its DER (RFC 8737 §3). */
export interface AcmeChallengeCertificate {
  /** The id-pe-acmeIdentifier extension: whether it is critical and its OCTET STRING content. */
  acmeIdentifier?: { critical: boolean; value: Buffer };
  /** Every subjectAltName entry: `dns:<name>`, `ip:<address>`, or `other:<tag>`. */
  subjectAltNames: string[];
}

/** Reads the extensions RFC 8737 cares about from a DER X.509 certificate. Throws DerError when malformed. */
export function readChallengeCertificate(der: Buffer): AcmeChallengeCertificate {
  const cert = readWhole(der, TAG.SEQUENCE, 'Certificate');
  const [tbs] = readChildren(der, cert);
  if (!tbs) throw new DerError('empty Certificate');
  expectTag(tbs, TAG.SEQUENCE, 'tbsCertificate');
  const out: AcmeChallengeCertificate = { subjectAltNames: [] };
  const extsWrapper = readChildren(der, tbs).find((t) => t.tag === 0xa3);
  if (!extsWrapper) return out;
  const [exts] = readChildren(der, extsWrapper);
  if (!exts) return out;
  expectTag(exts, TAG.SEQUENCE, 'Extensions');
  for (const ext of readChildren(der, exts)) {
    const parts = readChildren(der, ext);
    const id = parts[0];
    const value = parts.at(-1);
    if (!id || !value || parts.length > 3) throw new DerError('malformed Extension');
    expectTag(id, TAG.OID, 'extnID');
    expectTag(value, TAG.OCTET_STRING, 'extnValue');
    const critical = parts.length === 3 && parts[1]!.tag === TAG.BOOLEAN && der[parts[1]!.contentStart] !== 0;
    const oid = decodeOid(contentOf(der, id));
    if (oid === OID_ACME_IDENTIFIER) {
      if (out.acmeIdentifier) throw new DerError('two acmeIdentifier extensions');
      // extnValue holds the DER of an OCTET STRING (SIZE (32)) with the digest.
      const inner = readTlv(der, value.contentStart, value.end);
      if (inner.end !== value.end) throw new DerError('trailing data in acmeIdentifier');
      expectTag(inner, TAG.OCTET_STRING, 'acmeIdentifier value');
      out.acmeIdentifier = { critical, value: Buffer.from(contentOf(der, inner)) };
    } else if (oid === OID_SAN) {
      const names = readTlv(der, value.contentStart, value.end);
      if (names.end !== value.end) throw new DerError('trailing data in subjectAltName');
      expectTag(names, TAG.SEQUENCE, 'GeneralNames');
      for (const name of readChildren(der, names)) {
        const bytes = contentOf(der, name);
        if (name.tag === 0x82) out.subjectAltNames.push(`dns:${bytes.toString('latin1').toLowerCase()}`);
        else if (name.tag === 0x87 && (bytes.length === 4 || bytes.length === 16))
          out.subjectAltNames.push(`ip:${ipFromBytes(bytes)}`);
        else out.subjectAltNames.push(`other:${name.tag.toString(16)}`);
      }
    }
  }
  return out;
}

/**
 * RFC 8737 §3 checks of a challenge certificate: a critical id-pe-acmeIdentifier whose value is the
 * SHA-256 digest of the key authorization, and exactly one subjectAltName, equal to the identifier.
 * Returns why it fails, or undefined.
 */
export function checkChallengeCertificate(
  cert: AcmeChallengeCertificate,
  identifier: Identifier,
  keyAuthorization: string,
): { type: 'unauthorized' | 'incorrectResponse'; detail: string } | undefined {
  const expectedName = `${identifier.type === 'ip' ? 'ip' : 'dns'}:${identifier.value}`;
  if (cert.subjectAltNames.length !== 1 || cert.subjectAltNames[0] !== expectedName) {
    return {
      type: 'unauthorized',
      detail: `the challenge certificate must have exactly one subjectAltName, ${identifier.value}; it has ${cert.subjectAltNames.map((n) => n.slice(n.indexOf(':') + 1)).join(', ') || 'none'}`,
    };
  }
  if (!cert.acmeIdentifier) {
    return { type: 'unauthorized', detail: 'the challenge certificate has no acmeIdentifier extension' };
  }
  if (!cert.acmeIdentifier.critical) {
    return { type: 'unauthorized', detail: 'the acmeIdentifier extension is not marked critical' };
  }
  const expected = createHash('sha256').update(keyAuthorization).digest();
  const got = cert.acmeIdentifier.value;
  if (got.length !== expected.length || !timingSafeEqual(got, expected)) {
    return {
      type: 'incorrectResponse',
      detail: 'the acmeIdentifier extension is not the SHA-256 digest of the key authorization',
    };
  }
  return undefined;
}

/**
 * RFC 8737 tls-alpn-01: a TLS handshake to port 443 (`va.tls_alpn01_port`) of the identifier's address,
 * with SNI set to the name (for IP identifiers the reverse-DNS name, RFC 8738 §6) and ALPN `acme-tls/1`
 * only. The certificate is not chain-verified (§3); it must carry the challenge (checkChallengeCertificate).
 * Offered for DNS names (not wildcards, §5) and IP addresses.
 */
export class TlsAlpn01Validator implements ChallengeValidator {
  readonly type = 'tls-alpn-01';
  readonly #opts: TlsAlpn01Options;

  constructor(opts: TlsAlpn01Options) {
    this.#opts = opts;
  }

  supports(identifier: Identifier, wildcard: boolean): boolean {
    if (wildcard) return false;
    if (identifier.type === 'ip') return true;
    return identifier.type === 'dns' && !identifier.value.endsWith('.onion');
  }

  async validate(req: ValidationRequest): Promise<ValidationOutcome> {
    const { identifier } = req;
    const servername = identifier.type === 'ip' ? reverseDnsName(identifier.value) : identifier.value;
    let addresses: string[];
    try {
      addresses = await this.#opts.resolver.resolve(identifier.value);
    } catch (e) {
      return problem('dns', `no address for ${identifier.value}: ${(e as Error).message}`, identifier);
    }
    if (addresses.length === 0) return problem('dns', `no address for ${identifier.value}`, identifier);
    let lastError: ValidationOutcome = problem('connection', 'no address may be contacted', identifier);
    for (const address of addresses) {
      const refused = this.#opts.guard.check(address);
      if (refused) {
        lastError = problem('connection', refused, identifier);
        continue;
      }
      const r = await this.#handshake(address, servername, req.signal);
      if ('error' in r) {
        lastError = problem(r.kind, `${address} port ${this.#opts.port}: ${r.error}`, identifier);
        if (req.signal.aborted || r.kind === 'tls') break;
        continue;
      }
      let cert: AcmeChallengeCertificate;
      try {
        cert = readChallengeCertificate(r.der);
      } catch (e) {
        return problem(
          'tls',
          `the challenge certificate cannot be parsed: ${(e as Error).message}`,
          identifier,
        );
      }
      const failed = checkChallengeCertificate(cert, identifier, req.keyAuthorization);
      return failed ? problem(failed.type, failed.detail, identifier) : undefined;
    }
    return lastError;
  }

  /** One handshake; resolves to the peer's leaf certificate DER or why there is none. */
  #handshake(
    address: string,
    servername: string,
    signal: AbortSignal,
  ): Promise<{ der: Buffer } | { error: string; kind: 'connection' | 'tls' }> {
    return new Promise((resolve) => {
      let connected = false;
      const socket = tls.connect({
        host: address,
        port: this.#opts.port,
        servername,
        ALPNProtocols: [ACME_TLS_ALPN],
        rejectUnauthorized: false,
      });
      const finish = (r: { der: Buffer } | { error: string; kind: 'connection' | 'tls' }) => {
        signal.removeEventListener('abort', onAbort);
        socket.destroy();
        resolve(r);
      };
      const onAbort = () => finish({ error: 'timed out', kind: 'connection' });
      if (signal.aborted) return onAbort();
      signal.addEventListener('abort', onAbort, { once: true });
      socket.once('connect', () => {
        connected = true;
      });
      socket.once('secureConnect', () => {
        if (socket.alpnProtocol !== ACME_TLS_ALPN) {
          finish({
            error: `the server did not negotiate ALPN "${ACME_TLS_ALPN}" (got ${socket.alpnProtocol || 'none'})`,
            kind: 'tls',
          });
          return;
        }
        const peer = socket.getPeerX509Certificate();
        if (!peer) finish({ error: 'the server sent no certificate', kind: 'tls' });
        else finish({ der: Buffer.from(peer.raw) });
      });
      socket.once('error', (e) =>
        finish(
          connected
            ? { error: `TLS handshake with ALPN "${ACME_TLS_ALPN}" failed: ${e.message}`, kind: 'tls' }
            : { error: e.message, kind: 'connection' },
        ),
      );
    });
  }
}
