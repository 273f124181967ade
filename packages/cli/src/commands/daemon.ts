/** `akamu daemon -c certificates.toml`: keeps the declared certificates issued and renewed (docs/daemon.md). */
import type { Command } from 'commander';
import { loadDaemonConfig } from '../daemon/config.ts';
import { Daemon } from '../daemon/daemon.ts';
import { DaemonLog } from '../daemon/log.ts';
import { EXIT } from '../lib/exit-codes.ts';
import { runCommand } from '../lib/output.ts';

interface DaemonOptions {
  config: string;
  once?: boolean;
  checkConfig?: boolean;
}

export function registerDaemon(program: Command): void {
  program
    .command('daemon')
    .description(
      'keep the certificates of a configuration file issued and renewed (SIGHUP reloads, SIGTERM stops)',
    )
    .requiredOption('-c, --config <file>', 'the daemon configuration (TOML, docs/daemon.md)')
    .option(
      '--once',
      'look at every certificate once, issue what is due, and exit (exit code 6 if one failed)',
    )
    .option('--check-config', 'validate the configuration and exit')
    .action((opts: DaemonOptions) =>
      runCommand({}, async (out) => {
        const config = loadDaemonConfig(opts.config);
        if (opts.checkConfig) {
          out.result({}, [
            `${config.file}: OK (${config.endpoint.length} endpoints, ${config.account.length} accounts, ${config.certificate.length} certificates)`,
          ]);
          return;
        }
        const log = new DaemonLog(config.log_format);
        const daemon = new Daemon(config, log, () => loadDaemonConfig(opts.config));
        if (opts.once) {
          await daemon.runOnce();
          const { failed } = daemon.lastPass ?? { failed: [] };
          if (failed.length > 0) process.exitCode = EXIT.VALIDATION;
          return;
        }
        const onHup = () => {
          log.info('daemon.sighup', { config: opts.config });
          daemon.reload();
        };
        const onStop = (signal: string) => () => {
          log.info('daemon.signal', { signal });
          daemon.stop();
        };
        const onTerm = onStop('SIGTERM');
        const onInt = onStop('SIGINT');
        process.on('SIGHUP', onHup);
        process.on('SIGTERM', onTerm);
        process.on('SIGINT', onInt);
        try {
          await daemon.run();
        } finally {
          process.off('SIGHUP', onHup);
          process.off('SIGTERM', onTerm);
          process.off('SIGINT', onInt);
        }
      }),
    );
}
