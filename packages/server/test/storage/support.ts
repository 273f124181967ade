/** Fixtures shared by the storage contract suites (each runs on SQLite, PostgreSQL and MariaDB). */
import type { Account } from '../../src/core/types.ts';

let n = 0;
/** An id unique within this process, with a readable prefix. */
export const uniqueId = (prefix: string) => `${prefix}${Date.now().toString(36)}${(n++).toString(36)}`;

/** A valid account with a fresh id and thumbprint. */
export const testAccount = (over: Partial<Account> = {}): Account => ({
  id: uniqueId('acct'),
  thumbprint: uniqueId('tp'),
  jwk: { kty: 'EC', crv: 'P-256', x: 'x', y: 'y' },
  status: 'valid',
  contact: [],
  termsOfServiceAgreed: true,
  createdAt: Date.now(),
  ...over,
});
