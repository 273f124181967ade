import { z } from 'zod';
import { AddressList } from './core/rate-limit-rules.ts';

/** `[metrics]` and `[rate_limits]` (docs/operations.md, docs/configuration.md). */

export const metricsConfigSchema = z
  .strictObject({
    /** Serve Prometheus metrics. */
    enabled: z.boolean().default(true),
    /** Where: an absolute path on the server. */
    path: z
      .string()
      .regex(/^\/[A-Za-z0-9._~/-]*$/, { message: 'must be an absolute path such as "/metrics"' })
      .default('/metrics'),
  })
  .prefault({});

const addresses = z.array(z.string()).superRefine((entries, ctx) => {
  try {
    new AddressList(entries);
  } catch (e) {
    ctx.addIssue({ code: 'custom', message: (e as Error).message });
  }
});

const limit = z.number().int().min(0).max(1_000_000_000);

/** The durations of config.ts are passed in (one parser for every duration key). */
export function rateLimitsConfigSchema<D extends z.ZodType<number, unknown>>(duration: D) {
  // A default of the caller's duration type (its output is milliseconds).
  const ms = (v: number) => duration.default(v as never);
  return z
    .strictObject({
      /** Requests from these addresses/CIDR blocks are never limited (request.ip: behind a proxy, the client's). */
      exempt_ips: addresses.default(['127.0.0.0/8', '::1']),
      /** Accounts never limited: account ids or account URLs. */
      exempt_accounts: z.array(z.string().min(1)).default([]),
      /** A page describing the limits, sent as Link rel="help" with every rateLimited problem. */
      policy_url: z
        .string()
        .refine((s) => s === '' || URL.canParse(s), { message: 'must be an absolute URL' })
        .default(''),
      /** Suffixes under which registrations happen one label deeper ("co.uk"); see docs/operations.md. */
      public_suffixes: z.array(z.string().min(1)).default([]),
      new_accounts_per_ip: limit.default(100),
      new_accounts_per_ip_window: ms(3 * 3_600_000),
      new_orders_per_account: limit.default(3000),
      new_orders_per_account_window: ms(3 * 3_600_000),
      certificates_per_domain: limit.default(10_000),
      certificates_per_domain_window: ms(7 * 86_400_000),
      duplicate_certificates: limit.default(100),
      duplicate_certificates_window: ms(7 * 86_400_000),
      failed_validations: limit.default(50),
      failed_validations_window: ms(3_600_000),
      pending_authorizations: limit.default(1000),
    })
    .prefault({});
}

export type RateLimitsConfig = z.infer<ReturnType<typeof rateLimitsConfigSchema>>;
