import { AcmeError } from '../errors.ts';

/** RFC 8555 §7.3: contact URLs; mailto per RFC 6068 with exactly one address and no header fields. */
export function checkContacts(raw: unknown, schemes: readonly string[], max: number): string[] {
  if (raw === undefined) return [];
  if (!Array.isArray(raw)) throw new AcmeError('malformed', 'contact must be an array of URLs');
  if (raw.length > max) throw new AcmeError('invalidContact', `at most ${max} contacts are accepted`);
  return raw.map((c) => {
    if (typeof c !== 'string') throw new AcmeError('invalidContact', 'each contact must be a string URL');
    const colon = c.indexOf(':');
    const scheme = colon > 0 ? c.slice(0, colon).toLowerCase() : '';
    if (!scheme || !/^[a-z][a-z0-9+.-]*$/.test(scheme))
      throw new AcmeError('invalidContact', `"${c}" is not a URL`);
    if (!schemes.includes(scheme)) {
      throw new AcmeError(
        'unsupportedContact',
        `contact scheme "${scheme}" is not supported (accepted: ${schemes.join(', ')})`,
      );
    }
    if (scheme === 'mailto') checkMailto(c);
    return c;
  });
}

const ADDRESS =
  /^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$/;

function checkMailto(c: string): void {
  const address = c.slice('mailto:'.length);
  if (address.includes('?'))
    throw new AcmeError('invalidContact', `"${c}": mailto contacts may not carry header fields`);
  if (address.includes(',')) throw new AcmeError('invalidContact', `"${c}": one address per mailto contact`);
  if (!ADDRESS.test(address)) throw new AcmeError('invalidContact', `"${c}" is not a valid email address`);
}
