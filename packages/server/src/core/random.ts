import { randomFillSync } from 'node:crypto';

/**
 * Random bytes from a 4 KiB pool refilled from the CSPRNG: one call into OpenSSL per pool instead of one
 * per nonce or id. Each refill allocates a new pool, so bytes already handed out are never reused or
 * overwritten.
 */
const POOL_SIZE = 4096;
let pool = randomFillSync(Buffer.allocUnsafe(POOL_SIZE));
let offset = 0;

export function randomBytesPooled(size: number): Buffer {
  if (size > POOL_SIZE) return randomFillSync(Buffer.allocUnsafe(size));
  if (offset + size > POOL_SIZE) {
    pool = randomFillSync(Buffer.allocUnsafe(POOL_SIZE));
    offset = 0;
  }
  const out = pool.subarray(offset, offset + size);
  offset += size;
  return out;
}
