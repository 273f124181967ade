import { isIP } from 'node:net';
import { z } from 'zod';

/**
 * `[tls]`: the HTTPS listener (protocol versions, groups, server certificate and its renewal, HTTP/2) and
 * mutual TLS (client certificates, directly or forwarded by a trusted reverse proxy). docs/tls.md.
 */

/** Key types a client certificate may have (`client_key_types`). */
export const CLIENT_KEY_TYPES = [
  'rsa',
  'ec:P-256',
  'ec:P-384',
  'ec:P-521',
  'ed25519',
  'ed448',
  'ml-dsa-44',
  'ml-dsa-65',
  'ml-dsa-87',
] as const;
export type ClientKeyType = (typeof CLIENT_KEY_TYPES)[number];
export const PQ_CLIENT_KEY_TYPES: readonly ClientKeyType[] = ['ml-dsa-44', 'ml-dsa-65', 'ml-dsa-87'];

/** The key exchange groups offered by default, most preferred first (hybrid post-quantum first). */
export const DEFAULT_GROUPS = ['X25519MLKEM768', 'X25519', 'P-256', 'P-384'];

const addressOrBlock = z.string().refine(
  (s) => {
    const [addr, bits, extra] = s.split('/');
    if (extra !== undefined || addr === undefined) return false;
    const family = isIP(addr);
    if (family === 0) return false;
    if (bits === undefined) return true;
    const n = Number(bits);
    return /^\d{1,3}$/.test(bits) && n >= 0 && n <= (family === 4 ? 32 : 128);
  },
  { message: 'must be an IP address or a CIDR block ("10.0.0.0/8")' },
);

// biome-ignore lint/suspicious/noExplicitAny: the duration schema is config.ts's (a zod transform to ms)
export function tlsConfigSchema(duration: z.ZodType<number, any>) {
  return z
    .strictObject({
      /** auto: issue a server certificate from the built-in CA; files: cert_file/key_file; off: plain HTTP. */
      mode: z.enum(['auto', 'files', 'off']).default('auto'),
      hostnames: z.array(z.string().min(1)).min(1).default(['localhost', '127.0.0.1']),
      cert_file: z.string().default(''),
      key_file: z.string().default(''),
      /** The lowest protocol version accepted (TLS 1.2 and 1.3 are the only ones ever offered). */
      min_version: z.enum(['TLSv1.2', 'TLSv1.3']).default('TLSv1.2'),
      /** Key exchange groups, most preferred first; groups this OpenSSL lacks are dropped with a warning. */
      groups: z
        .array(z.string().regex(/^[A-Za-z0-9_-]+$/, { message: 'must be a TLS group name' }))
        .min(1)
        .default(DEFAULT_GROUPS),
      /** Validity of the auto-issued server certificate; it is renewed at 2/3 of it, without a restart. */
      auto_validity: duration
        .refine((ms) => ms >= 1000, { message: 'must be at least 1s' })
        .default(30 * 86_400_000),
      /** Serve HTTP/2 to clients that offer it in ALPN (HTTP/1.1 always remains). */
      http2: z.boolean().default(true),
      /** Client certificates: none (not asked for), optional (asked for), required (every request needs one). */
      client_auth: z.enum(['none', 'optional', 'required']).default('none'),
      /** PEM files of the trust anchors client certificates must chain to. */
      client_ca_files: z.array(z.string().min(1)).default([]),
      /** Most intermediate CA certificates between a client certificate and its trust anchor. */
      client_max_chain_depth: z.number().int().min(0).max(10).default(2),
      /** Smallest RSA modulus, in bits, of any certificate of a client chain. */
      client_min_rsa_bits: z.number().int().min(1024).max(16384).default(2048),
      /** Accepted client certificate key types. */
      client_key_types: z.array(z.enum(CLIENT_KEY_TYPES)).default(['rsa', 'ec:P-256', 'ec:P-384', 'ed25519']),
      /** Also accept ML-DSA (FIPS 204) client certificates. */
      client_allow_pq: z.boolean().default(false),
      /** Check client certificates akamu issued against its own revocation status. */
      client_check_revocation: z.boolean().default(true),
      /** Peers (addresses or CIDR blocks) whose X-SSL-Client-Cert / X-Forwarded-Client-Cert header is believed. */
      forwarded_cert_proxies: z.array(addressOrBlock).default([]),
    })
    .superRefine((tls, ctx) => {
      const pq = tls.client_key_types.filter((t) => PQ_CLIENT_KEY_TYPES.includes(t));
      if (pq.length > 0 && !tls.client_allow_pq) {
        ctx.addIssue({
          code: 'custom',
          path: ['client_key_types'],
          message: `${pq.join(', ')} needs client_allow_pq = true`,
        });
      }
      const needsAnchors = tls.client_auth !== 'none' || tls.forwarded_cert_proxies.length > 0;
      if (needsAnchors && tls.client_ca_files.length === 0) {
        ctx.addIssue({
          code: 'custom',
          path: ['client_ca_files'],
          message: 'client_auth "optional"/"required" and forwarded_cert_proxies need a trust anchor file',
        });
      }
    })
    .prefault({});
}

export type TlsConfig = z.infer<ReturnType<typeof tlsConfigSchema>>;

/** The accepted client key types: the configured ones, plus ML-DSA when allowed. */
export function acceptedClientKeyTypes(tls: TlsConfig): Set<ClientKeyType> {
  const types = new Set<ClientKeyType>(tls.client_key_types);
  if (tls.client_allow_pq) for (const t of PQ_CLIENT_KEY_TYPES) types.add(t);
  return types;
}
