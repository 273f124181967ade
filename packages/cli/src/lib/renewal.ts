/**
 * When to renew (docs/cli.md "Renewal"): inside the CA's ARI suggested window (RFC 9773) when the CA
 * publishes renewalInfo, else at two-thirds of the certificate's lifetime; `renewBeforeMs` (the
 * daemon's `renew_before`) renews earlier when the remaining lifetime drops below it.
 */
import type { X509Certificate } from 'node:crypto';

export interface RenewalWindow {
  start: Date;
  end: Date;
}

export interface RenewalDecision {
  due: boolean;
  /** When the certificate becomes (or became) due. */
  at: Date;
  /** What decided `at`. */
  basis: 'ari' | 'lifetime' | 'renew_before' | 'expired';
  window?: RenewalWindow;
}

export function decideRenewal(opts: {
  cert: X509Certificate;
  now: Date;
  ari?: RenewalWindow;
  renewBeforeMs?: number;
}): RenewalDecision {
  const notBefore = new Date(opts.cert.validFrom).getTime();
  const notAfter = new Date(opts.cert.validTo).getTime();
  let at: number;
  let basis: RenewalDecision['basis'];
  if (opts.ari) {
    at = opts.ari.start.getTime();
    basis = 'ari';
  } else {
    at = notBefore + ((notAfter - notBefore) * 2) / 3;
    basis = 'lifetime';
  }
  if (opts.renewBeforeMs !== undefined && notAfter - opts.renewBeforeMs < at) {
    at = notAfter - opts.renewBeforeMs;
    basis = 'renew_before';
  }
  if (notAfter <= opts.now.getTime() && at > notAfter) {
    at = notAfter;
    basis = 'expired';
  }
  return { due: opts.now.getTime() >= at, at: new Date(at), basis, window: opts.ari };
}
