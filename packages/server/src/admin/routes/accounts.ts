import type { Account } from '../../core/types.ts';
import { scopeCoversAccount } from '../auth.ts';
import {
  type AdminCall,
  type AdminContext,
  type AdminRoute,
  accountView,
  outOfScope,
  PAGE_QUERY,
  pageParams,
  scopeFilter,
} from '../context.ts';
import { AdminError, badRequest, notFound } from '../problems.ts';

const ACCOUNT_STATUSES = ['valid', 'deactivated', 'revoked'] as const;

/** The account named in the URL, if the operator may see it. */
async function loadAccount(call: AdminCall, ctx: AdminContext): Promise<Account> {
  const account = await ctx.sa.getAccount(call.params.id!);
  if (!account) throw notFound('account');
  if (call.operator.role === 'registration_officer' && !scopeCoversAccount(call.operator.scope, account.id))
    throw outOfScope('account');
  return account;
}

export const accountRoutes: AdminRoute[] = [
  {
    method: 'GET',
    url: '/admin/accounts',
    tag: 'accounts',
    summary: 'List accounts, newest first; filter by id, status or a contact substring',
    query: {
      ...PAGE_QUERY,
      id: { type: 'string', description: 'exactly this account id' },
      status: { type: 'string', description: 'account status', enum: ACCOUNT_STATUSES },
      contact: { type: 'string', description: 'a substring of a contact URL (e.g. an e-mail address)' },
    },
    async handler(call, ctx) {
      const { status, id, contact } = call.query;
      if (status !== undefined && !(ACCOUNT_STATUSES as readonly string[]).includes(status))
        throw badRequest(`status must be one of ${ACCOUNT_STATUSES.join(', ')}`);
      const page = await ctx.store.listAccounts({
        ...pageParams(call.query, ctx.config.admin.max_page_size),
        id,
        status,
        contact,
        scope: scopeFilter(call.operator),
      });
      return { items: page.items.map((a) => accountView(a, ctx)), next: page.next ?? null };
    },
  },
  {
    method: 'GET',
    url: '/admin/accounts/:id',
    tag: 'accounts',
    summary: 'Show one account',
    async handler(call, ctx) {
      return accountView(await loadAccount(call, ctx), ctx);
    },
  },
  {
    method: 'POST',
    url: '/admin/accounts/:id/deactivate',
    tag: 'accounts',
    summary: 'Deactivate an account (RFC 8555 §7.3.6); its orders and requests are refused from then on',
    async handler(call, ctx) {
      const account = await loadAccount(call, ctx);
      if (account.status !== 'valid')
        throw new AdminError('conflict', `the account is already ${account.status}`);
      return accountView(await ctx.ra.updateAccount(account, { status: 'deactivated' }, call.audit), ctx);
    },
  },
];
