/** `akamu db backup`: an online copy of the SQLite database (docs/sql-dialects.md for the other backends). */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { backup, DatabaseSync } from 'node:sqlite';
import type { Command } from 'commander';
import { CliError, configError, EXIT } from '../lib/exit-codes.ts';
import { runCommand } from '../lib/output.ts';
import { loadServer } from '../lib/server.ts';

interface DbOptions {
  config?: string;
  out: string;
  json?: boolean;
}

export function registerDb(program: Command): void {
  const db = program.command('db').description('the database');
  db.command('backup')
    .description('copy the SQLite database while akamu runs (SQLite online backup API)')
    .option(
      '-c, --config <file>',
      'the server TOML configuration (for data_dir and [database])',
      process.env.AKAMU_CONFIG,
    )
    .requiredOption('-o, --out <file>', 'where to write the copy (must not exist)')
    .option('--json', 'print one JSON object on stdout')
    .action((opts: DbOptions) =>
      runCommand(opts, async (out) => {
        const { ConfigError, loadConfig } = await loadServer();
        let url: string;
        try {
          const cfg = loadConfig(opts.config);
          url = cfg.database.url || `sqlite:${join(resolve(cfg.data_dir), 'akamu.db')}`;
        } catch (error) {
          if (error instanceof ConfigError) throw configError(error.message, error);
          throw error;
        }
        if (!url.startsWith('sqlite:') || url === 'sqlite::memory:') {
          throw configError(
            'akamu db backup copies SQLite databases; back up PostgreSQL with pg_dump and MariaDB with mariadb-dump (docs/sql-dialects.md)',
          );
        }
        const file = resolve(url.slice('sqlite:'.length));
        const target = resolve(opts.out);
        if (!existsSync(file)) throw configError(`no database at ${file}`);
        if (existsSync(target)) throw configError(`${target} exists; choose a new file`);
        const source = new DatabaseSync(file, { readOnly: true });
        let pages: number;
        try {
          pages = await backup(source, target);
        } catch (error) {
          throw new CliError(EXIT.INTERNAL, `backup failed: ${(error as Error).message}`, { cause: error });
        } finally {
          source.close();
        }
        out.result({ command: 'db backup', database: file, backup: target, pages }, [
          `copied ${file} to ${target} (${pages} pages)`,
          'restore: stop akamu, put the copy in place of akamu.db (remove akamu.db-wal and akamu.db-shm), start akamu',
        ]);
      }),
    );
}
