/** `akamu ca init|show`: the CA's files without running the server. */
import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Config } from '@akamu/server';
import type { Command } from 'commander';
import { splitPemChain } from '../lib/certificates.ts';
import { CliError, configError, EXIT } from '../lib/exit-codes.ts';
import { runCommand } from '../lib/output.ts';
import { loadServer, type ServerModule } from '../lib/server.ts';

interface CaOptions {
  config?: string;
  dataDir?: string;
  json?: boolean;
}

async function config(opts: CaOptions): Promise<Config> {
  const { ConfigError, loadConfig, parseConfig } = await loadServer();
  try {
    const loaded = loadConfig(opts.config);
    return opts.dataDir === undefined ? loaded : parseConfig({ ...loaded, data_dir: opts.dataDir });
  } catch (error) {
    if (error instanceof ConfigError) throw configError(error.message, error);
    throw error;
  }
}

/** The CA chain files: the operator's issuer chain, or the generated intermediate and root. */
function chainFiles(cfg: Config): string[] {
  if (cfg.ca.issuer_cert_file) return [resolve(cfg.ca.issuer_cert_file)];
  const dir = join(resolve(cfg.data_dir), 'ca');
  return [join(dir, 'intermediate.pem'), join(dir, 'root.pem')];
}

interface CaCertificateInfo {
  file: string;
  subject: string;
  issuer: string;
  serial: string;
  notBefore: string;
  notAfter: string;
  sha256: string;
  sha1: string;
  keyType: string;
  ca: boolean;
}

async function describeChain(cfg: Config): Promise<CaCertificateInfo[]> {
  const server = await loadServer();
  const out: CaCertificateInfo[] = [];
  for (const file of chainFiles(cfg)) {
    let pem: string;
    try {
      pem = await readFile(file, 'utf8');
    } catch (error) {
      throw configError(
        `cannot read ${file}: ${(error as Error).message} (run \`akamu ca init\` first?)`,
        error,
      );
    }
    for (const block of splitPemChain(pem)) {
      const cert = new X509Certificate(block);
      out.push({
        file,
        subject: cert.subject,
        issuer: cert.issuer,
        serial: cert.serialNumber.toLowerCase(),
        notBefore: new Date(cert.validFrom).toISOString(),
        notAfter: new Date(cert.validTo).toISOString(),
        sha256: cert.fingerprint256,
        sha1: cert.fingerprint,
        keyType: keyTypeName(server, cert),
        ca: cert.ca,
      });
    }
  }
  return out;
}

function keyTypeName(server: ServerModule, cert: X509Certificate): string {
  // node:crypto cannot read an EXPERIMENTAL composite ML-DSA key (ca.experimental_composite).
  const composite = server.compositeKeyTypeOf(server.certificateSpki(cert.raw));
  if (composite) return `${composite} (EXPERIMENTAL)`;
  const key = cert.publicKey;
  const details = key.asymmetricKeyDetails;
  return `${key.asymmetricKeyType}${details?.namedCurve ? `:${details.namedCurve}` : details?.modulusLength ? `:${details.modulusLength}` : ''}`;
}

function human(chain: CaCertificateInfo[]): string[] {
  return chain.flatMap((c) => [
    `${c.subject.replaceAll('\n', ', ')}`,
    `  issuer: ${c.issuer.replaceAll('\n', ', ')}`,
    `  serial: ${c.serial}`,
    `  valid: ${c.notBefore} to ${c.notAfter}`,
    `  key: ${c.keyType}`,
    `  SHA-256: ${c.sha256}`,
    `  SHA-1: ${c.sha1}`,
    `  file: ${c.file}`,
  ]);
}

export function registerCa(program: Command): void {
  const ca = program.command('ca').description("the certificate authority's own key material");
  const common = (cmd: Command) =>
    cmd
      .option(
        '-c, --config <file>',
        'the server TOML configuration (for data_dir and [ca])',
        process.env.AKAMU_CONFIG,
      )
      .option('--data-dir <dir>', 'data directory (overrides data_dir)')
      .option('--json', 'print one JSON object on stdout');

  common(
    ca
      .command('init')
      .description(
        'generate the root and intermediate (and the database) in the data directory without serving',
      ),
  ).action((opts: CaOptions) =>
    runCommand(opts, async (out) => {
      const cfg = await config(opts);
      const { ConfigError, createServer } = await loadServer();
      let server: Awaited<ReturnType<typeof createServer>>;
      try {
        // The server's log (e.g. the EXPERIMENTAL composite CA warning) goes to stderr: stdout is the result.
        server = await createServer(cfg, { logger: { stream: process.stderr } });
      } catch (error) {
        if (error instanceof ConfigError) throw configError(error.message, error);
        throw new CliError(EXIT.START, `cannot initialize the CA: ${(error as Error).message}`, {
          cause: error,
        });
      }
      await server.close();
      const chain = await describeChain(cfg);
      out.result(
        {
          command: 'ca init',
          dataDir: resolve(cfg.data_dir),
          rootCertificate: server.rootCertPath ?? null,
          tlsRootCertificate: server.tlsCa?.rootCertPath ?? null,
          chain,
        },
        [
          `CA ready in ${resolve(cfg.data_dir)}`,
          `  root certificate: ${server.rootCertPath ?? '(operator-supplied chain)'}`,
          ...(server.tlsCa ? [`  HTTPS (TLS-only CA) root certificate: ${server.tlsCa.rootCertPath}`] : []),
          ...human(chain),
        ],
      );
    }),
  );

  common(
    ca.command('show').description('print subject, issuer, validity and fingerprints of the CA chain'),
  ).action((opts: CaOptions) =>
    runCommand(opts, async (out) => {
      const chain = await describeChain(await config(opts));
      out.result({ command: 'ca show', chain }, human(chain));
    }),
  );
}
