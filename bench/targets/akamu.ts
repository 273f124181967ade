/**
 * akamu (this repository): `packages/cli/src/main.ts serve` under the same Node as the bench, on an
 * ephemeral port, with the http-01 validator pointed at the bench. Variants: the database backend
 * (SQLite in a fresh data directory, or a fresh PostgreSQL schema / MariaDB database) and the number of
 * nodes (several nodes share the database behind a round-robin TCP balancer; see cluster-launcher.ts).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Backend, backendSkipReason, provisionDatabase } from '../../test/support/databases.ts';
import { Child } from './child.ts';
import { type RunningTarget, type StartOptions, type TargetDefinition, waitForDirectory } from './target.ts';

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));

export function akamuTarget(name: string, opts: { backend: Backend; nodes: number }): TargetDefinition {
  let skip: string | undefined;
  return {
    name,
    http01Port: 0,
    unavailable: () => skip,
    version() {
      const pkg = JSON.parse(readFileSync(path.join(repoRoot, 'packages/server/package.json'), 'utf8')) as {
        version: string;
      };
      return `${pkg.version} (node ${process.version}, ${opts.backend}, ${opts.nodes} node${opts.nodes > 1 ? 's' : ''})`;
    },
    async prepare() {
      skip = await backendSkipReason(opts.backend).catch((e: Error) => e.message);
    },
    async start({ workDir, http01Port }: StartOptions): Promise<RunningTarget> {
      const database = await provisionDatabase(opts.backend);
      const config = path.join(workDir, 'akamu.toml');
      writeFileSync(
        config,
        [
          `data_dir = ${JSON.stringify(path.join(workDir, 'akamu-data'))}`,
          '[server]',
          'host = "127.0.0.1"',
          'port = 0',
          'log_level = "warn"',
          ...(database.url ? ['[database]', `url = ${JSON.stringify(database.url)}`] : []),
          '[va]',
          `http01_port = ${http01Port}`,
          '',
        ].join('\n'),
      );
      const nodeArgs = akamuNodeArgs();
      const args =
        opts.nodes === 1
          ? [path.join(repoRoot, 'packages/cli/src/main.ts'), 'serve', '-c', config]
          : [path.join(repoRoot, 'bench/targets/cluster-launcher.ts'), config, String(opts.nodes)];
      const child = new Child(name, process.execPath, [...nodeArgs, ...args], { cwd: workDir });
      try {
        const { directoryUrl, caBundle } = await startedLikeAkamu(child);
        return {
          directoryUrl,
          caBundle,
          pid: child.pid,
          child,
          stop: async () => {
            await child.stop();
            await database.drop();
          },
        };
      } catch (error) {
        await child.kill();
        await database.drop();
        throw error;
      }
    },
  };
}

/** BENCH_AKAMU_NODE_ARGS: extra Node flags for akamu's servers, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof". */
export function akamuNodeArgs(): string[] {
  return (process.env.BENCH_AKAMU_NODE_ARGS ?? '').split(/\s+/).filter(Boolean);
}

/**
 * Waits for the start-up lines `akamu serve` prints (directory URL, root certificate path), then for the
 * directory to answer over HTTPS with that root.
 */
export async function startedLikeAkamu(child: Child): Promise<{ directoryUrl: string; caBundle: string }> {
  const directory = child.waitForLine(/^\s*directory: (https?:\/\/\S+)/, 60_000);
  const root = child.waitForLine(/^\s*root certificate: (\/\S+)/, 60_000);
  const directoryUrl = (await directory)[1]!;
  const caBundle = readFileSync((await root)[1]!, 'utf8');
  await waitForDirectory(directoryUrl, () => caBundle, child);
  return { directoryUrl, caBundle };
}

export const akamu = akamuTarget('akamu', { backend: 'sqlite', nodes: 1 });
export const akamuPostgres = akamuTarget('akamu-postgres', { backend: 'postgres', nodes: 1 });
export const akamuMariadb = akamuTarget('akamu-mariadb', { backend: 'mariadb', nodes: 1 });
export const akamuPostgres3 = akamuTarget('akamu-postgres-3', { backend: 'postgres', nodes: 3 });
