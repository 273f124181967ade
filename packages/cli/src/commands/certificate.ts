/** `akamu certificate obtain|renew|revoke` (RFC 8555 §7.4, §7.6; renewal per RFC 9773 ARI). */
import type { KeyObject, X509Certificate } from 'node:crypto';
import { resolve } from 'node:path';
import { AcmeClient, generateKey } from '@akamu/client';
import { type Identifier, REVOCATION_REASONS } from '@akamu/protocol';
import type { Command } from 'commander';
import {
  type ClientCommandOptions,
  loadKey,
  openAccount,
  parseKeySpec,
  parseTimeoutMs,
  readCaBundle,
} from '../lib/account-store.ts';
import { renewalWindow } from '../lib/ari.ts';
import { identifiersFromNames, identifiersOfCertificate, parseLeaf, summarize } from '../lib/certificates.ts';
import { configError } from '../lib/exit-codes.ts';
import { readUserFile } from '../lib/files.ts';
import { issueCertificate } from '../lib/issue.ts';
import { type Output, runCommand } from '../lib/output.ts';
import { type CertificatePaths, pathsInDir, writeCertificateFiles } from '../lib/output-files.ts';
import { decideRenewal } from '../lib/renewal.ts';
import { type SolverOptions, startSolvers } from '../lib/solvers.ts';
import { addClientOptions, collect } from './common.ts';

interface ObtainOptions extends ClientCommandOptions, SolverOptions {
  domain?: string[];
  keyType: string;
  mustStaple?: boolean;
  outDir: string;
}

interface RenewOptions extends ObtainOptions {
  force?: boolean;
  reuseKey?: boolean;
}

function addSolverOptions(cmd: Command): Command {
  return cmd
    .option('--http-port <port>', 'answer http-01 on this port (default 80 when no solver option is given)')
    .option('--http-host <address>', 'address the http-01 responder binds (default: all)')
    .option('--tls-port <port>', 'answer tls-alpn-01 on this port')
    .option('--tls-host <address>', 'address the tls-alpn-01 responder binds (default: all)')
    .option(
      '--dns-hook <script>',
      'answer dns-01 by running this executable: deploy|clean <domain> <txt-name> <txt-value>',
    )
    .option(
      '--dns-clean-hook <script>',
      'a separate executable for removing the TXT record (default: --dns-hook)',
    )
    .option('--key-type <type>', 'certificate key type', 'ec:P-256')
    .option('--must-staple', 'ask for OCSP Must-Staple (RFC 7633); the CA must name an OCSP responder')
    .option('-o, --out-dir <dir>', 'where cert.pem, chain.pem, fullchain.pem and key.pem are written', '.');
}

async function obtainInto(
  out: Output,
  client: AcmeClient,
  opts: ObtainOptions,
  identifiers: Identifier[],
  key: KeyObject,
  replaces?: string,
): Promise<{
  paths: CertificatePaths;
  cert: X509Certificate;
  orderUrl: string;
  certificateUrl: string;
  replaced: boolean;
}> {
  const solvers = await startSolvers(opts, parseTimeoutMs(opts.timeout) * 4);
  try {
    const issued = await issueCertificate(client, {
      identifiers,
      solversFor: () => solvers.solvers,
      certificateKey: key,
      mustStaple: opts.mustStaple === true,
      replaces,
      timeoutMs: parseTimeoutMs(opts.timeout),
      progress: (m) => out.progress(m),
    });
    const paths = pathsInDir(resolve(opts.outDir));
    await writeCertificateFiles(paths, issued.certificatePem, key);
    return { paths, cert: parseLeaf(issued.certificatePem, issued.certificateUrl), ...issued };
  } finally {
    await solvers.stop();
  }
}

function printIssued(
  out: Output,
  command: string,
  r: { paths: CertificatePaths; cert: X509Certificate; orderUrl: string; certificateUrl: string },
  extra: Record<string, unknown> = {},
): void {
  const s = summarize(r.cert);
  out.result(
    {
      command,
      ...extra,
      certificate: s,
      files: r.paths,
      orderUrl: r.orderUrl,
      certificateUrl: r.certificateUrl,
    },
    [
      `certificate for ${s.identifiers.map((i) => i.value).join(', ')}`,
      `  serial: ${s.serial}`,
      `  valid: ${s.notBefore} to ${s.notAfter}`,
      `  files: ${r.paths.cert}, ${r.paths.chain}, ${r.paths.fullchain}, ${r.paths.key}`,
    ],
  );
}

function parseReason(value: string): number {
  if (/^\d+$/.test(value)) {
    const code = Number(value);
    if ((Object.values(REVOCATION_REASONS) as number[]).includes(code)) return code;
  }
  const named = (REVOCATION_REASONS as Record<string, number>)[value];
  if (named !== undefined) return named;
  throw configError(
    `unknown --reason ${JSON.stringify(value)}: use an RFC 5280 code or one of ${Object.keys(REVOCATION_REASONS).join(', ')}`,
  );
}

export function registerCertificate(program: Command): void {
  const certificate = program.command('certificate').description('obtain, renew and revoke certificates');

  addSolverOptions(
    addClientOptions(
      certificate
        .command('obtain')
        .description('get a certificate for one or more names (IP addresses become ip identifiers)')
        .requiredOption(
          '-d, --domain <name>',
          'a name (or IP address) for the certificate; repeatable',
          collect,
        ),
    ),
  ).action((opts: ObtainOptions) =>
    runCommand(opts, async (out) => {
      const identifiers = identifiersFromNames(opts.domain ?? []);
      const key = generateKey(parseKeySpec(opts.keyType));
      const { client } = await openAccount(opts);
      try {
        printIssued(out, 'certificate obtain', await obtainInto(out, client, opts, identifiers, key));
      } finally {
        client.close();
      }
    }),
  );

  addSolverOptions(
    addClientOptions(
      certificate
        .command('renew')
        .description(
          "renew <out-dir>/cert.pem when it is due: inside the CA's ARI window, else after two-thirds of its lifetime",
        )
        .option(
          '-d, --domain <name>',
          'names of the new certificate (default: those of the current one); repeatable',
          collect,
        )
        .option('--force', 'renew now, whether due or not')
        .option('--reuse-key', 'keep the current key.pem instead of generating a new key'),
    ),
  ).action((opts: RenewOptions) =>
    runCommand(opts, async (out) => {
      const current = pathsInDir(resolve(opts.outDir));
      const cert = parseLeaf(
        (await readUserFile(current.cert, 'certificate')).toString('utf8'),
        current.cert,
      );
      const identifiers = opts.domain ? identifiersFromNames(opts.domain) : identifiersOfCertificate(cert);
      const { client } = await openAccount(opts);
      try {
        const ari = await renewalWindow(client, cert, (error) =>
          out.progress(
            `renewal information unavailable (${(error as Error).message}); using the lifetime rule`,
          ),
        );
        const decision = decideRenewal({ cert, now: new Date(), ari: ari?.window });
        const why = {
          basis: decision.basis,
          renewAt: decision.at.toISOString(),
          ...(ari
            ? { window: { start: ari.window.start.toISOString(), end: ari.window.end.toISOString() } }
            : {}),
        };
        if (!decision.due && !opts.force) {
          out.result({ command: 'certificate renew', renewed: false, ...why, certificate: summarize(cert) }, [
            `not due: renewal at ${why.renewAt} (${decision.basis === 'ari' ? "the CA's suggested window" : 'two-thirds of the lifetime'}); --force renews now`,
          ]);
          return;
        }
        const key = opts.reuseKey
          ? await loadKey(current.key, 'certificate key')
          : generateKey(parseKeySpec(opts.keyType));
        const r = await obtainInto(out, client, opts, identifiers, key, ari?.certId);
        printIssued(out, 'certificate renew', r, {
          renewed: true,
          forced: !decision.due,
          ...why,
          replaced: r.replaced,
        });
      } finally {
        client.close();
      }
    }),
  );

  addClientOptions(
    certificate
      .command('revoke')
      .description('revoke a certificate, signed by the account or by the certificate key')
      .option('--cert <file>', 'certificate to revoke (PEM; the first certificate is the one)', './cert.pem')
      .option('--reason <reason>', 'RFC 5280 reason: a code or a name such as keyCompromise, superseded')
      .option(
        '--cert-key <file>',
        "sign with the certificate's own key instead of the account (needs --server)",
      ),
  ).action((opts: ClientCommandOptions & { cert: string; reason?: string; certKey?: string }) =>
    runCommand(opts, async (out) => {
      const reason = opts.reason === undefined ? undefined : parseReason(opts.reason);
      const cert = parseLeaf((await readUserFile(opts.cert, 'certificate')).toString('utf8'), opts.cert);
      let certificateKey: KeyObject | undefined;
      if (opts.certKey) certificateKey = await loadKey(opts.certKey, 'certificate key');
      let client: AcmeClient;
      if (certificateKey && opts.server) {
        client = new AcmeClient({
          directoryUrl: opts.server,
          accountKey: certificateKey,
          caBundle: await readCaBundle(opts.caBundle),
          timeoutMs: parseTimeoutMs(opts.timeout),
          userAgent: 'akamu-cli/0.1.0',
        });
      } else {
        client = (await openAccount(opts)).client;
      }
      try {
        out.progress(`revoking ${cert.serialNumber.toLowerCase()}`);
        await client.revokeCertificate(cert.raw, { reason, certificateKey });
        out.result(
          {
            command: 'certificate revoke',
            revoked: true,
            serial: cert.serialNumber.toLowerCase(),
            reason: reason ?? null,
          },
          [`revoked ${cert.serialNumber.toLowerCase()}${reason === undefined ? '' : ` (reason ${reason})`}`],
        );
      } finally {
        client.close();
      }
    }),
  );
}
