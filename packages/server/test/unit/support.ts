/** Shared helpers for the unit tests. */
import { AcmeError } from '../../src/errors.ts';

/** 'ok' if fn returns, the ACME problem type if it throws an AcmeError, else the thrown value as text. */
export function typeOf(fn: () => unknown): string {
  try {
    fn();
    return 'ok';
  } catch (e) {
    return e instanceof AcmeError ? e.type : String(e);
  }
}
