import { randomBytes } from 'node:crypto';
import { encodeCrlEntries, encodeCrlEntry } from '../packages/server/src/ca/crl.ts';
const entries = Array.from({ length: 100_000 }, (_, i) => ({ serial: randomBytes(16).toString('hex').replace(/^./, '4'), revokedAt: Date.now() - i * 1000, reason: i % 4 }));
for (let k = 0; k < 3; k++) {
  const t = performance.now();
  const out = encodeCrlEntries(entries); void encodeCrlEntry;
  console.log('encode', (performance.now() - t).toFixed(1), out.length);
}
