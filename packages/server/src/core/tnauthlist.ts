import { type Identifier, octetString, oid, readChildren, readWhole, sequence, TAG } from '@akamu/protocol';
import { AcmeError } from '../errors.ts';

/**
 * TNAuthList identifiers (RFC 9448 §3): the value is the base64 of a DER TNAuthorizationList (RFC 8226
 * §9): SEQUENCE SIZE (1..MAX) OF TNEntry, where TNEntry is a CHOICE of spc [0], range [1] or one [2].
 */
export const IDENTIFIER_TYPE_TNAUTHLIST = 'TNAuthList';

/** The DER bytes of a TNAuthList identifier value, or why it is not one. Accepts base64 and base64url. */
export function decodeTnAuthList(value: string): { der: Buffer } | { error: string } {
  if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(value)) return { error: 'the value is not base64' };
  const der = Buffer.from(value.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
  try {
    const list = readWhole(der, TAG.SEQUENCE, 'TNAuthorizationList');
    const entries = readChildren(der, list);
    if (entries.length === 0) return { error: 'the TNAuthList is empty' };
    for (const e of entries) {
      const n = e.tag & 0x1f;
      if ((e.tag & 0xc0) !== 0x80 || n > 2)
        return { error: 'a TNEntry must be spc [0], range [1] or one [2]' };
    }
  } catch (err) {
    return { error: `the value is not a DER TNAuthList: ${(err as Error).message}` };
  }
  return { der };
}

/** The canonical identifier value: standard base64 with padding of the DER. */
export function canonicalTnAuthList(value: string): string | { error: string } {
  const r = decodeTnAuthList(value);
  return 'error' in r ? r : r.der.toString('base64');
}

/** RFC 8226 §9: id-pe-TNAuthList, the certificate extension carrying the TNAuthList. */
export const OID_PE_TNAUTHLIST = '1.3.6.1.5.5.7.1.26';

/**
 * RFC 9448 §6: a certificate for a TNAuthList identifier carries it as the TNAuthList extension. One
 * TNAuthList per order; a CSR that requests the extension must request exactly the identifier's list.
 */
export function checkTnAuthListCsr(
  csr: { unknownExtensions: { oid: string; value: Buffer }[] },
  identifiers: Identifier[],
): void {
  const lists = identifiers.filter((i) => i.type === IDENTIFIER_TYPE_TNAUTHLIST);
  if (lists.length === 0) return;
  if (lists.length > 1) throw new AcmeError('badCSR', 'an order may hold one TNAuthList identifier');
  const requested = csr.unknownExtensions.find((e) => e.oid === OID_PE_TNAUTHLIST);
  const wanted = decodeTnAuthList(lists[0]!.value);
  if (requested && ('error' in wanted || !requested.value.equals(wanted.der))) {
    throw new AcmeError('badCSR', "the CSR's TNAuthList extension is not the order's TNAuthList identifier");
  }
}

/** The TNAuthList extension (non-critical, RFC 8226 §9) for an order's TNAuthList identifier, if any. */
export function tnAuthListExtensions(identifiers: Identifier[]): Buffer[] {
  const out: Buffer[] = [];
  for (const id of identifiers) {
    if (id.type !== IDENTIFIER_TYPE_TNAUTHLIST) continue;
    const r = decodeTnAuthList(id.value);
    if ('der' in r) out.push(sequence(oid(OID_PE_TNAUTHLIST), octetString(r.der)));
  }
  return out;
}
