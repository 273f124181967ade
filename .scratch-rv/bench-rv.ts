import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { benchRevocation, formatRevocation } from '../bench/revocation.ts';
import { killAllChildren } from '../bench/targets/child.ts';
const dir = mkdtempSync(path.join(tmpdir(), 'akamu-bench-rv-'));
try {
  const r = await benchRevocation(dir, (m) => process.stderr.write(`[bench] ${m}\n`));
  console.log(formatRevocation(r));
  console.log(JSON.stringify(r));
} finally {
  killAllChildren();
  rmSync(dir, { recursive: true, force: true });
}
