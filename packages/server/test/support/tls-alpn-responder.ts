/**
 * A real tls-alpn-01 responder (RFC 8737 §3) for tests, built on node:tls: for each SNI name it serves an
 * ephemeral certificate with the id-pe-acmeIdentifier extension, negotiating ALPN `acme-tls/1`. Options
 * make it answer wrongly in the ways the validator must catch.
 */
import { createHash, generateKeyPairSync, type KeyObject } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import tls from 'node:tls';
import { derToPem, type Identifier, octetString } from '@akamu/protocol';
import {
  CertificateIssuer,
  createSelfSignedCa,
  extension,
  newSerial,
} from '../../src/ca/certificate-issuer.ts';
import { OID_ACME_IDENTIFIER, reverseDnsName } from '../../src/va/tls-alpn-01.ts';

export interface ChallengeCertOptions {
  /** Mark the acmeIdentifier extension critical (RFC 8737 §3 requires it). Default true. */
  critical?: boolean;
  /** Put this digest in the extension instead of SHA-256(key authorization). */
  digest?: Buffer;
  /** Leave the acmeIdentifier extension out. */
  omitExtension?: boolean;
  /** Extra DNS SANs (RFC 8737 §3 allows exactly one). */
  extraDnsNames?: string[];
}

export class TlsAlpnResponder {
  readonly #contexts = new Map<string, tls.SecureContext>();
  readonly #issuer: CertificateIssuer;
  readonly #leafKey: KeyObject;
  readonly #leafPem: string;
  #server: tls.Server | undefined;
  /** Set to false to refuse ALPN acme-tls/1 (negotiate http/1.1 instead). */
  negotiateAcme = true;
  /** SNI names the server saw, in order. */
  readonly seenServernames: string[] = [];

  constructor() {
    const ca = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const now = Date.now();
    const caDer = createSelfSignedCa({
      privateKey: ca.privateKey,
      commonName: 'tls-alpn-01 test responder',
      serial: newSerial(),
      notBefore: new Date(now - 60_000),
      notAfter: new Date(now + 86_400_000),
    });
    this.#issuer = new CertificateIssuer({ issuerKey: ca.privateKey, issuerCertDer: caDer });
    const leaf = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    this.#leafKey = leaf.publicKey;
    this.#leafPem = leaf.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
  }

  get port(): number {
    return (this.#server!.address() as AddressInfo).port;
  }

  /** Serves the challenge certificate for an identifier (found by its SNI name, RFC 8738 §6 for IPs). */
  set(identifier: Identifier, keyAuthorization: string, opts: ChallengeCertOptions = {}): void {
    const digest = opts.digest ?? createHash('sha256').update(keyAuthorization).digest();
    const extra = opts.omitExtension
      ? []
      : [extension(OID_ACME_IDENTIFIER, opts.critical ?? true, octetString(digest))];
    const now = Date.now();
    const der = this.#issuer.issue({
      serial: newSerial(),
      spki: this.#leafKey.export({ type: 'spki', format: 'der' }),
      dnsNames:
        identifier.type === 'dns'
          ? [identifier.value, ...(opts.extraDnsNames ?? [])]
          : (opts.extraDnsNames ?? []),
      ipAddresses: identifier.type === 'ip' ? [identifier.value] : [],
      notBefore: new Date(now - 60_000),
      notAfter: new Date(now + 3_600_000),
      extraExtensions: extra,
    });
    const servername = identifier.type === 'ip' ? reverseDnsName(identifier.value) : identifier.value;
    this.#contexts.set(servername, tls.createSecureContext({ key: this.#leafPem, cert: derToPem(der) }));
  }

  async start(host = '127.0.0.1', port = 0): Promise<void> {
    // A default context for unknown names: the handshake still needs a certificate.
    const fallback = this.#fallbackContext();
    this.#server = tls.createServer({
      ...fallback,
      SNICallback: (name, cb) => {
        this.seenServernames.push(name);
        cb(null, this.#contexts.get(name.toLowerCase()) ?? tls.createSecureContext(fallback));
      },
      ALPNCallback: ({ protocols }) =>
        this.negotiateAcme ? (protocols.includes('acme-tls/1') ? 'acme-tls/1' : undefined) : 'http/1.1',
    });
    this.#server.on('secureConnection', (socket) => socket.end());
    this.#server.on('tlsClientError', () => {});
    await new Promise<void>((resolve, reject) => {
      this.#server!.once('error', reject);
      this.#server!.listen(port, host, () => resolve());
    });
  }

  #fallbackContext(): { key: string; cert: string } {
    const now = Date.now();
    const der = this.#issuer.issue({
      serial: newSerial(),
      spki: this.#leafKey.export({ type: 'spki', format: 'der' }),
      dnsNames: ['unknown.invalid'],
      ipAddresses: [],
      notBefore: new Date(now - 60_000),
      notAfter: new Date(now + 3_600_000),
    });
    return { key: this.#leafPem, cert: derToPem(der) };
  }

  async stop(): Promise<void> {
    const server = this.#server;
    if (!server) return;
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
