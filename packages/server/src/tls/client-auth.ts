import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { BlockList } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { pemToDer } from '@akamu/protocol';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { AcmeError } from '../errors.ts';
import { setClientIdentity } from '../wfe/client-identity.ts';
import { isTrusted, trustedProxyList } from '../wfe/routes/eab.ts';
import { type ClientCertRules, type ClientCertVerdict, verifyClientChain } from './client-certificates.ts';
import { acceptedClientKeyTypes, type TlsConfig } from './tls-config.ts';

/**
 * Mutual TLS (docs/tls.md): verifies the client certificate of every request — the one presented in the
 * TLS handshake, or one a trusted reverse proxy forwarded (nginx X-SSL-Client-Cert, Envoy
 * X-Forwarded-Client-Cert) — and records the identity for clientIdentity(request). The handshake only
 * asks for a certificate and proves possession of its key; every rule is applied here, and a refusal is an
 * `unauthorized` problem (403).
 */

/** A connection's verdict is reused for this long, then verified again (revocation, expiry). */
const VERDICT_TTL_MS = 60_000;
/** GET /ca/root.pem, CRLs and OCSP stay public with client_auth = "required": relying parties fetch them. */
const PUBLIC_PREFIX = '/ca/';

/** The configured trust anchors for client certificates, re-read on reload. */
export class ClientTrust {
  #files: string[];
  #anchors: X509Certificate[] = [];
  #pem = '';
  constructor(files: string[]) {
    this.#files = files;
    this.reload();
  }
  get anchors(): X509Certificate[] {
    return this.#anchors;
  }
  /** The anchors as PEM (the TLS server names them in its CertificateRequest); '' when none. */
  get pem(): string {
    return this.#pem;
  }
  reload(): void {
    const anchors: X509Certificate[] = [];
    for (const file of this.#files) {
      let text: string;
      try {
        text = readFileSync(file, 'utf8');
      } catch (e) {
        throw new Error(`tls.client_ca_files: cannot read ${file}: ${(e as Error).message}`);
      }
      const ders = pemToDer(text);
      if (ders.length === 0) throw new Error(`tls.client_ca_files: ${file} contains no PEM certificate`);
      for (const der of ders) anchors.push(new X509Certificate(der));
    }
    this.#anchors = anchors;
    this.#pem = anchors.map((a) => a.toString()).join('');
  }
}

export interface ClientAuthOptions {
  tls: TlsConfig;
  trust: ClientTrust;
  now: () => number;
  /** Revocation status of a certificate akamu issued (by lower-case hex serial). */
  isRevoked: (serialHex: string) => Promise<boolean>;
  /** Whether akamu's issuing CA signed a certificate (then its revocation status is akamu's to check). */
  issuedByUs: (leaf: X509Certificate) => boolean;
}

/** Whether client certificates matter at all with this configuration. */
export function clientAuthEnabled(tls: TlsConfig): boolean {
  return tls.client_auth !== 'none' || tls.forwarded_cert_proxies.length > 0;
}

/** Registers the onRequest hook on the root instance (before any route). */
export function registerClientAuth(app: FastifyInstance, o: ClientAuthOptions): void {
  const proxies: BlockList | undefined =
    o.tls.forwarded_cert_proxies.length > 0 ? trustedProxyList(o.tls.forwarded_cert_proxies) : undefined;
  const keyTypes = acceptedClientKeyTypes(o.tls);
  const rules = (): ClientCertRules => ({
    anchors: o.trust.anchors,
    maxIntermediates: o.tls.client_max_chain_depth,
    minRsaBits: o.tls.client_min_rsa_bits,
    keyTypes,
    ...(o.tls.client_check_revocation ? { isRevoked: o.isRevoked, issuedByUs: o.issuedByUs } : {}),
  });
  const perConnection = new WeakMap<
    object,
    { at: number; verdict: Promise<ClientCertVerdict | undefined> }
  >();

  const verdictFor = (request: FastifyRequest): Promise<ClientCertVerdict | undefined> => {
    const peer = request.socket.remoteAddress;
    if (proxies && peer !== undefined && isTrusted(proxies, peer)) {
      const forwarded = forwardedChain(request.headers);
      if (forwarded === null)
        return Promise.resolve({ ok: false, reason: 'the forwarded client certificate is malformed' });
      if (forwarded)
        return verifyClientChain(forwarded[0]!, forwarded.slice(1), rules(), o.now(), 'forwarded');
    }
    if (o.tls.client_auth === 'none') return Promise.resolve(undefined);
    const { key, socket } = connectionOf(request);
    if (!socket || typeof socket.getPeerCertificate !== 'function') return Promise.resolve(undefined);
    const now = o.now();
    const cached = perConnection.get(key);
    if (cached && now - cached.at < VERDICT_TTL_MS) return cached.verdict;
    const chain = peerChain(socket);
    const handshake = { authorized: socket.authorized, error: socket.authorizationError?.toString() };
    const verdict =
      chain.length === 0
        ? Promise.resolve(undefined)
        : verifyClientChain(chain[0]!, chain.slice(1), rules(), now, 'tls', handshake);
    perConnection.set(key, { at: now, verdict });
    return verdict;
  };

  app.addHook('onRequest', async (request) => {
    const verdict = await verdictFor(request);
    if (verdict?.ok) {
      setClientIdentity(request, verdict.identity);
      return;
    }
    if (verdict) {
      request.log.info({ reason: verdict.reason }, 'client certificate refused');
      throw new AcmeError('unauthorized', `client certificate refused: ${verdict.reason}`);
    }
    if (o.tls.client_auth === 'required' && !request.url.startsWith(PUBLIC_PREFIX)) {
      throw new AcmeError('unauthorized', 'a client certificate is required (mutual TLS)');
    }
  });
}

/** The TLS socket of a request and a per-connection key (HTTP/1.1: the socket; HTTP/2: the session). */
function connectionOf(request: FastifyRequest): { key: object; socket: TLSSocket | undefined } {
  const raw = request.raw as unknown as { stream?: { session?: { socket?: TLSSocket } }; socket?: TLSSocket };
  const session = raw.stream?.session;
  if (session) return { key: session, socket: session.socket };
  return { key: raw.socket ?? request.raw, socket: raw.socket };
}

/** The DERs the client sent, client certificate first (node completes the chain from the anchors). */
function peerChain(socket: TLSSocket): Buffer[] {
  const out: Buffer[] = [];
  let cert = socket.getPeerCertificate(true) as { raw?: Buffer; issuerCertificate?: unknown } | undefined;
  const seen = new Set<unknown>();
  while (cert?.raw && !seen.has(cert) && out.length < 16) {
    seen.add(cert);
    out.push(cert.raw);
    cert = cert.issuerCertificate as typeof cert;
  }
  return out;
}

/**
 * The chain a trusted proxy forwarded: nginx `X-SSL-Client-Cert: $ssl_client_escaped_cert` (URL-encoded
 * PEM) or Envoy `X-Forwarded-Client-Cert` (the last element's `Cert="…"` and `Chain="…"`, URL-encoded PEM).
 * Undefined: no header; null: a header that is not a certificate.
 */
export function forwardedChain(
  headers: Record<string, string | string[] | undefined>,
): Buffer[] | undefined | null {
  const nginx = headers['x-ssl-client-cert'];
  if (typeof nginx === 'string' && nginx.trim() !== '') {
    const ders = decodePem(nginx);
    return ders && ders.length > 0 ? ders : null;
  }
  const xfcc = headers['x-forwarded-client-cert'];
  if (typeof xfcc === 'string' && xfcc.trim() !== '') {
    const elements = splitOutsideQuotes(xfcc, ',');
    const fields = new Map<string, string>();
    for (const pair of splitOutsideQuotes(elements.at(-1)!, ';')) {
      const eq = pair.indexOf('=');
      if (eq <= 0) continue;
      let value = pair.slice(eq + 1).trim();
      if (value.startsWith('"') && value.endsWith('"') && value.length >= 2)
        value = value.slice(1, -1).replace(/\\"/g, '"');
      fields.set(pair.slice(0, eq).trim().toLowerCase(), value);
    }
    const leaf = fields.has('cert') ? decodePem(fields.get('cert')!) : undefined;
    const chain = fields.has('chain') ? decodePem(fields.get('chain')!) : undefined;
    if (leaf === null || chain === null) return null;
    if (!leaf?.length && !chain?.length) return fields.size > 0 ? undefined : null;
    const all = [...(leaf ?? []), ...(chain ?? [])];
    // Envoy's Chain starts with the client certificate itself.
    return all.filter((d, i) => all.findIndex((e) => e.equals(d)) === i);
  }
  return undefined;
}

function decodePem(text: string): Buffer[] | null {
  let pem = text;
  try {
    if (pem.includes('%')) pem = decodeURIComponent(pem);
  } catch {
    return null;
  }
  const ders = pemToDer(pem);
  return ders.length > 0 ? ders : null;
}

function splitOutsideQuotes(text: string, sep: string): string[] {
  const out: string[] = [];
  let quoted = false;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '\\' && quoted) i++;
    else if (c === '"') quoted = !quoted;
    else if (c === sep && !quoted) {
      out.push(text.slice(start, i));
      start = i + 1;
    }
  }
  out.push(text.slice(start));
  return out;
}
