import { isIP } from 'node:net';
import { z } from 'zod';
import { EAB_KID, MAX_EAB_KEY_BYTES, MIN_EAB_KEY_BYTES, parseEabHmacKey } from './core/eab.ts';
import { PROFILE_ID } from './issuance-policy-config.ts';

/**
 * `[eab]`: external account binding keys (RFC 8555 §7.3.4), docs/eab.md. Static keys under
 * `[eab.keys.<kid>]`; HKDF-derived keys for principals named by a trusted reverse proxy.
 */

const hmacKey = z.string().refine((s) => parseEabHmacKey(s) !== undefined, {
  message: `must be base64url (no padding) of ${MIN_EAB_KEY_BYTES} to ${MAX_EAB_KEY_BYTES} bytes`,
});

/** A TOML datetime, or an RFC 3339 string; epoch ms. */
const instant = z.union([z.date(), z.string()]).transform((v, ctx) => {
  const ms = v instanceof Date ? v.getTime() : Date.parse(v);
  if (!Number.isFinite(ms)) {
    ctx.addIssue({ code: 'custom', message: `"${String(v)}" is not a date and time (RFC 3339)` });
    return z.NEVER;
  }
  return ms;
});

const staticKey = z.strictObject({
  /** The MAC key, base64url; hand it to the client with the kid. */
  hmac_key: hmacKey,
  /** After this instant the key can no longer bind an account. */
  expires: instant.optional(),
  note: z.string().max(1000).default(''),
  /** Profiles the account bound with this key may use; absent: no restriction. */
  profiles: z.array(z.string().regex(PROFILE_ID)).min(1).optional(),
});

/** An IP address or a CIDR block ("10.0.0.0/8", "fd00::/8"). */
const addressOrBlock = z.string().refine(
  (s) => {
    const [addr, bits, ...rest] = s.split('/');
    if (rest.length > 0 || !addr) return false;
    const family = isIP(addr);
    if (family === 0) return false;
    if (bits === undefined) return true;
    const n = Number(bits);
    return /^\d{1,3}$/.test(bits) && n >= 0 && n <= (family === 4 ? 32 : 128);
  },
  { message: 'must be an IP address or a CIDR block ("10.0.0.0/8")' },
);

export const eabConfigSchema = z
  .strictObject({
    /** `[eab.keys.<kid>]`: keys seeded into the database at start (a used key stays used). */
    keys: z
      .record(z.string(), staticKey)
      .superRefine((table, ctx) => {
        for (const kid of Object.keys(table)) {
          if (!EAB_KID.test(kid)) {
            ctx.addIssue({
              code: 'custom',
              path: [kid],
              message: 'a kid is 1–128 letters, digits or ._~:@+=-, starting with a letter or digit',
            });
          }
        }
      })
      .default({}),
    /** base64url of at least 32 random bytes: enables GET /acme/eab (HKDF-SHA-256 keys per principal). */
    master_secret: z
      .string()
      .default('')
      .refine((s) => s === '' || parseEabHmacKey(s) !== undefined, {
        message: `must be base64url (no padding) of ${MIN_EAB_KEY_BYTES} to ${MAX_EAB_KEY_BYTES} bytes`,
      }),
    /** The request header the reverse proxy names the authenticated principal in. */
    principal_header: z
      .string()
      .regex(/^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/, { message: 'must be an HTTP header name' })
      .default('X-Remote-User'),
    /** Peers whose principal header is believed (addresses or CIDR blocks); empty: nobody. */
    trusted_proxies: z.array(addressOrBlock).default([]),
  })
  .prefault({});

export type EabConfig = z.infer<typeof eabConfigSchema>;
