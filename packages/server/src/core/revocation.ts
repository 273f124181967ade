import { AcmeError } from '../errors.ts';

/**
 * RFC 8555 §7.6 with RFC 5280 §5.3.1 reason codes. Accepted: unspecified (0), keyCompromise (1),
 * affiliationChanged (3), superseded (4), cessationOfOperation (5), privilegeWithdrawn (9). CA-only reasons
 * (2, 10), certificateHold (6) and removeFromCRL (8) are refused; 7 is unused.
 */
export const ACCEPTED_REVOCATION_REASONS = [0, 1, 3, 4, 5, 9] as const;

export function parseRevocationReason(raw: unknown): number {
  if (raw === undefined) return 0;
  if (typeof raw !== 'number' || !Number.isInteger(raw))
    throw new AcmeError('malformed', 'reason must be an integer');
  if (!(ACCEPTED_REVOCATION_REASONS as readonly number[]).includes(raw)) {
    throw new AcmeError(
      'badRevocationReason',
      `revocation reason ${raw} is not accepted (accepted: ${ACCEPTED_REVOCATION_REASONS.join(', ')})`,
    );
  }
  return raw;
}
