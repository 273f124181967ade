/**
 * `akamu admin …`: a thin client of the admin API (docs/admin-api.md), plus `akamu admin bootstrap`, which
 * creates the first administrator directly in the database (there is no token to call the API with yet).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { join, resolve } from 'node:path';
import type { Config } from '@akamu/server';
import type { Command } from 'commander';
import { CliError, configError, EXIT } from '../lib/exit-codes.ts';
import { type Output, runCommand } from '../lib/output.ts';
import { loadServer } from '../lib/server.ts';
import { collect } from './common.ts';

interface AdminOptions {
  server?: string;
  tokenFile?: string;
  caBundle?: string;
  timeout: string;
  json?: boolean;
}

/** A problem document the admin API answered with: exit code ACME_PROBLEM (5). */
class AdminProblemError extends CliError {
  readonly problem: Record<string, unknown>;
  constructor(status: number, problem: Record<string, unknown>) {
    super(EXIT.ACME_PROBLEM, `${status} ${String(problem.type ?? '')}: ${String(problem.detail ?? '')}`, {
      kind: 'admin_problem',
    });
    this.problem = problem;
  }
}

interface Reply {
  status: number;
  contentType: string;
  body: string;
}

/** One request to the admin API, with a time limit and a bounded answer. */
async function request(
  opts: AdminOptions,
  method: string,
  path: string,
  body?: unknown,
  auth = true,
): Promise<Reply> {
  const server = opts.server ?? process.env.AKAMU_ADMIN_SERVER;
  if (!server) throw configError('--server <admin base URL> (or AKAMU_ADMIN_SERVER) is needed');
  let base: URL;
  try {
    base = new URL(server);
  } catch (error) {
    throw configError(`--server ${server} is not a URL`, error);
  }
  const url = new URL(`${base.pathname.replace(/\/$/, '')}${path}`, base);
  const headers: Record<string, string> = { accept: 'application/json' };
  if (auth) {
    const file = opts.tokenFile ?? process.env.AKAMU_ADMIN_TOKEN_FILE;
    if (!file) throw configError('--token-file <file> (or AKAMU_ADMIN_TOKEN_FILE) is needed');
    try {
      headers.authorization = `Bearer ${readFileSync(file, 'utf8').trim()}`;
    } catch (error) {
      throw configError(`cannot read the token file ${file}: ${(error as Error).message}`, error);
    }
  }
  let ca: string | undefined;
  if (opts.caBundle) {
    try {
      ca = readFileSync(opts.caBundle, 'utf8');
    } catch (error) {
      throw configError(`cannot read --ca-bundle ${opts.caBundle}: ${(error as Error).message}`, error);
    }
  }
  const payload = body === undefined ? undefined : JSON.stringify(body);
  if (payload !== undefined) headers['content-type'] = 'application/json';
  const timeoutMs = Number(opts.timeout) * 1000;
  if (!(timeoutMs > 0)) throw configError('--timeout must be a positive number of seconds');
  const lib = url.protocol === 'https:' ? https : http;
  const reply = await new Promise<Reply>((resolveReply, reject) => {
    const req = lib.request(url, { method, headers, ...(ca ? { ca } : {}) }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > 16 * 1024 * 1024) req.destroy(new Error('the answer is over 16 MiB'));
        else chunks.push(c);
      });
      res.on('end', () =>
        resolveReply({
          status: res.statusCode ?? 0,
          contentType: String(res.headers['content-type'] ?? ''),
          body: Buffer.concat(chunks).toString('utf8'),
        }),
      );
      res.on('error', reject);
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`no answer within ${opts.timeout} s`)));
    req.on('error', (error) =>
      reject(new CliError(EXIT.NETWORK, `${url.origin}: ${error.message}`, { cause: error })),
    );
    req.end(payload);
  });
  if (reply.status >= 400) {
    let problem: Record<string, unknown>;
    try {
      problem = JSON.parse(reply.body) as Record<string, unknown>;
    } catch {
      throw new CliError(EXIT.NETWORK, `${url.origin} answered ${reply.status} without a problem document`);
    }
    throw new AdminProblemError(reply.status, problem);
  }
  return reply;
}

async function getJson(
  opts: AdminOptions,
  method: string,
  path: string,
  body?: unknown,
): Promise<Record<string, unknown>> {
  const r = await request(opts, method, path, body);
  if (r.status === 204 || r.body === '') return {};
  try {
    return JSON.parse(r.body) as Record<string, unknown>;
  } catch {
    throw new CliError(EXIT.NETWORK, `the answer to ${method} ${path} is not JSON`);
  }
}

function query(params: Record<string, string | number | boolean | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined) q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : '';
}

const seg = (s: string) => encodeURIComponent(s);

/** Prints an object: its JSON with --json, else `key: value` lines. */
function printObject(out: Output, value: Record<string, unknown>, extra: Record<string, unknown> = {}): void {
  out.result({ ...extra, result: value }, humanLines(value));
}

function humanLines(value: Record<string, unknown>): string[] {
  return Object.entries(value).map(
    ([k, v]) => `${k}: ${typeof v === 'object' && v !== null ? JSON.stringify(v) : String(v)}`,
  );
}

/** Prints a list: JSON with --json, else one line per item with the named columns. */
function printList(out: Output, value: Record<string, unknown>, columns: string[]): void {
  const items = (value.items as Record<string, unknown>[] | undefined) ?? [];
  const lines = items.map((i) =>
    columns
      .map((c) => {
        const v = i[c];
        return typeof v === 'object' && v !== null ? JSON.stringify(v) : String(v ?? '-');
      })
      .join('  '),
  );
  if (value.next) lines.push(`(more: --cursor ${String(value.next)})`);
  out.result({ items, next: value.next ?? null }, lines.length > 0 ? lines : ['(none)']);
}

/** Runs an API action: `fn` gets the admin options (the parent's, merged) and an Output. */
function action<A extends unknown[]>(
  fn: (opts: AdminOptions & Record<string, unknown>, out: Output, ...args: A) => Promise<void>,
) {
  return (...args: unknown[]) => {
    const cmd = args.at(-1) as Command;
    const opts = cmd.optsWithGlobals() as AdminOptions & Record<string, unknown>;
    const positional = args.slice(0, -2) as A;
    return runCommand(opts, (out) => fn(opts, out, ...positional));
  };
}

export function registerAdmin(program: Command): void {
  const admin = program
    .command('admin')
    .description('manage the CA through its admin API (docs/admin-api.md)')
    .option('-s, --server <url>', 'admin base URL, e.g. https://ca.example:8443 (or AKAMU_ADMIN_SERVER)')
    .option('-t, --token-file <file>', 'file holding the operator API token (or AKAMU_ADMIN_TOKEN_FILE)')
    .option('--ca-bundle <pem>', "trust these CA certificates (PEM) for the server's TLS certificate")
    .option('--timeout <seconds>', 'time limit of each request', '30')
    .option('--json', 'print one JSON object on stdout (for scripts)');

  admin
    .command('whoami')
    .description('the operator the token belongs to')
    .action(action(async (o, out) => printObject(out, await getJson(o, 'GET', '/admin/me'))));

  const accounts = admin.command('accounts').description('ACME accounts');
  accounts
    .command('list')
    .description('list accounts, newest first')
    .option('--id <id>')
    .option('--status <status>', 'valid, deactivated or revoked')
    .option('--contact <text>', 'a substring of a contact URL')
    .option('--limit <n>')
    .option('--cursor <cursor>')
    .action(
      action(async (o, out) => {
        const q = query({
          id: o.id,
          status: o.status,
          contact: o.contact,
          limit: o.limit,
          cursor: o.cursor,
        } as Record<string, string>);
        printList(out, await getJson(o, 'GET', `/admin/accounts${q}`), [
          'id',
          'status',
          'contact',
          'createdAt',
        ]);
      }),
    );
  accounts
    .command('show <id>')
    .action(
      action(async (o, out, id: string) =>
        printObject(out, await getJson(o, 'GET', `/admin/accounts/${seg(id)}`)),
      ),
    );
  accounts
    .command('deactivate <id>')
    .action(
      action(async (o, out, id: string) =>
        printObject(out, await getJson(o, 'POST', `/admin/accounts/${seg(id)}/deactivate`)),
      ),
    );

  const orders = admin.command('orders').description('orders');
  orders
    .command('list')
    .option('--account <id>')
    .option('--status <status>', 'pending, processing, valid or invalid')
    .option('--limit <n>')
    .option('--cursor <cursor>')
    .action(
      action(async (o, out) => {
        const q = query({ account: o.account, status: o.status, limit: o.limit, cursor: o.cursor } as Record<
          string,
          string
        >);
        printList(out, await getJson(o, 'GET', `/admin/orders${q}`), [
          'id',
          'accountId',
          'status',
          'identifiers',
        ]);
      }),
    );
  orders
    .command('show <id>')
    .action(
      action(async (o, out, id: string) =>
        printObject(out, await getJson(o, 'GET', `/admin/orders/${seg(id)}`)),
      ),
    );

  const certificates = admin.command('certificates').description('issued certificates');
  certificates
    .command('list')
    .description('search certificates, newest first')
    .option('--name <name>', 'an identifier of the certificate')
    .option('--serial <hex>')
    .option('--account <id>')
    .option('--status <status>', 'valid, revoked or expired')
    .option('--expires-after <time>', 'RFC 3339')
    .option('--expires-before <time>', 'RFC 3339')
    .option('--limit <n>')
    .option('--cursor <cursor>')
    .action(
      action(async (o, out) => {
        const q = query({
          name: o.name,
          serial: o.serial,
          account: o.account,
          status: o.status,
          expiresAfter: o.expiresAfter,
          expiresBefore: o.expiresBefore,
          limit: o.limit,
          cursor: o.cursor,
        } as Record<string, string>);
        printList(out, await getJson(o, 'GET', `/admin/certificates${q}`), [
          'serial',
          'status',
          'notAfter',
          'identifiers',
        ]);
      }),
    );
  certificates
    .command('show <serial>')
    .action(
      action(async (o, out, serial: string) =>
        printObject(out, await getJson(o, 'GET', `/admin/certificates/${seg(serial)}`)),
      ),
    );
  certificates
    .command('download <serial>')
    .description('the certificate and its chain (PEM), to stdout or --out')
    .option('-o, --out <file>')
    .action(
      action(async (o, out, serial: string) => {
        const r = await request(o, 'GET', `/admin/certificates/${seg(serial)}/pem`);
        if (o.out) {
          writeFileSync(String(o.out), r.body);
          out.result({ serial, file: resolve(String(o.out)) }, [`wrote ${resolve(String(o.out))}`]);
        } else if (o.json) out.result({ serial, pem: r.body }, []);
        else process.stdout.write(r.body);
      }),
    );
  certificates
    .command('revoke <serial>')
    .option('--reason <code>', 'RFC 5280 reason code: 0, 1, 3, 4, 5 or 9', '0')
    .action(
      action(async (o, out, serial: string) =>
        printObject(
          out,
          await getJson(o, 'POST', `/admin/certificates/${seg(serial)}/revoke`, { reason: Number(o.reason) }),
        ),
      ),
    );

  const eab = admin.command('eab').description('external account binding keys');
  eab
    .command('create')
    .description('create a key; its MAC key is shown this once')
    .option('--kid <kid>')
    .option('--note <text>')
    .option('--expires <time>', 'RFC 3339')
    .option('--profile <id>', 'a profile the bound account may use (repeatable)', collect)
    .action(
      action(async (o, out) => {
        const body: Record<string, unknown> = {};
        if (o.kid) body.kid = o.kid;
        if (o.note) body.note = o.note;
        if (o.expires) body.expires = o.expires;
        if (o.profile) body.profiles = o.profile;
        printObject(out, await getJson(o, 'POST', '/admin/eab-keys', body));
      }),
    );
  eab
    .command('list')
    .option('--used', 'only keys that bound an account')
    .option('--unused', 'only unused keys')
    .action(
      action(async (o, out) => {
        const used = o.used ? true : o.unused ? false : undefined;
        printList(out, await getJson(o, 'GET', `/admin/eab-keys${query({ used })}`), [
          'kid',
          'usedBy',
          'expires',
          'note',
        ]);
      }),
    );
  eab.command('delete <kid>').action(
    action(async (o, out, kid: string) => {
      await getJson(o, 'DELETE', `/admin/eab-keys/${seg(kid)}`);
      out.result({ deleted: kid }, [`deleted ${kid}`]);
    }),
  );

  const operators = admin.command('operators').description('operators of the admin API');
  operators
    .command('create <name>')
    .description('create an operator; its token is shown this once')
    .requiredOption('--role <role>', 'administrator, operations, registration_officer or auditor')
    .option('--suffix <domain>', 'registration officers: a domain suffix in scope (repeatable)', collect)
    .option('--account <id>', 'registration officers: an account in scope (repeatable)', collect)
    .option('--fingerprint <sha256>', 'SHA-256 fingerprint of a client certificate that authenticates it')
    .option('--token-out <file>', 'write the new token to this file (mode 0600) instead of printing it')
    .action(
      action(async (o, out, name: string) => {
        const body: Record<string, unknown> = { name, role: o.role };
        if (o.suffix || o.account)
          body.scope = { identifierSuffixes: o.suffix ?? [], accounts: o.account ?? [] };
        if (o.fingerprint) body.certificateFingerprint = o.fingerprint;
        printToken(out, o, await getJson(o, 'POST', '/admin/operators', body));
      }),
    );
  operators
    .command('list')
    .action(
      action(async (o, out) =>
        printList(out, await getJson(o, 'GET', '/admin/operators'), ['id', 'name', 'role', 'disabled']),
      ),
    );
  for (const verb of ['disable', 'enable'] as const) {
    operators
      .command(`${verb} <id>`)
      .action(
        action(async (o, out, id: string) =>
          printObject(out, await getJson(o, 'POST', `/admin/operators/${seg(id)}/${verb}`)),
        ),
      );
  }
  operators
    .command('rotate-token <id>')
    .description('replace the token; the old one stops working')
    .option('--token-out <file>', 'write the new token to this file (mode 0600) instead of printing it')
    .action(
      action(async (o, out, id: string) =>
        printToken(out, o, await getJson(o, 'POST', `/admin/operators/${seg(id)}/rotate-token`)),
      ),
    );

  admin
    .command('profiles')
    .description('the configured issuance profiles')
    .action(
      action(async (o, out) =>
        printList(out, await getJson(o, 'GET', '/admin/profiles'), ['id', 'description', 'validitySeconds']),
      ),
    );
  admin
    .command('ca')
    .description('the issuing CA: key type, chain and fingerprints')
    .action(action(async (o, out) => printObject(out, await getJson(o, 'GET', '/admin/ca'))));
  admin
    .command('crl')
    .description('CRLs')
    .command('regenerate')
    .description('build and sign new CRLs now')
    .action(action(async (o, out) => printObject(out, await getJson(o, 'POST', '/admin/crl/regenerate'))));
  admin
    .command('ari')
    .description('ACME renewal information (RFC 9773)')
    .command('set <serial>')
    .description("override a certificate's suggested renewal window")
    .requiredOption('--start <time>', 'RFC 3339')
    .requiredOption('--end <time>', 'RFC 3339')
    .action(
      action(async (o, out, serial: string) =>
        printObject(
          out,
          await getJson(o, 'PUT', `/admin/certificates/${seg(serial)}/renewal-window`, {
            start: o.start,
            end: o.end,
          }),
        ),
      ),
    );
  admin
    .command('stats')
    .description('counts by status')
    .action(action(async (o, out) => printObject(out, await getJson(o, 'GET', '/admin/stats'))));
  admin
    .command('audit')
    .description('audit events, newest first')
    .option('--type <type>', 'an event type or a prefix such as "operator.*"')
    .option('--actor <actor>')
    .option('--object-id <id>')
    .option('--since <time>', 'RFC 3339')
    .option('--until <time>', 'RFC 3339')
    .option('--limit <n>')
    .option('--cursor <cursor>')
    .action(
      action(async (o, out) => {
        const q = query({
          type: o.type,
          actor: o.actor,
          objectId: o.objectId,
          since: o.since,
          until: o.until,
          limit: o.limit,
          cursor: o.cursor,
        } as Record<string, string>);
        printList(out, await getJson(o, 'GET', `/admin/audit${q}`), [
          'at',
          'type',
          'actor',
          'objectId',
          'outcome',
        ]);
      }),
    );

  admin
    .command('bootstrap')
    .description('create the first administrator in the database (only while there is no operator)')
    .option(
      '-c, --config <file>',
      'the server TOML configuration (for data_dir and [database])',
      process.env.AKAMU_CONFIG,
    )
    .option('--name <name>', 'the administrator’s name', 'admin')
    .option('--token-out <file>', 'write the token to this file (mode 0600) instead of printing it')
    .action(
      action(async (o, out) => {
        const {
          ConfigError,
          loadConfig,
          migrateToLatest,
          OperatorRegistry,
          openDatabase,
          SqlAdminStorage,
          systemClock,
        } = await loadServer();
        let url: string;
        let cfg: Config;
        try {
          cfg = loadConfig(o.config as string | undefined);
          url = cfg.database.url || `sqlite:${join(resolve(cfg.data_dir), 'akamu.db')}`;
        } catch (error) {
          if (error instanceof ConfigError) throw configError(error.message, error);
          throw error;
        }
        const opened = openDatabase(url, {
          poolSize: 1,
          requireTls: cfg.database.require_tls,
          connectTimeoutMs: cfg.database.connect_timeout,
        });
        try {
          await migrateToLatest(opened.db, opened.dialect);
          const first = await new OperatorRegistry(new SqlAdminStorage(opened.db), systemClock).bootstrap(
            String(o.name),
          );
          if (!first) throw configError('an operator exists already: create more through the admin API');
          printToken(out, o, {
            id: first.operator.id,
            name: first.operator.name,
            role: 'administrator',
            token: first.token,
          });
        } finally {
          await opened.close();
        }
      }),
    );
}

/** Shows an operator with its one-time token, or writes the token to --token-out. */
function printToken(out: Output, o: Record<string, unknown>, value: Record<string, unknown>): void {
  if (o.tokenOut) {
    const file = resolve(String(o.tokenOut));
    writeFileSync(file, `${String(value.token)}\n`, { mode: 0o600 });
    const { token: _t, ...rest } = value;
    out.result({ result: rest, tokenFile: file }, [...humanLines(rest), `token written to ${file}`]);
    return;
  }
  printObject(out, value);
}
