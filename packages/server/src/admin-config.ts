import { z } from 'zod';

/**
 * `[admin]`: the admin API under /admin (docs/admin-api.md, docs/operations.md). Off unless enabled.
 * `duration` is config.ts's duration parser (passed in so this file does not import config.ts).
 */
export function adminConfigSchema(duration: z.ZodType<number, number | string>) {
  return z
    .strictObject({
      /** Serve /admin/* (operators authenticate with API tokens or client certificates). */
      enabled: z.boolean().default(false),
      /**
       * While no operator exists, the first start creates an administrator and writes its token to this
       * file (mode 0600); empty: use `akamu admin bootstrap`.
       */
      bootstrap_token_file: z.string().default(''),
      /** Failed logins in a row after which an operator (or a source address) is locked out. */
      max_failed_logins: z.number().int().min(1).max(1000).default(5),
      /** How long a lockout lasts. */
      lockout: duration.default(15 * 60_000),
      /** Largest page of a list (the default page is 50 or this, whichever is smaller). */
      max_page_size: z.number().int().min(1).max(10_000).default(500),
    })
    .prefault({});
}
