import type { FastifyRequest } from 'fastify';

/**
 * The verified client certificate of a request (mutual TLS, or forwarded by a trusted reverse proxy),
 * docs/tls.md. Set by the client authentication hook (tls/client-auth.ts) before any route runs.
 */
export interface ClientIdentity {
  /** SHA-256 of the certificate DER, lower-case hex without separators. */
  fingerprintSha256: string;
  /** The subject distinguished name, one RDN per line as node:crypto prints it ("CN=ops\nO=Example"). */
  subject: string;
  /** The subject common name, when there is one. */
  commonName: string | undefined;
  /** Subject alternative names by kind. */
  sans: { dns: string[]; ip: string[]; email: string[]; uri: string[] };
  /** The issuer distinguished name, as subject. */
  issuer: string;
  /** Serial number, lower-case hex. */
  serial: string;
  /** notAfter, epoch ms. */
  notAfter: number;
  der: Buffer;
  /** `tls`: presented in this connection's handshake; `forwarded`: by a trusted proxy in a header. */
  source: 'tls' | 'forwarded';
}

const identities = new WeakMap<FastifyRequest, ClientIdentity>();

/** The verified client certificate identity of this request, or undefined (none presented, or none asked for). */
export function clientIdentity(request: FastifyRequest): ClientIdentity | undefined {
  return identities.get(request);
}

/** Records the verified identity of a request (the client authentication hook only). */
export function setClientIdentity(request: FastifyRequest, identity: ClientIdentity): void {
  identities.set(request, identity);
}

/**
 * The principal name of a client certificate for per-principal services (the EAB endpoint): the subject
 * common name, else the first email, DNS or URI subject alternative name.
 */
export function clientPrincipal(identity: ClientIdentity): string | undefined {
  return identity.commonName ?? identity.sans.email[0] ?? identity.sans.dns[0] ?? identity.sans.uri[0];
}
