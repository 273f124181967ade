import { BlockList, isIP } from 'node:net';

/**
 * Refuses validation connections to addresses a public CA must not reach: loopback, RFC 1918 and other
 * private ranges, link-local, CGNAT, unique-local, multicast and unspecified addresses. A private CA
 * usually allows them (`va.allow_private_networks`, the default).
 */
const BLOCKED = new BlockList();
for (const [net, prefix] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['224.0.0.0', 3],
] as const) {
  BLOCKED.addSubnet(net, prefix, 'ipv4');
}
for (const [net, prefix] of [
  ['::', 127],
  ['::1', 128],
  ['::ffff:0:0', 96],
  ['64:ff9b:1::', 48],
  ['fc00::', 7],
  ['fe80::', 10],
  ['ff00::', 8],
] as const) {
  BLOCKED.addSubnet(net, prefix, 'ipv6');
}

export class NetworkGuard {
  readonly #allowPrivate: boolean;
  constructor(allowPrivateNetworks: boolean) {
    this.#allowPrivate = allowPrivateNetworks;
  }
  /** Why the address may not be contacted, or undefined when it may. */
  check(address: string): string | undefined {
    if (this.#allowPrivate) return undefined;
    const family = isIP(address) === 6 ? 'ipv6' : 'ipv4';
    return BLOCKED.check(address, family)
      ? `${address} is a private, loopback or reserved address`
      : undefined;
  }
}
