import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse as parseToml } from 'smol-toml';
import { z } from 'zod';
import { adminConfigSchema } from './admin-config.ts';
import { auditConfigSchema } from './audit/audit-config.ts';
import { isCompositeKeyType } from './ca/composite.ts';
import { CA_KEY_TYPES } from './ca/key-type.ts';
import { eabConfigSchema } from './eab-config.ts';
import { issuancePolicySchemas } from './issuance-policy-config.ts';
import { metricsConfigSchema, rateLimitsConfigSchema } from './operations-config.ts';
import { tlsConfigSchema } from './tls/tls-config.ts';

/**
 * One configuration schema, validated once at start. Every key has a safe default; unknown keys are
 * errors. docs/configuration.md documents every key (a test keeps the two in step).
 */

const DURATION = /^(\d+)(ms|s|m|h|d)$/;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** A duration: a number of seconds, or a string such as "90d", "24h", "30m", "10s", "500ms". Parsed to ms. */
const duration = z.union([z.number().nonnegative(), z.string()]).transform((v, ctx) => {
  if (typeof v === 'number') return Math.round(v * 1000);
  const m = DURATION.exec(v.trim());
  if (!m) {
    ctx.addIssue({
      code: 'custom',
      message: `"${v}" is not a duration (use e.g. "90d", "24h", "30m", "10s")`,
    });
    return z.NEVER;
  }
  return Number(m[1]) * UNIT_MS[m[2]!]!;
});

const url = z.string().refine((s) => s === '' || URL.canParse(s), { message: 'must be an absolute URL' });

/** A DNS server address: an IP, optionally with a port ("127.0.0.1:5353", "[::1]:53"). */
const dnsServer = z
  .string()
  .refine(
    (s) => /^(?:\d{1,3}(?:\.\d{1,3}){3}(?::\d{1,5})?|\[[0-9a-fA-F:.]+\](?::\d{1,5})?|[0-9a-fA-F:]+)$/.test(s),
    {
      message: 'must be an IP address with an optional port ("127.0.0.1:53", "[::1]:53")',
    },
  );

/** A lower-case A-label domain name without a trailing dot (draft-ietf-acme-dns-persist §3.1). */
const issuerDomainName = z
  .string()
  .max(253)
  .regex(/^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$/, {
    message: 'must be a lower-case domain name in A-label form without a trailing dot',
  });

/** [policy] and [profiles.<id>] (issuance-policy-config.ts). */
const issuancePolicy = issuancePolicySchemas(duration);

export const configSchema = z.strictObject({
  /** Where the SQLite database, the CA keys and certificates and the server's TLS files live. */
  data_dir: z.string().default('akamu-data'),
  server: z
    .strictObject({
      host: z.string().default('127.0.0.1'),
      port: z.number().int().min(0).max(65535).default(8443),
      /** The external URL every link is built from. Default: https://<first tls hostname>:<port>. */
      base_url: url.default(''),
      /** Behind a TLS-terminating reverse proxy: serve plain HTTP and trust X-Forwarded-* from trusted_proxies. */
      behind_proxy: z.boolean().default(false),
      trusted_proxies: z.array(z.string()).default(['127.0.0.1', '::1']),
      /** Largest accepted request body, in bytes. */
      body_limit: z
        .number()
        .int()
        .min(1024)
        .max(10 * 1024 * 1024)
        .default(64 * 1024),
      /** pino log level. */
      log_level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    })
    .prefault({}),
  /** The HTTPS listener and mutual TLS (tls/tls-config.ts), docs/tls.md. */
  tls: tlsConfigSchema(duration),
  database: z
    .strictObject({
      /** sqlite:<path> (default sqlite:<data_dir>/akamu.db), sqlite::memory:, postgres://…, mysql:// or mariadb://…. */
      url: z.string().default(''),
      /** Connections in the pool (PostgreSQL, MariaDB/MySQL; SQLite has one). */
      pool_size: z.number().int().min(1).max(1000).default(10),
      /** Refuse to connect to PostgreSQL/MariaDB without TLS. */
      require_tls: z.boolean().default(false),
      connect_timeout: duration.default(10_000),
      /** How long an account read from the database may be served from this process's cache. */
      account_cache: duration.default(5_000),
    })
    .prefault({}),
  ca: z
    .strictObject({
      /** The composite ML-DSA types (composite:…) need experimental_composite = true. */
      key_type: z.enum(CA_KEY_TYPES).default('ec:P-256'),
      /**
       * Allow the EXPERIMENTAL composite ML-DSA CA key types (draft-ietf-lamps-pq-composite-sigs), which no
       * mainstream client verifies; docs/tls.md#composite-ml-dsa-experimental.
       */
      experimental_composite: z.boolean().default(false),
      /** Prefix of the generated CA names: "<name> Root CA", "<name> Intermediate CA". */
      name: z.string().min(1).max(40).default('akamu'),
      /** An existing issuing CA: its PKCS#8/SEC1/PKCS#1 PEM key and its chain (issuer first). */
      issuer_key_file: z.string().default(''),
      issuer_cert_file: z.string().default(''),
      certificate_validity: duration.default(90 * 86_400_000),
      /** How far before "now" notBefore is back-dated, to tolerate clock skew of relying parties. */
      backdate: duration.default(60_000),
    })
    .superRefine((ca, ctx) => {
      if (isCompositeKeyType(ca.key_type) && !ca.experimental_composite) {
        ctx.addIssue({
          code: 'custom',
          path: ['key_type'],
          message: `"${ca.key_type}" is an EXPERIMENTAL composite ML-DSA key type that no mainstream client verifies; set ca.experimental_composite = true to use it`,
        });
      }
    })
    .prefault({}),
  acme: z
    .strictObject({
      terms_of_service: url.default(''),
      website: url.default(''),
      caa_identities: z.array(z.string()).default([]),
      external_account_required: z.boolean().default(false),
      /** URL schemes accepted in account contacts (RFC 8555 §7.3). */
      contact_schemes: z.array(z.string()).default(['mailto']),
      max_contacts: z.number().int().min(0).default(10),
      order_lifetime: duration.default(7 * 86_400_000),
      /** Lifetime of a pending authorization, and of a valid one that can be reused by later orders. */
      pending_authorization_lifetime: duration.default(7 * 86_400_000),
      valid_authorization_lifetime: duration.default(30 * 86_400_000),
      /** Nonces are accepted this long after they were issued. */
      nonce_lifetime: duration.default(3_600_000),
      orders_page_size: z.number().int().min(1).max(1000).default(100),
      /** Largest number of identifiers in one order. */
      max_identifiers: z.number().int().min(1).max(1000).default(100),
      /** Seconds a client is told to wait (Retry-After) while an order or challenge is processing. */
      retry_after: z.number().int().min(0).default(1),
      /** How long an authorization poll is held open while its validation runs in this process. */
      poll_hold: duration.default(2_000),
      /** The profile of orders that name none (draft-ietf-acme-profiles); "" = no profile. */
      default_profile: z.string().default(''),
      /** RFC 9444: ancestor-domain authorizations (meta.subdomainAuthAllowed, ancestorDomain, newAuthz). */
      subdomain_auth_allowed: z.boolean().default(true),
    })
    .prefault({}),
  policy: issuancePolicy.policy,
  profiles: issuancePolicy.profiles,
  ari: z
    .strictObject({
      /** RFC 9773 §4.3: seconds a client waits before asking for a certificate's renewal information again. */
      retry_after: duration.default(6 * 3_600_000),
      /** A page explaining why a renewal window moved (RFC 9773 §4.2 explanationURL); empty = none. */
      explanation_url: url.default(''),
    })
    .prefault({}),
  star: z
    .strictObject({
      /** RFC 8739 meta.auto-renewal min-lifetime: the shortest certificate lifetime a STAR order may ask for. */
      min_lifetime: duration.default(3_600_000),
      /** RFC 8739 meta.auto-renewal max-duration: the longest span from start-date to end-date. */
      max_duration: duration.default(365 * 86_400_000),
      /** RFC 8739 §3.4: whether STAR orders may ask for unauthenticated GET of their certificate. */
      allow_certificate_get: z.boolean().default(false),
      /** How often the renewal loop looks for STAR certificates that are due. */
      check_interval: duration.default(10_000),
    })
    .prefault({}),
  /** Certificate revocation lists (RFC 5280 §5), docs/revocation.md. */
  crl: z
    .strictObject({
      /** nextUpdate − thisUpdate of every CRL. */
      lifetime: duration.default(24 * 3_600_000),
      /** A CRL older than this is rebuilt (a revocation rebuilds at once). */
      refresh: duration.default(3_600_000),
      /** Partitions: 1 serves only the complete CRL; N > 1 also serves /ca/crl/0 … /ca/crl/N-1. */
      shards: z.number().int().min(1).max(1024).default(1),
      /** The CRL distribution point written into issued certificates; empty = none (see include_in_certificates). */
      url: url.default(''),
      /** With an empty url: write <base_url>/ca/crl into issued certificates. */
      include_in_certificates: z.boolean().default(false),
    })
    .prefault({}),
  /** The OCSP responder (RFC 6960), docs/revocation.md. */
  ocsp: z
    .strictObject({
      /** "delegated": a responder certificate with id-kp-OCSPSigning signs responses; "ca": the issuing CA. */
      responder: z.enum(['delegated', 'ca']).default('delegated'),
      /** nextUpdate − thisUpdate of every response. */
      lifetime: duration.default(24 * 3_600_000),
      /** A cached response older than this is re-signed (a revocation drops it at once). */
      refresh: duration.default(3_600_000),
      /** Validity of the delegated responder certificate; a new one is issued halfway through. */
      responder_validity: duration.default(7 * 86_400_000),
      /** Most serials whose responses are kept in memory. */
      cache_size: z.number().int().min(0).max(10_000_000).default(100_000),
      /** The OCSP URL written into issued certificates (AIA); empty = none (see include_in_certificates). */
      url: url.default(''),
      /** With an empty url: write <base_url>/ca/ocsp into issued certificates. */
      include_in_certificates: z.boolean().default(false),
      /** How often to look for revocations made by other processes sharing the database; 0 = never. */
      revocation_poll: duration.default(5_000),
    })
    .prefault({}),
  cluster: z
    .strictObject({
      /** This node's name in leases and logs; default <hostname>-<pid>-<random>. */
      node_id: z.string().max(64).default(''),
      /** How often each node looks for background work: abandoned validations, the housekeeping sweep. */
      sweep_interval: duration.default(10_000),
      /** A validation or finalization in progress this long was abandoned by a node that died. */
      abandoned_after: duration.default(60_000),
    })
    .prefault({}),
  va: z
    .strictObject({
      /** Port the http-01 validator connects to (RFC 8555 §8.3 says 80; tests use a high one). */
      http01_port: z.number().int().min(1).max(65535).default(80),
      /** Port the tls-alpn-01 validator connects to (RFC 8737 §3 says 443). */
      tls_alpn01_port: z.number().int().min(1).max(65535).default(443),
      timeout: duration.default(10_000),
      /** Validations running at once; more wait in a queue. */
      concurrency: z.number().int().min(1).max(1000).default(32),
      /** Allow validation connections to loopback, private and link-local addresses (usual for a private CA). */
      allow_private_networks: z.boolean().default(true),
    })
    .prefault({}),
  /** tkauth-01 (RFC 9447, RFC 9448) for TNAuthList identifiers: off until trust_anchors is set. */
  tkauth: z
    .strictObject({
      /** URLs of Token Authorities; the first is shown as the challenge's "token-authority". */
      token_authorities: z.array(z.string().url()).default([]),
      /** PEM files of the Token Authority CA certificates an authority token's x5c chain must lead to. */
      trust_anchors: z.array(z.string().min(1)).default([]),
    })
    .prefault({}),
  /** The DNS resolvers every validation lookup uses (dns-01, dns-persist-01, CAA, http-01 target names). */
  dns: z
    .strictObject({
      /** "host", "host:port" or "[v6]:port"; empty: the system's resolvers. */
      resolvers: z.array(dnsServer).default([]),
      /** Time limit of one DNS query attempt. */
      timeout: duration.default(5_000),
      /** Attempts per query (per server) before giving up. */
      tries: z.number().int().min(1).max(10).default(2),
    })
    .prefault({}),
  /** External account binding keys (RFC 8555 §7.3.4), docs/eab.md; eab-config.ts. */
  eab: eabConfigSchema,
  /** The audit log's JSON-lines file (docs/operations.md); audit/audit-config.ts. */
  audit: auditConfigSchema,
  /** Prometheus metrics (docs/operations.md); operations-config.ts. */
  metrics: metricsConfigSchema,
  /** Rate limits (RFC 8555 §6.6, docs/operations.md); operations-config.ts. */
  rate_limits: rateLimitsConfigSchema(duration),
  /** The admin API and its operators (admin-config.ts), docs/admin-api.md. */
  admin: adminConfigSchema(duration),
  /** dns-persist-01 (draft-ietf-acme-dns-persist): off until issuer_domain_names is set. */
  dns_persist: z
    .strictObject({
      issuer_domain_names: z.array(issuerDomainName).max(10).default([]),
      /** Prefix of hashed account URIs (directory meta accountHashPrefix); default <base_url>/acme/account-hash/. */
      account_hash_prefix: url.default(''),
    })
    .prefault({}),
});

export type Config = z.infer<typeof configSchema>;
export type ConfigInput = z.input<typeof configSchema>;

export class ConfigError extends Error {
  override name = 'ConfigError';
}

const parsed = new WeakSet<object>();

/**
 * Validates a config object; the error names every bad key (`server.port: …`). A config this function
 * returned is passed through unchanged (its durations are already milliseconds).
 */
export function parseConfig(input: unknown): Config {
  if (typeof input === 'object' && input !== null && parsed.has(input)) return input as Config;
  const r = configSchema.safeParse(input ?? {});
  if (r.success) {
    parsed.add(r.data);
    return r.data;
  }
  const lines = r.error.issues.map((i) => {
    const key = i.path.join('.');
    if (i.code === 'unrecognized_keys') {
      const where = key ? `${key}.` : '';
      return `unknown key${i.keys.length > 1 ? 's' : ''} ${i.keys.map((k) => where + k).join(', ')}`;
    }
    return `${key || '(root)'}: ${i.message}`;
  });
  throw new ConfigError(`invalid configuration:\n  ${lines.join('\n  ')}`);
}

/**
 * The AKAMU_* variables of the `akamu` command itself (docs/cli.md), which name no configuration key:
 * the configuration file, the compile cache, the tls-alpn-responder's key authorization.
 */
const COMMAND_ENV_VARIABLES: ReadonlySet<string> = new Set([
  'AKAMU_CONFIG',
  'AKAMU_COMPILE_CACHE',
  'AKAMU_KEY_AUTHORIZATION',
]);

/**
 * AKAMU_<SECTION>_<KEY>=value overrides (e.g. AKAMU_SERVER_PORT=0, AKAMU_DATA_DIR=/var/lib/akamu).
 * Values are parsed as TOML values where they parse (numbers, booleans, arrays), else taken as strings.
 */
export function applyEnvOverrides(
  input: Record<string, unknown>,
  env: NodeJS.ProcessEnv,
): Record<string, unknown> {
  const out: Record<string, unknown> = structuredClone(input);
  const shape = configSchema.shape as Record<string, unknown>;
  for (const [name, raw] of Object.entries(env)) {
    if (!name.startsWith('AKAMU_') || raw === undefined || COMMAND_ENV_VARIABLES.has(name)) continue;
    const rest = name.slice(6).toLowerCase();
    const value = parseEnvValue(raw);
    if (rest in shape && !isSection(rest)) {
      out[rest] = value;
      continue;
    }
    // The longest section name first: AKAMU_DNS_PERSIST_… is [dns_persist], not [dns].
    const section = Object.keys(shape)
      .sort((a, b) => b.length - a.length)
      .find((s) => isSection(s) && rest.startsWith(`${s}_`));
    if (!section) throw new ConfigError(`environment variable ${name} names no configuration key`);
    const sectionObj = (out[section] ?? {}) as Record<string, unknown>;
    sectionObj[rest.slice(section.length + 1)] = value;
    out[section] = sectionObj;
  }
  return out;
}

function isSection(key: string): boolean {
  return key !== 'data_dir';
}

function parseEnvValue(raw: string): unknown {
  try {
    return (parseToml(`v = ${raw}`) as { v: unknown }).v;
  } catch {
    return raw;
  }
}

/** Reads a TOML file (optional), applies AKAMU_* overrides, validates. */
export function loadConfig(file: string | undefined, env: NodeJS.ProcessEnv = process.env): Config {
  let input: Record<string, unknown> = {};
  if (file) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (e) {
      throw new ConfigError(`cannot read configuration file ${file}: ${(e as Error).message}`);
    }
    try {
      input = parseToml(text) as Record<string, unknown>;
    } catch (e) {
      throw new ConfigError(`${file} is not valid TOML: ${(e as Error).message}`);
    }
  }
  const config = parseConfig(applyEnvOverrides(input, env));
  if (file) config.data_dir = path.resolve(path.dirname(file), config.data_dir);
  if (file)
    config.tkauth.trust_anchors = config.tkauth.trust_anchors.map((p) => path.resolve(path.dirname(file), p));
  if (file && config.audit.file) config.audit.file = path.resolve(path.dirname(file), config.audit.file);
  if (file) {
    const tls = config.tls;
    const resolve = (p: string) => (p === '' ? p : path.resolve(path.dirname(file), p));
    tls.client_ca_files = tls.client_ca_files.map(resolve);
    tls.cert_file = resolve(tls.cert_file);
    tls.key_file = resolve(tls.key_file);
  }
  return config;
}
