import { Command, CommanderError } from 'commander';
import { registerAccount } from './commands/account.ts';
import { registerAdmin } from './commands/admin.ts';
import { registerCa } from './commands/ca.ts';
import { registerCertificate } from './commands/certificate.ts';
import { registerDaemon } from './commands/daemon.ts';
import { registerDb } from './commands/db.ts';
import { registerServe } from './commands/serve.ts';
import { registerTlsAlpnResponder } from './commands/tls-alpn-responder.ts';
import { EXIT } from './lib/exit-codes.ts';

/** akamu: serve the CA, manage it, and obtain certificates. Exit codes: docs/cli.md. */
const program = new Command();
program
  .name('akamu')
  .description('a self-hosted ACME (RFC 8555) certificate authority, ACME client and renewal daemon')
  .version('0.1.0')
  .exitOverride()
  .showHelpAfterError();
registerServe(program);
registerCa(program);
registerAccount(program);
registerCertificate(program);
registerDaemon(program);
registerDb(program);
registerAdmin(program);
registerTlsAlpnResponder(program);

// Every level (`akamu admin accounts list` is three deep) reports usage errors as exit code 64.
const overrideExit = (cmd: Command): void => {
  cmd.exitOverride();
  for (const sub of cmd.commands) overrideExit(sub);
};
for (const cmd of program.commands) overrideExit(cmd);
try {
  await program.parseAsync(process.argv);
} catch (error) {
  if (!(error instanceof CommanderError)) throw error;
  // Help and --version are successes; every other commander error is a usage error.
  process.exitCode = error.exitCode === 0 ? EXIT.OK : EXIT.USAGE;
}
