import type { AuthorizationStatus, OrderStatus } from '@akamu/protocol';
import type { Authorization, Order } from './types.ts';

/** RFC 8555 §7.1.6: an authorization past its expiry is "expired" whatever its stored status was (pending or valid). */
export function authorizationStatus(a: Authorization, now: number): AuthorizationStatus {
  if ((a.status === 'pending' || a.status === 'valid') && a.expiresAt <= now) return 'expired';
  return a.status;
}

/**
 * RFC 8555 §7.1.6, order objects: stored processing/valid/invalid win; otherwise an expired order or
 * any authorization that failed (invalid, deactivated, expired, revoked) makes it invalid; all valid
 * makes it ready; else pending.
 */
export function orderStatus(order: Order, authorizations: Authorization[], now: number): OrderStatus {
  if (order.status !== 'pending') return order.status;
  if (order.expiresAt <= now) return 'invalid';
  let allValid = authorizations.length === order.authorizationIds.length;
  for (const a of authorizations) {
    const s = authorizationStatus(a, now);
    if (s === 'invalid' || s === 'deactivated' || s === 'expired' || s === 'revoked') return 'invalid';
    if (s !== 'valid') allValid = false;
  }
  return allValid ? 'ready' : 'pending';
}
