/**
 * RFC 8737 tls-alpn-01 (and RFC 8738 §6 for IP identifiers): a TLS server that completes handshakes
 * only for ALPN `acme-tls/1`, answering with an ephemeral self-signed certificate for the name in the
 * client's SNI. Each certificate has exactly one subjectAltName (the dNSName, or the iPAddress for an
 * IP identifier whose SNI is its reverse-DNS name) and the critical id-pe-acmeIdentifier extension
 * holding SHA-256(keyAuthorization).
 */
import { createHash, generateKeyPairSync, type KeyObject, randomBytes, sign } from 'node:crypto';
import type { Socket } from 'node:net';
import { createSecureContext, createServer, type SecureContext, type Server, type TLSSocket } from 'node:tls';
import {
  bitString,
  boolean,
  type ChallengeJson,
  canonicalIp,
  derToPem,
  explicit,
  type Identifier,
  implicit,
  integer,
  ipToBytes,
  octetString,
  oid,
  sequence,
  setOf,
  time,
  utf8String,
} from '@akamu/protocol';
import { signatureAlgorithm, subjectPublicKeyInfo } from '../csr.ts';
import type { ChallengeSolver } from './challenge-solver.ts';
import { boundPort, checkPort, listen } from './listen.ts';

/** RFC 8737 §6.2: the ALPN protocol name. */
export const ACME_TLS_ALPN = 'acme-tls/1';
/** RFC 8737 §6.1: id-pe-acmeIdentifier. */
export const OID_ACME_IDENTIFIER = '1.3.6.1.5.5.7.1.31';
const HANDSHAKE_TIMEOUT_MS = 10_000;

export interface TlsAlpn01SolverOptions {
  /** Port to listen on (443 for real validations); 0 picks a free one (read `port` after start()). */
  port: number;
  /** Address to bind; default all interfaces. */
  host?: string;
}

/**
 * The TLS server name a validator sends for an identifier: the lowercased DNS name, or for an IP
 * address its reverse-DNS name (RFC 8738 §6: `4.3.2.1.in-addr.arpa`, nibbles under `ip6.arpa`).
 */
export function tlsAlpn01ServerName(identifier: Identifier): string {
  if (identifier.type === 'ip') return reverseDnsName(identifier.value);
  if (identifier.type !== 'dns')
    throw new TypeError(`tls-alpn-01 cannot validate ${identifier.type} identifiers`);
  const name = identifier.value.toLowerCase().replace(/\.$/, '');
  if (name.startsWith('*.')) throw new TypeError('tls-alpn-01 cannot validate wildcard names (RFC 8737 §3)');
  return name;
}

/** The in-addr.arpa / ip6.arpa name of an IP address. */
export function reverseDnsName(ip: string): string {
  const bytes = ipToBytes(ip);
  if (bytes.length === 4) return `${[...bytes].reverse().join('.')}.in-addr.arpa`;
  const nibbles: string[] = [];
  for (const b of bytes) nibbles.push((b >> 4).toString(16), (b & 15).toString(16));
  return `${nibbles.reverse().join('.')}.ip6.arpa`;
}

/**
 * A DER self-signed tls-alpn-01 certificate for one identifier, valid from an hour ago for 7 days,
 * signed by `key` (P-256 keeps the handshake cheap).
 */
export function createTlsAlpn01Certificate(
  identifier: Identifier,
  keyAuthorization: string,
  key: KeyObject,
): Buffer {
  const generalName =
    identifier.type === 'ip'
      ? implicit(7, ipToBytes(identifier.value))
      : implicit(2, Buffer.from(tlsAlpn01ServerName(identifier), 'ascii'));
  const digest = createHash('sha256').update(keyAuthorization).digest();
  const extensions = sequence(
    // Subject is non-empty, so subjectAltName need not be critical (RFC 5280 §4.2.1.6).
    sequence(oid('2.5.29.17'), octetString(sequence(generalName))),
    // RFC 8737 §3: critical; extnValue is the DER of Authorization ::= OCTET STRING (SIZE (32)).
    sequence(oid(OID_ACME_IDENTIFIER), boolean(true), octetString(octetString(digest))),
  );
  const name = sequence(setOf(sequence(oid('2.5.4.3'), utf8String('ACME tls-alpn-01 challenge'))));
  const serial = randomBytes(16);
  serial[0] = (serial[0]! & 0x7f) | 0x01;
  const now = Date.now();
  const [digestName, algorithm] = signatureAlgorithm(key);
  const tbs = sequence(
    explicit(0, integer(2)),
    integer(serial),
    algorithm,
    name,
    sequence(time(new Date(now - 3_600_000)), time(new Date(now + 7 * 86_400_000))),
    name,
    subjectPublicKeyInfo(key),
    explicit(3, extensions),
  );
  return sequence(tbs, algorithm, bitString(sign(digestName, tbs, key)));
}

interface Entry {
  context: SecureContext;
  refs: number;
}

export class TlsAlpn01Solver implements ChallengeSolver {
  readonly type = 'tls-alpn-01';
  readonly #options: TlsAlpn01SolverOptions;
  /** SNI server name (or, for IP identifiers, also the canonical IP for SNI-less handshakes) → context. */
  readonly #entries = new Map<string, Entry>();
  #key: KeyObject | undefined;
  #keyPem: string | undefined;
  #server: Server | undefined;
  readonly #sockets = new Set<Socket>();

  constructor(opts: TlsAlpn01SolverOptions) {
    checkPort(opts.port);
    this.#options = opts;
  }

  /** The bound port once started, else the configured one. */
  get port(): number {
    return boundPort(this.#server, this.#options.port);
  }

  get listening(): boolean {
    return this.#server?.listening ?? false;
  }

  async start(): Promise<void> {
    if (this.#server) return;
    const entries = this.#entries;
    const server = createServer({
      minVersion: 'TLSv1.2',
      // Chooses the certificate once SNI and ALPN are known; `this` is the TLSSocket. Returning
      // undefined ends the handshake with a fatal no_application_protocol alert.
      ALPNCallback(this: TLSSocket, { servername, protocols }) {
        if (!protocols.includes(ACME_TLS_ALPN)) return undefined;
        // Validators that connect to an IP address may send no SNI: answer for the local address.
        const lookup = servername
          ? servername.toLowerCase().replace(/\.$/, '')
          : canonicalIp(String(this.localAddress ?? '').replace(/^::ffff:(?=\d+\.)/, ''));
        const entry = lookup === undefined ? undefined : entries.get(lookup);
        if (!entry) return undefined;
        this.setKeyCert(entry.context);
        return ACME_TLS_ALPN;
      },
    });
    server.on('connection', (socket: Socket) => {
      socket.setTimeout(HANDSHAKE_TIMEOUT_MS, () => socket.destroy());
      this.#sockets.add(socket);
      socket.once('close', () => this.#sockets.delete(socket));
    });
    // Failed handshakes (wrong ALPN, unknown name, scanners) are expected; never crash on them.
    server.on('tlsClientError', (_error, socket) => socket.destroy());
    this.#server = server;
    try {
      await listen(server, this.#options.port, this.#options.host);
    } catch (error) {
      this.#server = undefined;
      throw error;
    }
  }

  async stop(): Promise<void> {
    const server = this.#server;
    if (!server) return;
    this.#server = undefined;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const socket of this.#sockets) socket.destroy();
    await closed;
  }

  async present(identifier: Identifier, _challenge: ChallengeJson, keyAuthorization: string): Promise<void> {
    if (!this.#server) throw new Error('TlsAlpn01Solver is not started: call start() first');
    const names = this.#names(identifier);
    const existing = this.#entries.get(names[0]!);
    if (existing) {
      for (const name of names) this.#entries.get(name)!.refs++;
      return;
    }
    if (!this.#key) {
      this.#key = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
      this.#keyPem = this.#key.export({ type: 'pkcs8', format: 'pem' }) as string;
    }
    const der = createTlsAlpn01Certificate(identifier, keyAuthorization, this.#key);
    const context = createSecureContext({ key: this.#keyPem, cert: derToPem(der) });
    for (const name of names) this.#entries.set(name, { context, refs: 1 });
  }

  async cleanup(
    identifier: Identifier,
    _challenge: ChallengeJson,
    _keyAuthorization?: string,
  ): Promise<void> {
    for (const name of this.#names(identifier)) {
      const entry = this.#entries.get(name);
      if (entry && --entry.refs <= 0) this.#entries.delete(name);
    }
  }

  /** Lookup keys: the SNI name, plus the canonical address for IP identifiers. */
  #names(identifier: Identifier): string[] {
    const sni = tlsAlpn01ServerName(identifier);
    if (identifier.type !== 'ip') return [sni];
    const ip = canonicalIp(identifier.value);
    if (ip === undefined) throw new TypeError(`invalid IP address ${identifier.value}`);
    return [sni, ip];
  }
}
