/** Fixtures shared by the storage contract suites (each runs on SQLite, PostgreSQL and MariaDB). */
import type { Account, Authorization } from '../../src/core/types.ts';

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

/** A pending dns authorization with one pending http-01 challenge (value defaults to a unique name). */
export function testAuthorization(
  accountId: string,
  value?: string,
  over: Partial<Authorization> = {},
): Authorization {
  const authzId = uniqueId('az');
  const now = Date.now();
  return {
    id: authzId,
    accountId,
    identifier: { type: 'dns', value: value ?? `${authzId}.example` },
    wildcard: false,
    status: 'pending',
    expiresAt: now + 86_400_000,
    createdAt: now,
    challenges: [
      {
        id: uniqueId('ch'),
        authorizationId: authzId,
        type: 'http-01',
        token: uniqueId('tok'),
        status: 'pending',
        validatedAt: null,
        error: null,
      },
    ],
    ...over,
  };
}
