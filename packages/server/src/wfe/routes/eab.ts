import { BlockList, isIP } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { parsePrincipal } from '../../core/eab.ts';
import { AcmeError } from '../../errors.ts';
import type { EabAuthority } from '../../ra/eab-authority.ts';
import { clientIdentity, clientPrincipal } from '../client-identity.ts';
import { sendJson } from '../context.ts';

export interface EabRouteOptions {
  /** `[eab] principal_header`. */
  principalHeader: string;
  /** `[eab] trusted_proxies`: addresses and CIDR blocks whose principal header is believed. */
  trustedProxies: string[];
}

/**
 * GET /acme/eab: the HKDF-derived external account binding key (RFC 8555 §7.3.4) of the principal a
 * trusted reverse proxy authenticated, as `{ kid, hmac_key }`. Only the connection's own peer address
 * counts (never X-Forwarded-For): a request from elsewhere is refused with 403, a trusted proxy's
 * request without a principal with 401. A request with a verified client certificate (mutual TLS or a
 * forwarded certificate, docs/tls.md) is its own principal: the certificate's subject CN, else its first
 * email, DNS or URI subject alternative name.
 */
export function registerEab(app: FastifyInstance, eab: EabAuthority, opts: EabRouteOptions): void {
  const trusted = trustedProxyList(opts.trustedProxies);
  const header = opts.principalHeader.toLowerCase();
  app.get('/acme/eab', async (request, reply) => {
    // A verified client certificate (mutual TLS, docs/tls.md) names the principal itself.
    const identity = clientIdentity(request);
    const certPrincipal = identity && parsePrincipal(clientPrincipal(identity));
    if (certPrincipal !== undefined) {
      const key = await eab.derivedKeyFor(certPrincipal, {
        actor: 'system',
        source: request.ip,
        requestId: String(request.id),
      });
      return sendJson(reply, 200, { kid: key.kid, hmac_key: key.hmacKey });
    }
    const peer = request.socket.remoteAddress;
    if (peer === undefined || !isTrusted(trusted, peer)) {
      throw new AcmeError('unauthorized', 'EAB keys are handed out only through the trusted reverse proxy');
    }
    const principal = parsePrincipal(request.headers[header]);
    if (principal === undefined) {
      throw new AcmeError(
        'unauthorized',
        `the reverse proxy named no authenticated principal (${opts.principalHeader})`,
        {
          status: 401,
        },
      );
    }
    const key = await eab.derivedKeyFor(principal, {
      actor: 'system',
      source: request.ip,
      requestId: String(request.id),
    });
    return sendJson(reply, 200, { kid: key.kid, hmac_key: key.hmacKey });
  });
}

export function trustedProxyList(entries: string[]): BlockList {
  const list = new BlockList();
  for (const entry of entries) {
    const [addr, bits] = entry.split('/') as [string, string | undefined];
    const type = isIP(addr) === 6 ? 'ipv6' : 'ipv4';
    if (bits === undefined) list.addAddress(addr, type);
    else list.addSubnet(addr, Number(bits), type);
  }
  return list;
}

/** IPv4-mapped IPv6 peers (::ffff:a.b.c.d, a dual-stack listener) are checked as IPv4. */
export function isTrusted(list: BlockList, peer: string): boolean {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(peer);
  if (mapped) return list.check(mapped[1]!, 'ipv4');
  return list.check(peer, isIP(peer) === 6 ? 'ipv6' : 'ipv4');
}
