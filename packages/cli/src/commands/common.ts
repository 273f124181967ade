/** Options every client command shares (account key, CA, output). */
import type { Command } from 'commander';

export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

export function addClientOptions(cmd: Command): Command {
  return cmd
    .option(
      '-k, --account-key <file>',
      'account private key (PEM); its state is kept in <file>.json',
      'account.key',
    )
    .option('-s, --server <url>', 'ACME directory URL (default: the one the account was registered with)')
    .option(
      '--ca-bundle <pem>',
      'trust these CA certificates (PEM) for the ACME server instead of the system store',
    )
    .option('--timeout <seconds>', 'time limit of each request and each wait for validation', '30')
    .option('--json', 'print one JSON object on stdout (for scripts)')
    .option('-v, --verbose', 'show progress on stderr even when it is not a terminal');
}
