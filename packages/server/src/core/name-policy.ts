import { type Identifier, tryParseIp } from '@akamu/protocol';

/**
 * The operator's allow and deny lists for identifiers (global `[policy]` and per profile). An entry is
 * one of:
 * - a DNS suffix, `example.com`: the name itself and every name below it, at label boundaries
 *   (`www.example.com`, `*.example.com`; not `badexample.com`); a leading `.` is ignored;
 * - a regular expression between slashes, `/^[a-z]+\.corp\.example$/`, matched against the whole
 *   identifier value as the client sent it after normalization (a wildcard keeps its `*.`);
 * - an IP network in CIDR notation, `10.0.0.0/8` or `fd00::/8`, for `ip` identifiers (RFC 8738).
 */
export interface NameRules {
  suffixes: string[];
  regexes: RegExp[];
  networks: { bytes: Buffer; prefix: number }[];
}

/** Parses the entries of a list; throws a TypeError naming the first bad entry. */
export function compileNameRules(entries: readonly string[]): NameRules {
  const rules: NameRules = { suffixes: [], regexes: [], networks: [] };
  for (const entry of entries) {
    const problem = nameRuleProblem(entry);
    if (problem) throw new TypeError(`"${entry}": ${problem}`);
    if (entry.length > 2 && entry.startsWith('/') && entry.endsWith('/')) {
      rules.regexes.push(new RegExp(entry.slice(1, -1)));
      continue;
    }
    const slash = entry.indexOf('/');
    if (slash > 0) {
      rules.networks.push({
        bytes: tryParseIp(entry.slice(0, slash))!,
        prefix: Number(entry.slice(slash + 1)),
      });
      continue;
    }
    rules.suffixes.push(entry.toLowerCase().replace(/^\./, ''));
  }
  return rules;
}

/** Why an entry cannot be a rule, or undefined when it can (used by the configuration schema). */
export function nameRuleProblem(entry: string): string | undefined {
  if (entry.length === 0) return 'empty entry';
  if (entry.length > 2 && entry.startsWith('/') && entry.endsWith('/')) {
    try {
      new RegExp(entry.slice(1, -1));
      return undefined;
    } catch (e) {
      return `not a regular expression: ${(e as Error).message}`;
    }
  }
  const slash = entry.indexOf('/');
  if (slash >= 0) {
    const bytes = tryParseIp(entry.slice(0, slash));
    const prefix = entry.slice(slash + 1);
    if (!bytes || !/^\d{1,3}$/.test(prefix) || Number(prefix) > bytes.length * 8) {
      return 'not a CIDR network (e.g. 10.0.0.0/8) nor a /regex/';
    }
    return undefined;
  }
  if (!/^\.?[a-z0-9-]+(?:\.[a-z0-9-]+)*$/i.test(entry)) return 'not a DNS suffix (e.g. example.com)';
  return undefined;
}

export const NO_RULES: NameRules = { suffixes: [], regexes: [], networks: [] };

export function isEmptyRules(rules: NameRules): boolean {
  return rules.suffixes.length === 0 && rules.regexes.length === 0 && rules.networks.length === 0;
}

/** `name` is `suffix` or a name below it, at a label boundary. */
export function isAtOrBelow(name: string, suffix: string): boolean {
  return name === suffix || name.endsWith(`.${suffix}`);
}

/** Whether some rule matches the identifier (a wildcard `*.B` by its base name B for suffixes). */
export function matchesRules(id: Identifier, rules: NameRules): boolean {
  if (rules.regexes.some((r) => r.test(id.value))) return true;
  if (id.type === 'dns') {
    const base = id.value.startsWith('*.') ? id.value.slice(2) : id.value;
    return rules.suffixes.some((s) => isAtOrBelow(base, s));
  }
  if (id.type === 'ip') {
    const bytes = tryParseIp(id.value);
    return bytes !== undefined && rules.networks.some((n) => inNetwork(bytes, n));
  }
  return false;
}

/**
 * Whether a deny list refuses the identifier. A wildcard `*.B` is refused also when a denied suffix is
 * one label below B, since the certificate would cover that name (`*.example.com` against a deny of
 * `secret.example.com`).
 */
export function deniedBy(id: Identifier, deny: NameRules): boolean {
  if (matchesRules(id, deny)) return true;
  if (id.type === 'dns' && id.value.startsWith('*.')) {
    const base = id.value.slice(2);
    return deny.suffixes.some((s) => s.slice(s.indexOf('.') + 1) === base && s.includes('.'));
  }
  return false;
}

/**
 * The reason the lists refuse an identifier, or undefined when they allow it: a deny match refuses;
 * a non-empty allow list must match.
 */
export function namePolicyRefusal(
  id: Identifier,
  policy: { allow: NameRules; deny: NameRules },
  where: string,
): string | undefined {
  if (deniedBy(id, policy.deny)) return `${id.value} is denied by ${where}`;
  if (!isEmptyRules(policy.allow) && !matchesRules(id, policy.allow)) {
    return `${id.value} is not allowed by ${where}`;
  }
  return undefined;
}

function inNetwork(addr: Buffer, net: { bytes: Buffer; prefix: number }): boolean {
  if (addr.length !== net.bytes.length) return false;
  const full = Math.floor(net.prefix / 8);
  if (!addr.subarray(0, full).equals(net.bytes.subarray(0, full))) return false;
  const rest = net.prefix % 8;
  if (rest === 0) return true;
  const mask = (0xff << (8 - rest)) & 0xff;
  return (addr[full]! & mask) === (net.bytes[full]! & mask);
}
