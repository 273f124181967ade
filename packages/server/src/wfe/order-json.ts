import type { OrderStatus } from '@akamu/protocol';
import type { Order } from '../core/types.ts';
import type { WfeContext } from './context.ts';
import { orderToJson } from './render.ts';

/**
 * The order object with the members of its extensions: `replaces` (RFC 9773 §5), `delegation`
 * (RFC 9115 §2.3.2), `auto-renewal` and `star-certificate` in place of `certificate`, and the status
 * `canceled` once its renewals were canceled (RFC 8739 §3.1.1, §3.1.2).
 */
export async function fullOrderJson(
  ctx: Pick<WfeContext, 'urls' | 'renewals'>,
  order: Order,
  status: OrderStatus,
): Promise<Record<string, unknown>> {
  const json = orderToJson(order, status, ctx.urls) as unknown as Record<string, unknown>;
  const ext = await ctx.renewals?.orderJson(order);
  if (!ext) return json;
  if (ext.replaces) json.replaces = ext.replaces;
  if (ext.delegation) json.delegation = ctx.urls.delegation(ext.delegation);
  if (ext['auto-renewal']) json['auto-renewal'] = ext['auto-renewal'];
  if (ext.starCertificate && json.certificate !== undefined) {
    delete json.certificate;
    json['star-certificate'] = ctx.urls.starCertificate(order.id);
  }
  if (ext.status) json.status = ext.status;
  return json;
}
