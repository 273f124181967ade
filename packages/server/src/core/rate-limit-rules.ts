import { BlockList, isIP } from 'node:net';
import type { Identifier } from '@akamu/protocol';

/** Pure rules of the rate limits (RFC 8555 §6.6 leaves the policy to the CA; docs/operations.md). */

/**
 * The registered domain a DNS name counts against: its last two labels, or, under one of the operator's
 * public suffixes (`[rate_limits] public_suffixes`, e.g. "co.uk"), the longest such suffix plus one label.
 * A name that is itself a public suffix, or has fewer than two labels, counts as itself. An IP address
 * counts as itself. A wildcard counts as the name below its "*.".
 */
export function registeredDomain(identifier: Identifier, publicSuffixes: readonly string[]): string {
  if (identifier.type !== 'dns') return `${identifier.type}:${identifier.value}`;
  const name = identifier.value.toLowerCase().replace(/^\*\./, '').replace(/\.$/, '');
  const labels = name.split('.');
  let suffixLabels = 1;
  for (const s of publicSuffixes) {
    const suffix = s.toLowerCase().replace(/^\.|\.$/g, '');
    const n = suffix.split('.').length;
    if (n >= suffixLabels && name.endsWith(`.${suffix}`)) suffixLabels = n;
  }
  if (labels.length <= suffixLabels) return name;
  return labels.slice(-(suffixLabels + 1)).join('.');
}

/** The exact set of names of a certificate, in a canonical order (duplicate certificates share it). */
export function nameSetKey(identifiers: readonly Identifier[]): string {
  return [...new Set(identifiers.map((i) => `${i.type}:${i.value.toLowerCase()}`))].sort().join(',');
}

/**
 * A list of addresses and CIDR blocks ("127.0.0.0/8", "::1", "10.1.2.3"), matched against a peer address;
 * IPv4-mapped IPv6 addresses ("::ffff:127.0.0.1") match as the IPv4 address.
 */
export class AddressList {
  readonly #list = new BlockList();
  readonly size: number;

  constructor(entries: readonly string[]) {
    for (const entry of entries) {
      const [addr, bits] = entry.split('/');
      const family = isIP(addr ?? '');
      if (family === 0) throw new Error(`"${entry}" is not an IP address or CIDR block`);
      const type = family === 4 ? 'ipv4' : 'ipv6';
      if (bits === undefined) this.#list.addAddress(addr!, type);
      else {
        const prefix = Number(bits);
        if (!Number.isInteger(prefix) || prefix < 0 || prefix > (family === 4 ? 32 : 128)) {
          throw new Error(`"${entry}" has a bad prefix length`);
        }
        this.#list.addSubnet(addr!, prefix, type);
      }
    }
    this.size = entries.length;
  }

  has(address: string | undefined): boolean {
    if (!address || this.size === 0) return false;
    const v4 = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)?.[1];
    if (v4) return this.#list.check(v4, 'ipv4');
    const family = isIP(address);
    if (family === 0) return false;
    return this.#list.check(address, family === 4 ? 'ipv4' : 'ipv6');
  }
}

/** Whole seconds until `freeAt` for Retry-After (RFC 8555 §6.6, RFC 9110 §10.2.3), at least 1. */
export function retryAfterSeconds(freeAt: number, now: number): number {
  return Math.max(1, Math.ceil((freeAt - now) / 1000));
}
