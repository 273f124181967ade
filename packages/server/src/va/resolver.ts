import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';

/** Resolves a validation target to addresses. Injected so tests and embedders can replace it. */
export interface HostResolver {
  resolve(name: string): Promise<string[]>;
}

/**
 * The system resolver (getaddrinfo, so /etc/hosts applies), except that "localhost" and names under
 * ".localhost" always resolve to loopback without a query (RFC 6761 §6.3).
 */
export class SystemHostResolver implements HostResolver {
  async resolve(name: string): Promise<string[]> {
    if (isIP(name)) return [name];
    if (name === 'localhost' || name.endsWith('.localhost')) return ['127.0.0.1', '::1'];
    const found = await lookup(name, { all: true, order: 'ipv4first' });
    return found.map((a) => a.address);
  }
}
