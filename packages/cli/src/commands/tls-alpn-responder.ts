/**
 * `akamu tls-alpn-responder` (ACMEd's tacd role): answers RFC 8737 tls-alpn-01 validations for the
 * given names with the given key authorization until SIGTERM/SIGINT. A daemon, a hook or an operator
 * starts it for the time of a validation.
 */
import { once } from 'node:events';
import { TlsAlpn01Solver } from '@akamu/client';
import type { ChallengeJson } from '@akamu/protocol';
import type { Command } from 'commander';
import { identifiersFromNames } from '../lib/certificates.ts';
import { configError } from '../lib/exit-codes.ts';
import { runCommand } from '../lib/output.ts';
import { listen, parsePort } from '../lib/solvers.ts';
import { collect } from './common.ts';

interface ResponderOptions {
  domain: string[];
  keyAuthorization?: string;
  port: string;
  host?: string;
  json?: boolean;
}

const KEY_AUTHORIZATION = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

export function registerTlsAlpnResponder(program: Command): void {
  program
    .command('tls-alpn-responder')
    .description('serve tls-alpn-01 (RFC 8737) answers for names until SIGTERM or SIGINT (like ACMEd tacd)')
    .requiredOption('-d, --domain <name>', 'name (or IP address) to answer for; repeatable', collect)
    .option(
      '--key-authorization <token.thumbprint>',
      'the key authorization of the challenge (default: $AKAMU_KEY_AUTHORIZATION, which keeps it out of ps)',
    )
    .option('-p, --port <port>', 'port to listen on (0: any free port, printed when ready)', '443')
    .option('--host <address>', 'address to bind (default: all)')
    .option('--json', 'print the ready line as one JSON object')
    .action((opts: ResponderOptions) =>
      runCommand(opts, async (out) => {
        const keyAuthorization = opts.keyAuthorization ?? process.env.AKAMU_KEY_AUTHORIZATION;
        if (keyAuthorization === undefined)
          throw configError('give --key-authorization or set AKAMU_KEY_AUTHORIZATION');
        if (!KEY_AUTHORIZATION.test(keyAuthorization))
          throw configError('the key authorization must look like <token>.<thumbprint> (base64url)');
        const identifiers = identifiersFromNames(opts.domain);
        const solver = new TlsAlpn01Solver({ port: parsePort(opts.port, '--port'), host: opts.host });
        await listen(() => solver.start(), `tls-alpn-01 responder on port ${opts.port}`);
        try {
          const [token] = keyAuthorization.split('.') as [string];
          const challenge: ChallengeJson = { type: 'tls-alpn-01', url: '', status: 'pending', token };
          for (const identifier of identifiers) await solver.present(identifier, challenge, keyAuthorization);
          const names = identifiers.map((i) => i.value);
          out.result({ command: 'tls-alpn-responder', ready: true, port: solver.port, names }, [
            `tls-alpn-01 responder ready on port ${solver.port} for ${names.join(', ')}`,
          ]);
          const stop = new AbortController();
          const onSignal = () => stop.abort();
          process.once('SIGTERM', onSignal);
          process.once('SIGINT', onSignal);
          await once(stop.signal, 'abort');
          out.progress('stopping');
        } finally {
          await solver.stop();
        }
      }),
    );
}
