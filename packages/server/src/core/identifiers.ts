import { canonicalIp, type Identifier } from '@akamu/protocol';
import { AcmeError } from '../errors.ts';
import { isValidALabel, uLabelProblem } from './idna.ts';
import { isOnionName, onionServiceKey } from './onion.ts';
import { ancestorDomainProblem } from './subdomains.ts';
import { canonicalTnAuthList, IDENTIFIER_TYPE_TNAUTHLIST } from './tnauthlist.ts';

/**
 * Identifier rules for new-order (RFC 8555 §7.1.3, §7.4; RFC 8738 for IP addresses).
 * Names are lower-cased; IP addresses canonical (RFC 5952 for IPv6); duplicates removed.
 */

const LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

/** A DNS name in A-label form: LDH labels of 1–63 characters, 253 characters in all, at least two labels or "localhost". */
export function checkDnsName(name: string): string | undefined {
  if (name.length === 0) return 'empty name';
  if (name.length > 253) return 'name longer than 253 characters';
  if (name.endsWith('.')) return 'name has a trailing dot';
  const labels = name.split('.');
  for (const label of labels) {
    if (!LABEL.test(label)) return `label "${label}" is not a valid LDH label`;
    if (label.length >= 4 && label[2] === '-' && label[3] === '-' && !label.startsWith('xn--')) {
      return `label "${label}" has hyphens in the third and fourth positions but is not an A-label`;
    }
    if (label.startsWith('xn--') && !isValidALabel(label)) return `label "${label}" is not a valid A-label`;
  }
  if (labels.length < 2 && name !== 'localhost') return 'name has a single label';
  if (/^\d+$/.test(labels.at(-1)!))
    return 'name ends in a numeric label (an IP address must use the "ip" type)';
  return undefined;
}

/**
 * RFC 5952 canonical text of an IP address, or undefined if it is not one. RFC 8738 wants
 * identifiers in canonical form: the shared parser refuses IPv4 parts with leading zeros
 * ("010.0.0.1") rather than reading them, so an IPv4 identifier is accepted only as written.
 */
export { canonicalIp };

export interface NormalizedIdentifier {
  identifier: Identifier;
  /** The name an authorization is for: a wildcard's base name (RFC 8555 §7.1.3). */
  authzValue: string;
  wildcard: boolean;
  /** RFC 9444 §4.2: the client asks to be authorized for this ancestor domain instead. */
  ancestorDomain?: string;
}

/**
 * Checks and normalizes the identifiers of an order. A malformed list throws; each identifier the CA
 * refuses becomes an error for the caller to report as a subproblem (RFC 8555 §6.7.1).
 */
export function parseOrderIdentifiers(
  raw: unknown,
  maxIdentifiers: number,
): { identifiers: NormalizedIdentifier[]; errors: AcmeError[] } {
  if (!Array.isArray(raw) || raw.length === 0)
    throw new AcmeError('malformed', 'identifiers must be a non-empty array');
  if (raw.length > maxIdentifiers) {
    throw new AcmeError('rejectedIdentifier', `an order may name at most ${maxIdentifiers} identifiers`);
  }
  const errors: AcmeError[] = [];
  const out = new Map<string, NormalizedIdentifier>();
  for (const item of raw) {
    if (
      typeof item !== 'object' ||
      item === null ||
      typeof item.type !== 'string' ||
      typeof item.value !== 'string'
    ) {
      throw new AcmeError('malformed', 'each identifier must be an object with string "type" and "value"');
    }
    const r = normalizeIdentifier(item as Identifier);
    if (r instanceof AcmeError) errors.push(r);
    else if (item.ancestorDomain !== undefined) {
      const a = withAncestorDomain(r, item.ancestorDomain);
      if (a instanceof AcmeError) errors.push(a);
      else out.set(`${r.identifier.type}:${r.identifier.value}`, a);
    } else out.set(`${r.identifier.type}:${r.identifier.value}`, r);
  }
  return { identifiers: [...out.values()], errors };
}

export function normalizeIdentifier(id: Identifier): NormalizedIdentifier | AcmeError {
  if (id.type === 'dns') {
    const idna = uLabelProblem(id.value);
    if (idna) return reject(id, idna);
    const value = id.value.toLowerCase();
    const wildcard = value.startsWith('*.');
    const base = wildcard ? value.slice(2) : value;
    if (base.includes('*')) return reject(id, 'a wildcard is allowed only as the whole leftmost label');
    if (canonicalIp(base) !== undefined)
      return reject(id, 'an IP address must use the "ip" identifier type (RFC 8738)');
    const problem = checkDnsName(base);
    if (problem) return reject(id, problem);
    if (isOnionName(base)) {
      const onion = onionServiceKey(base);
      if ('error' in onion) return reject(id, onion.error);
    }
    return { identifier: { type: 'dns', value }, authzValue: base, wildcard };
  }
  if (id.type === 'ip') {
    const value = canonicalIp(id.value);
    if (value === undefined) return reject(id, 'not an IPv4 or IPv6 address in canonical form');
    return { identifier: { type: 'ip', value }, authzValue: value, wildcard: false };
  }
  if (id.type === IDENTIFIER_TYPE_TNAUTHLIST) {
    // RFC 9448 §3: base64 of a DER TNAuthList; validated with tkauth-01 (RFC 9447).
    const value = canonicalTnAuthList(id.value);
    if (typeof value !== 'string') return reject(id, value.error);
    return { identifier: { type: id.type, value }, authzValue: value, wildcard: false };
  }
  return new AcmeError('unsupportedIdentifier', `identifier type "${id.type}" is not supported`, {
    identifier: id,
  });
}

/** RFC 9444 §4.2: `ancestorDomain` must be a well-formed DNS name above the identifier. */
function withAncestorDomain(r: NormalizedIdentifier, raw: unknown): NormalizedIdentifier | AcmeError {
  if (typeof raw !== 'string') {
    return new AcmeError('malformed', 'ancestorDomain must be a string', { identifier: r.identifier });
  }
  const ancestor = raw.toLowerCase();
  const problem =
    uLabelProblem(ancestor) ?? checkDnsName(ancestor) ?? ancestorDomainProblem(r.identifier, ancestor);
  if (problem) return reject(r.identifier, `ancestorDomain ${raw}: ${problem}`);
  return { ...r, ancestorDomain: ancestor };
}

function reject(id: Identifier, why: string): AcmeError {
  return new AcmeError('rejectedIdentifier', `${id.value}: ${why}`, { identifier: id });
}
