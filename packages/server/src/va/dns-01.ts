import { dns01TxtValue, type Identifier } from '@akamu/protocol';
import { DnsLookupError, type DnsResolver } from './dns-resolver.ts';
import {
  type ChallengeValidator,
  problem,
  type ValidationOutcome,
  type ValidationRequest,
} from './validator.ts';

/** The validation domain name of dns-01 (RFC 8555 §8.4): the base name of a wildcard, prefixed. */
export function dns01RecordName(identifier: Identifier): string {
  return `_acme-challenge.${identifier.value.replace(/^\*\./, '')}`;
}

/**
 * RFC 8555 §8.4 dns-01: a TXT record at `_acme-challenge.<name>` must hold base64url(SHA-256(key
 * authorization)). Each record's character-strings are joined; CNAMEs are followed by the resolver.
 * Offered for every dns identifier, wildcards included (§7.1.3); never for IP addresses.
 */
export class Dns01Validator implements ChallengeValidator {
  readonly type = 'dns-01';
  readonly #dns: DnsResolver;

  constructor(opts: { resolver: DnsResolver }) {
    this.#dns = opts.resolver;
  }

  supports(identifier: Identifier): boolean {
    // RFC 9799 §3.1.1: ".onion" names are not in the DNS; dns-01 MUST NOT validate them.
    return identifier.type === 'dns' && !identifier.value.endsWith('.onion');
  }

  async validate(req: ValidationRequest): Promise<ValidationOutcome> {
    const name = dns01RecordName(req.identifier);
    let records: string[];
    try {
      records = await this.#dns.txt(name, req.signal);
    } catch (e) {
      if (e instanceof DnsLookupError)
        return problem('dns', `querying TXT ${name}: ${e.message}`, req.identifier);
      throw e;
    }
    if (records.length === 0) {
      return problem('unauthorized', `no TXT record found at ${name}`, req.identifier);
    }
    const expected = dns01TxtValue(req.keyAuthorization);
    if (records.includes(expected)) return undefined;
    const shown = records
      .slice(0, 3)
      .map((r) => JSON.stringify(r.length > 100 ? `${r.slice(0, 100)}…` : r))
      .join(', ');
    return problem(
      'incorrectResponse',
      `the TXT records at ${name} (${shown}${records.length > 3 ? ', …' : ''}) do not hold the expected value ${expected}`,
      req.identifier,
    );
  }
}
