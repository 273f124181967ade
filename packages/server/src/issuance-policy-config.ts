import { z } from 'zod';
import { nameRuleProblem } from './core/name-policy.ts';
import { ekuOid, KEY_USAGE_BITS, type KeyUsageName, PROFILE_KEY_TYPES } from './core/profile-rules.ts';

/**
 * The configuration schemas of issuance policy: `[policy]` (identifier allow/deny lists for every order)
 * and `[profiles.<id>]` (draft-ietf-acme-profiles). Built from config.ts's duration schema so the two
 * files share one notion of a duration.
 */

/** Profile ids appear in URLs (/acme/profile/<id>/directory) and in the orders.profile column (64). */
export const PROFILE_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

const nameList = z
  .array(
    z.string().superRefine((entry, ctx) => {
      const problem = nameRuleProblem(entry);
      if (problem) ctx.addIssue({ code: 'custom', message: `"${entry}": ${problem}` });
    }),
  )
  .default([]);

const KEY_USAGE_NAMES = Object.keys(KEY_USAGE_BITS) as [KeyUsageName, ...KeyUsageName[]];

const url = z.string().refine((s) => s === '' || URL.canParse(s), { message: 'must be an absolute URL' });

export function issuancePolicySchemas<D extends z.ZodType<number, unknown>>(duration: D) {
  const policy = z
    .strictObject({
      /** Identifiers must match one of these when the list is not empty. */
      allow_names: nameList,
      /** Identifiers matching one of these are refused. */
      deny_names: nameList,
    })
    .prefault({});

  const profile = z.strictObject({
    /** Shown in the directory's meta.profiles. */
    description: z.string().default(''),
    /** Certificate lifetime (and the longest notBefore–notAfter an order may ask); default ca.certificate_validity. */
    validity: duration.optional(),
    key_usages: z.array(z.enum(KEY_USAGE_NAMES)).min(1).default(['digitalSignature', 'keyEncipherment']),
    extended_key_usages: z
      .array(
        z.string().refine((e) => ekuOid(e) !== undefined, {
          message: `must be a dotted OID or one of serverAuth, clientAuth, codeSigning, emailProtection, timeStamping, ocspSigning`,
        }),
      )
      .default(['serverAuth']),
    allowed_key_types: z.array(z.enum(PROFILE_KEY_TYPES)).default([]),
    identifier_types: z.array(z.string().min(1)).default([]),
    allow_names: nameList,
    deny_names: nameList,
    challenge_types: z.array(z.string().min(1)).default([]),
    crl_url: url.default(''),
    ocsp_url: url.default(''),
    authorization_mode: z.enum(['challenge', 'trust_authenticated']).default('challenge'),
    /** Only accounts bound with one of these EAB kids may use the profile; empty: every account. */
    eab_keys: z.array(z.string().min(1)).default([]),
  });

  const profiles = z
    .record(z.string(), profile)
    .superRefine((table, ctx) => {
      for (const id of Object.keys(table)) {
        if (!PROFILE_ID.test(id)) {
          ctx.addIssue({
            code: 'custom',
            path: [id],
            message: 'a profile id is 1–64 letters, digits, ".", "_" or "-", starting with a letter or digit',
          });
        }
      }
    })
    .default({});

  return { policy, profiles };
}
