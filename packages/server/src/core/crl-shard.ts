/**
 * CRL partitioning (RFC 5280 §5.2.5, Issuing Distribution Point): every certificate belongs to exactly one
 * shard, chosen from its serial number so that the choice needs no stored state and never changes. Serials
 * are random (CA/Browser Forum BR §7.1: at least 64 random bits), so their low 32 bits spread certificates
 * evenly over the shards.
 */
export function crlShardOf(serialHex: string, shards: number): number {
  if (!(Number.isInteger(shards) && shards >= 1))
    throw new RangeError(`shards must be a positive integer, got ${shards}`);
  if (!/^[0-9a-f]+$/.test(serialHex)) throw new TypeError(`bad serial ${JSON.stringify(serialHex)}`);
  return Number.parseInt(serialHex.slice(-8), 16) % shards;
}
