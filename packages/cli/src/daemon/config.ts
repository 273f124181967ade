/**
 * The daemon's configuration (docs/daemon.md): one TOML file with [[endpoint]], [[account]], [[hook]]
 * and [[certificate]] tables, validated with zod. Every error names the key (`certificate[0].key_type`);
 * unknown keys are errors; references between tables (account → endpoint, certificate → account/hooks)
 * are checked.
 */
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { KEY_SPECS, type KeySpec } from '@akamu/client';
import { parse as parseToml } from 'smol-toml';
import { z } from 'zod';
import { configError } from '../lib/exit-codes.ts';
import { parseDuration, parseMode } from '../lib/files.ts';

const duration = z.union([z.string(), z.number().nonnegative()]).transform((value, ctx) => {
  try {
    return parseDuration(value, 'duration');
  } catch (error) {
    ctx.addIssue({ code: 'custom', message: (error as Error).message });
    return z.NEVER;
  }
});

const fileMode = z.union([z.string(), z.number().int()]).transform((value, ctx) => {
  try {
    return parseMode(value);
  } catch (error) {
    ctx.addIssue({ code: 'custom', message: (error as Error).message });
    return z.NEVER;
  }
});

const keyType = z.enum(KEY_SPECS as unknown as [KeySpec, ...KeySpec[]]);
const name = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'letters, digits, ".", "_" and "-" only');
const port = z.number().int().min(0).max(65535);

/** "20/s", "100/m", "1000/h": at most that many HTTP requests to the endpoint per period. */
const rateLimit = z.string().transform((value, ctx) => {
  const m = /^(\d+)\s*\/\s*(s|m|h)$/.exec(value.trim());
  if (!m || Number(m[1]) < 1) {
    ctx.addIssue({
      code: 'custom',
      message: `invalid rate limit ${JSON.stringify(value)}: expected e.g. "20/s", "100/m"`,
    });
    return z.NEVER;
  }
  return { requests: Number(m[1]), periodMs: { s: 1000, m: 60_000, h: 3_600_000 }[m[2] as 's'] };
});

export const HOOK_EVENTS = [
  'before_challenge',
  'after_challenge',
  'after_issuance',
  'issuance_failed',
] as const;
export type HookEvent = (typeof HOOK_EVENTS)[number];

const identifierBase = {
  dns: z.string().min(1).optional(),
  ip: z.string().optional(),
};

const identifier = z
  .discriminatedUnion('challenge', [
    z.strictObject({
      ...identifierBase,
      challenge: z.literal('http-01'),
      /** Port the daemon's own http-01 responder listens on while validating (default 80). */
      http_port: port.default(80),
      /** Address it binds (default: all). */
      http_host: z.string().optional(),
    }),
    z.strictObject({
      ...identifierBase,
      challenge: z.literal('tls-alpn-01'),
      tls_port: port.default(443),
      tls_host: z.string().optional(),
    }),
    z.strictObject({
      ...identifierBase,
      challenge: z.literal('dns-01'),
      /** Executable that publishes (and, without dns_clean_hook, removes) the TXT record. */
      dns_hook: z.string().min(1),
      dns_clean_hook: z.string().min(1).optional(),
    }),
  ])
  .superRefine((id, ctx) => {
    if ((id.dns === undefined) === (id.ip === undefined))
      ctx.addIssue({ code: 'custom', message: 'give exactly one of dns = "name" or ip = "address"' });
    if (id.ip !== undefined && isIP(id.ip) === 0)
      ctx.addIssue({ code: 'custom', path: ['ip'], message: `not an IP address: ${id.ip}` });
  });

const schema = z
  .strictObject({
    /** Where state.json and generated account keys live. Relative paths are relative to the config file. */
    state_dir: z.string().default('akamu-daemon'),
    log_format: z.enum(['json', 'human']).default('json'),
    /** How often every certificate is looked at even when nothing is due (ARI windows move). */
    check_interval: duration.default(3_600_000),
    /** Backoff after a failed issuance: retry_min, doubling, at most retry_max. */
    retry_min: duration.default(60_000),
    retry_max: duration.default(86_400_000),
    /** Time limit for each validation wait and each hook. */
    validation_timeout: duration.default(120_000),
    hook_timeout: duration.default(300_000),
    endpoint: z
      .array(
        z.strictObject({
          name,
          /** The ACME directory URL. */
          directory: z.url({ protocol: /^https?$/ }),
          /** PEM file of CA certificates to trust for the endpoint instead of the system store. */
          ca_bundle: z.string().optional(),
          /** Agree to the CA's terms of service when creating accounts. */
          tos_agreed: z.boolean().default(false),
          /** Per-request time limit. */
          timeout: duration.default(30_000),
          rate_limit: rateLimit.optional(),
          eab: z.strictObject({ kid: z.string().min(1), hmac_key: z.string().min(1) }).optional(),
        }),
      )
      .min(1),
    account: z
      .array(
        z.strictObject({
          name,
          endpoint: name,
          key_type: keyType.default('ec:P-256'),
          /** Default: <state_dir>/accounts/<name>.key (generated, 0600, when missing). */
          key_file: z.string().optional(),
          contacts: z.array(z.string().min(1)).default([]),
        }),
      )
      .min(1),
    hook: z
      .array(
        z.strictObject({
          name,
          /** Executable run directly (no shell): a path, or a name looked up in PATH. */
          cmd: z.string().min(1),
          /** Arguments; {placeholders} are replaced (docs/daemon.md). */
          args: z.array(z.string()).default([]),
          events: z.array(z.enum(HOOK_EVENTS)).min(1),
          /** A failing hook is logged but does not fail the issuance. */
          allow_failure: z.boolean().default(false),
        }),
      )
      .default([]),
    certificate: z
      .array(
        z.strictObject({
          name,
          account: name,
          identifier: z.array(identifier).min(1),
          key_type: keyType.default('ec:P-256'),
          /** Keep the same private key across renewals (default: a new key for each certificate). */
          key_reuse: z.boolean().default(false),
          /** Ask for OCSP Must-Staple (RFC 7633) in every certificate. */
          must_staple: z.boolean().default(false),
          /** Output directory: cert.pem, chain.pem, fullchain.pem, key.pem (default <state_dir>/certs/<name>). */
          directory: z.string().optional(),
          cert_file: z.string().optional(),
          chain_file: z.string().optional(),
          fullchain_file: z.string().optional(),
          key_file: z.string().optional(),
          file_mode: fileMode.default(0o644),
          key_mode: fileMode.default(0o600),
          /** Renew when less than this is left, even before the ARI window or two-thirds of the lifetime. */
          renew_before: duration.optional(),
          hooks: z.array(name).default([]),
        }),
      )
      .default([]),
  })
  .superRefine((cfg, ctx) => {
    const unique = (list: { name: string }[], table: string) => {
      const seen = new Set<string>();
      list.forEach((entry, i) => {
        if (seen.has(entry.name))
          ctx.addIssue({
            code: 'custom',
            path: [table, i, 'name'],
            message: `duplicate ${table} name ${entry.name}`,
          });
        seen.add(entry.name);
      });
      return seen;
    };
    const endpoints = unique(cfg.endpoint, 'endpoint');
    const accounts = unique(cfg.account, 'account');
    const hooks = unique(cfg.hook, 'hook');
    unique(cfg.certificate, 'certificate');
    cfg.account.forEach((a, i) => {
      if (!endpoints.has(a.endpoint))
        ctx.addIssue({
          code: 'custom',
          path: ['account', i, 'endpoint'],
          message: `no [[endpoint]] named ${a.endpoint}`,
        });
    });
    cfg.certificate.forEach((c, i) => {
      if (!accounts.has(c.account))
        ctx.addIssue({
          code: 'custom',
          path: ['certificate', i, 'account'],
          message: `no [[account]] named ${c.account}`,
        });
      c.hooks.forEach((h, j) => {
        if (!hooks.has(h))
          ctx.addIssue({
            code: 'custom',
            path: ['certificate', i, 'hooks', j],
            message: `no [[hook]] named ${h}`,
          });
      });
    });
    if (cfg.retry_max < cfg.retry_min)
      ctx.addIssue({ code: 'custom', path: ['retry_max'], message: 'must not be less than retry_min' });
  });

type Raw = z.output<typeof schema>;
export type IdentifierConfig = Raw['certificate'][number]['identifier'][number] & {
  value: string;
  type: 'dns' | 'ip';
};

export interface CertificateConfig extends Omit<Raw['certificate'][number], 'identifier'> {
  identifier: IdentifierConfig[];
  paths: { cert: string; chain: string; fullchain: string; key: string };
}

export interface DaemonConfig extends Omit<Raw, 'certificate' | 'account'> {
  file: string;
  account: (Raw['account'][number] & { key_file: string })[];
  certificate: CertificateConfig[];
}

function keyPath(path: (string | number | symbol)[]): string {
  let out = '';
  for (const part of path) out += typeof part === 'number' ? `[${part}]` : `${out ? '.' : ''}${String(part)}`;
  return out || '(top level)';
}

/** Parses and validates a configuration object; relative paths are resolved against `baseDir`. */
export function parseDaemonConfig(input: unknown, file: string): DaemonConfig {
  const r = schema.safeParse(input);
  if (!r.success) {
    const lines = r.error.issues.map((issue) => {
      if (issue.code === 'unrecognized_keys')
        return issue.keys.map((k) => `unknown key ${keyPath([...issue.path, k])}`).join('\n  ');
      return `${keyPath(issue.path)}: ${issue.message}`;
    });
    throw configError(`invalid daemon configuration ${file}:\n  ${lines.join('\n  ')}`);
  }
  const cfg = r.data;
  const base = dirname(resolve(file));
  const abs = (p: string) => (isAbsolute(p) ? p : resolve(base, p));
  const stateDir = abs(cfg.state_dir);
  return {
    ...cfg,
    file: resolve(file),
    state_dir: stateDir,
    endpoint: cfg.endpoint.map((e) => ({
      ...e,
      ca_bundle: e.ca_bundle === undefined ? undefined : abs(e.ca_bundle),
    })),
    account: cfg.account.map((a) => ({
      ...a,
      key_file: abs(a.key_file ?? join(stateDir, 'accounts', `${a.name}.key`)),
    })),
    certificate: cfg.certificate.map((c) => {
      const dir = abs(c.directory ?? join(stateDir, 'certs', c.name));
      return {
        ...c,
        identifier: c.identifier.map((id) => ({
          ...id,
          type: id.ip !== undefined ? ('ip' as const) : ('dns' as const),
          value: id.ip ?? (id.dns as string).toLowerCase(),
        })),
        paths: {
          cert: abs(c.cert_file ?? join(dir, 'cert.pem')),
          chain: abs(c.chain_file ?? join(dir, 'chain.pem')),
          fullchain: abs(c.fullchain_file ?? join(dir, 'fullchain.pem')),
          key: abs(c.key_file ?? join(dir, 'key.pem')),
        },
      };
    }),
  };
}

/** Reads and validates the TOML file (exit code 2 on any problem). */
export function loadDaemonConfig(file: string): DaemonConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw configError(`cannot read ${file}: ${(error as Error).message}`, error);
  }
  let input: unknown;
  try {
    input = parseToml(text);
  } catch (error) {
    throw configError(`${file} is not valid TOML: ${(error as Error).message}`, error);
  }
  return parseDaemonConfig(input, file);
}
