/**
 * Sets `key` in a Map used as a per-node cache of at most `max` entries: when a new key would exceed it, the
 * oldest entry (the first inserted; Maps iterate in insertion order) is forgotten first.
 */
export function setBounded<K, V>(map: Map<K, V>, key: K, value: V, max: number): void {
  if (!map.has(key) && map.size >= max) map.delete(map.keys().next().value as K);
  map.set(key, value);
}
