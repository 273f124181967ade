import { writeSync } from 'node:fs';
import type { AkamuServer } from '@akamu/server';
import type { Command } from 'commander';
import { loadServer } from '../lib/server.ts';

/** Exit codes of `akamu serve`. */
export const EXIT_CONFIG = 2;
export const EXIT_START = 3;

export function registerServe(program: Command): void {
  program
    .command('serve')
    .description('run the ACME certificate authority')
    .option(
      '-c, --config <file>',
      'TOML configuration file (default: none; every key has a default)',
      process.env.AKAMU_CONFIG,
    )
    .action(async (opts: { config?: string }) => {
      const { ConfigError, createServer, loadConfig } = await loadServer();
      let server: AkamuServer;
      try {
        server = await createServer(loadConfig(opts.config));
      } catch (e) {
        const msg = e instanceof Error ? e.message : String(e);
        writeSync(2, `akamu: ${msg}\n`);
        process.exit(e instanceof ConfigError ? EXIT_CONFIG : EXIT_START);
      }
      let directory: string;
      try {
        directory = await server.listen();
      } catch (e) {
        writeSync(2, `akamu: cannot listen: ${(e as Error).message}\n`);
        process.exit(EXIT_START);
      }
      process.stdout.write(
        [
          'akamu is ready',
          `  directory: ${directory}`,
          `  root certificate: ${server.rootCertPath ?? '(operator-supplied chain)'}`,
          ...(server.tlsCa ? [`  HTTPS (TLS-only CA) root certificate: ${server.tlsCa.rootCertPath}`] : []),
          `  data directory: ${server.config.data_dir}`,
          '',
        ].join('\n'),
      );
      const stop = async (signal: string) => {
        server.app.log.info(`${signal}: shutting down`);
        await server.close();
        process.exit(0);
      };
      // SIGHUP: re-read the TLS certificate files and client trust anchors without a restart (docs/tls.md).
      process.on('SIGHUP', () => {
        server
          .reloadTls()
          .then(() => server.app.log.info('SIGHUP: TLS certificate and trust anchors reloaded'))
          .catch((err) =>
            server.app.log.error({ err }, 'SIGHUP: TLS reload failed; the previous certificate stays'),
          );
      });
      process.once('SIGINT', () => void stop('SIGINT'));
      process.once('SIGTERM', () => void stop('SIGTERM'));
    });
}
