/**
 * akamu (this repository): `packages/cli/src/main.ts serve` under the same Node as the bench, on an
 * ephemeral port, with SQLite in a fresh data directory and the http-01 validator pointed at the bench.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Child } from './child.ts';
import { type RunningTarget, type StartOptions, type TargetDefinition, waitForDirectory } from './target.ts';

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));

export const akamu: TargetDefinition = {
  name: 'akamu',
  http01Port: 0,
  unavailable: () => undefined,
  version() {
    const pkg = JSON.parse(readFileSync(path.join(repoRoot, 'packages/server/package.json'), 'utf8')) as {
      version: string;
    };
    return `${pkg.version} (node ${process.version})`;
  },
  async start({ workDir, http01Port }: StartOptions): Promise<RunningTarget> {
    const config = path.join(workDir, 'akamu.toml');
    writeFileSync(
      config,
      [
        `data_dir = ${JSON.stringify(path.join(workDir, 'akamu-data'))}`,
        '[server]',
        'host = "127.0.0.1"',
        'port = 0',
        'log_level = "warn"',
        '[va]',
        `http01_port = ${http01Port}`,
        '',
      ].join('\n'),
    );
    const child = new Child(
      'akamu',
      process.execPath,
      [path.join(repoRoot, 'packages/cli/src/main.ts'), 'serve', '-c', config],
      { cwd: workDir },
    );
    try {
      const directory = child.waitForLine(/^\s*directory: (https?:\/\/\S+)/, 60_000);
      const root = child.waitForLine(/^\s*root certificate: (\/\S+)/, 60_000);
      const directoryUrl = (await directory)[1]!;
      const caBundle = readFileSync((await root)[1]!, 'utf8');
      await waitForDirectory(directoryUrl, () => caBundle, child);
      return { directoryUrl, caBundle, pid: child.pid, child, stop: () => child.stop() };
    } catch (error) {
      await child.kill();
      throw error;
    }
  },
};
