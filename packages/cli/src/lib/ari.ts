/** RFC 9773 ACME Renewal Information, through @akamu/client, when the CA publishes `renewalInfo`. */
import type { X509Certificate } from 'node:crypto';
import { type AcmeClient, certId } from '@akamu/client';
import type { RenewalWindow } from './renewal.ts';

export interface AriResult {
  window: RenewalWindow;
  /** The certificate identifier to send as `replaces` in the renewal order. */
  certId: string;
  explanationUrl?: string;
  /** Ask again after this time (the CA's Retry-After). */
  retryAfter?: Date;
}

/**
 * The CA's suggested renewal window for `cert`, or undefined when the CA has no renewalInfo, or when
 * asking failed (then `onError` hears why, and the caller falls back to the lifetime rule, as RFC 9773
 * §4.3.3 allows).
 */
export async function renewalWindow(
  client: AcmeClient,
  cert: X509Certificate,
  onError?: (error: unknown) => void,
): Promise<AriResult | undefined> {
  const dir = await client.directory();
  if (typeof dir.renewalInfo !== 'string') return undefined;
  try {
    const id = certId(cert.raw);
    const info = await client.renewalInfo(id);
    return {
      window: info.suggestedWindow,
      certId: id,
      explanationUrl: info.explanationURL,
      retryAfter: info.retryAfter,
    };
  } catch (error) {
    onError?.(error);
    return undefined;
  }
}
