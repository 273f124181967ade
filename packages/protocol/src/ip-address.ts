/**
 * IP address text <-> iPAddress GeneralName octets (RFC 5280 §4.2.1.6: 4 octets for IPv4,
 * 16 for IPv6). Text output is canonical: dotted decimal for IPv4, and for IPv6 the
 * RFC 5952 §4 form (lowercase, no leading zeros, longest run of two or more zero groups
 * compressed, the first on a tie) — the same text `new URL('http://[…]').hostname` gives.
 * An IPv4 part with a leading zero ("010.0.0.1") is refused, not read as decimal or octal,
 * so accepted IPv4 text is already canonical (RFC 8738 identifiers rely on this).
 */

const V4_PART = /^(0|[1-9][0-9]{0,2})$/;
const V6_GROUP = /^[0-9a-fA-F]{1,4}$/;

function parseIpv4(text: string): Buffer | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  const out = Buffer.allocUnsafe(4);
  for (let i = 0; i < 4; i++) {
    const p = parts[i]!;
    if (!V4_PART.test(p)) return undefined;
    const n = Number(p);
    if (n > 255) return undefined;
    out[i] = n;
  }
  return out;
}

function parseGroups(text: string): number[] | undefined {
  if (text === '') return [];
  const groups: number[] = [];
  for (const g of text.split(':')) {
    if (!V6_GROUP.test(g)) return undefined;
    groups.push(Number.parseInt(g, 16));
  }
  return groups;
}

function parseIpv6(text: string): Buffer | undefined {
  let rest = text;
  let tail: number[] = [];
  // An embedded IPv4 address may end the text (RFC 4291 §2.2 form 3).
  const lastColon = rest.lastIndexOf(':');
  if (lastColon < 0) return undefined;
  if (rest.indexOf('.', lastColon) >= 0) {
    const v4 = parseIpv4(rest.slice(lastColon + 1));
    if (!v4) return undefined;
    tail = [(v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!];
    rest = rest.slice(0, lastColon + 1);
    // "…:" must now end in "::" or be followed by the IPv4 groups; drop one trailing colon.
    rest = rest.endsWith('::') ? rest : rest.slice(0, -1);
  }
  const halves = rest.split('::');
  if (halves.length > 2) return undefined;
  const head = parseGroups(halves[0]!);
  if (!head) return undefined;
  let groups: number[];
  if (halves.length === 2) {
    const after = parseGroups(halves[1]!);
    if (!after) return undefined;
    const right = [...after, ...tail];
    const zeros = 8 - head.length - right.length;
    if (zeros < 1) return undefined;
    groups = [...head, ...new Array<number>(zeros).fill(0), ...right];
  } else {
    groups = [...head, ...tail];
    if (groups.length !== 8) return undefined;
  }
  const out = Buffer.allocUnsafe(16);
  for (let i = 0; i < 8; i++) out.writeUInt16BE(groups[i]!, i * 2);
  return out;
}

/** Parses IPv4 or IPv6 text (no brackets, no zone id) into 4 or 16 octets; undefined if invalid. */
export function tryParseIp(text: string): Buffer | undefined {
  if (typeof text !== 'string' || text.length === 0 || text.length > 45) return undefined;
  return text.includes(':') ? parseIpv6(text) : parseIpv4(text);
}

/** Like tryParseIp but throws a TypeError naming the bad value. */
export function ipToBytes(text: string): Buffer {
  const out = tryParseIp(text);
  if (!out) throw new TypeError(`not an IP address: ${JSON.stringify(text)}`);
  return out;
}

/** Canonical text for 4 or 16 address octets. */
export function ipFromBytes(bytes: Uint8Array): string {
  if (bytes.length === 4) return `${bytes[0]}.${bytes[1]}.${bytes[2]}.${bytes[3]}`;
  if (bytes.length !== 16) throw new RangeError(`an IP address has 4 or 16 octets, not ${bytes.length}`);
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((bytes[i]! << 8) | bytes[i + 1]!);
  // Longest run of at least two zero groups; the first one wins a tie (RFC 5952 §4.2.3).
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (gs: number[]) => gs.map((g) => g.toString(16)).join(':');
  if (bestStart < 0) return hex(groups);
  return `${hex(groups.slice(0, bestStart))}::${hex(groups.slice(bestStart + bestLen))}`;
}

/** Canonical text of an IP address given in any valid text form; undefined if not an IP. */
export function canonicalIp(text: string): string | undefined {
  const bytes = tryParseIp(text);
  return bytes ? ipFromBytes(bytes) : undefined;
}
