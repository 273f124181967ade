import type { Identifier } from '@akamu/protocol';
import { type Config, ConfigError } from '../config.ts';
import { compileNameRules, type NameRules, namePolicyRefusal } from '../core/name-policy.ts';
import { ekuOid, type KeyUsageName } from '../core/profile-rules.ts';
import { AcmeError, malformed } from '../errors.ts';

/** A certificate profile (draft-ietf-acme-profiles) as the RA applies it, built from `[profiles.<id>]`. */
export interface IssuanceProfile {
  id: string;
  description: string;
  /** Certificate lifetime in ms; also the longest notBefore–notAfter an order may request. */
  validity: number;
  keyUsages: KeyUsageName[];
  /** EKU OIDs; empty omits the extension. */
  extendedKeyUsages: string[];
  /** Empty: every key the global key policy accepts. */
  allowedKeyTypes: string[];
  /** Empty: every identifier type the CA supports. */
  identifierTypes: string[];
  names: { allow: NameRules; deny: NameRules };
  /** Empty: every challenge type the CA offers for the identifier. */
  challengeTypes: string[];
  crlUrl: string | undefined;
  ocspUrl: string | undefined;
  /** certctl's modes: `trust_authenticated` creates authorizations valid without a challenge. */
  authorizationMode: 'challenge' | 'trust_authenticated';
  /** EAB kids whose accounts may use the profile; empty: every account. */
  eabKeys: string[];
}

/**
 * The configured profiles, the default one, and the global identifier policy (`[policy]`), which applies
 * to every order, with or without a profile.
 */
export class ProfileCatalog {
  readonly #profiles = new Map<string, IssuanceProfile>();
  readonly #global: { allow: NameRules; deny: NameRules };
  readonly defaultId: string | undefined;

  constructor(config: Pick<Config, 'profiles' | 'policy' | 'acme' | 'ca'>) {
    this.#global = {
      allow: compileNameRules(config.policy.allow_names),
      deny: compileNameRules(config.policy.deny_names),
    };
    for (const [id, p] of Object.entries(config.profiles)) {
      if (p.validity !== undefined && p.validity <= 0) {
        throw new ConfigError(`invalid configuration:\n  profiles.${id}.validity: must be longer than 0`);
      }
      this.#profiles.set(id, {
        id,
        description: p.description,
        validity: p.validity ?? config.ca.certificate_validity,
        keyUsages: p.key_usages,
        extendedKeyUsages: p.extended_key_usages.map((e) => ekuOid(e)!),
        allowedKeyTypes: p.allowed_key_types,
        identifierTypes: p.identifier_types,
        names: { allow: compileNameRules(p.allow_names), deny: compileNameRules(p.deny_names) },
        challengeTypes: p.challenge_types,
        crlUrl: p.crl_url || undefined,
        ocspUrl: p.ocsp_url || undefined,
        authorizationMode: p.authorization_mode,
        eabKeys: p.eab_keys,
      });
    }
    const def = config.acme.default_profile;
    if (def && !this.#profiles.has(def)) {
      throw new ConfigError(
        `invalid configuration:\n  acme.default_profile: "${def}" names no [profiles.${def}] table`,
      );
    }
    this.defaultId = def || undefined;
  }

  get size(): number {
    return this.#profiles.size;
  }

  ids(): string[] {
    return [...this.#profiles.keys()];
  }

  get(id: string): IssuanceProfile | undefined {
    return this.#profiles.get(id);
  }

  /** draft-ietf-acme-profiles §3: meta.profiles maps each profile name to a description. */
  meta(only?: string): Record<string, string> | undefined {
    if (this.#profiles.size === 0) return undefined;
    const out: Record<string, string> = {};
    for (const p of this.#profiles.values()) {
      if (only === undefined || p.id === only) out[p.id] = p.description || p.id;
    }
    return out;
  }

  /**
   * The profile of a new order (draft-ietf-acme-profiles §4): the one the client names, or the one its
   * per-profile directory implies, or the default; `invalidProfile` for a name the CA does not offer or
   * that contradicts the directory the client came through.
   */
  select(requested: unknown, implied?: string): IssuanceProfile | undefined {
    if (requested !== undefined && typeof requested !== 'string') {
      throw malformed('"profile" must be a string');
    }
    if (implied !== undefined && requested !== undefined && requested !== implied) {
      throw new AcmeError(
        'invalidProfile',
        `this directory issues only profile "${implied}", not "${requested}"`,
      );
    }
    const id = requested ?? implied ?? this.defaultId;
    if (id === undefined) return undefined;
    const profile = this.#profiles.get(id);
    if (!profile) {
      const offered = this.ids();
      throw new AcmeError(
        'invalidProfile',
        offered.length === 0
          ? 'this CA offers no certificate profiles'
          : `profile "${id}" is not offered; this CA offers ${offered.map((o) => `"${o}"`).join(', ')}`,
      );
    }
    return profile;
  }

  /**
   * Why the global policy or the profile refuses an identifier (one subproblem each, RFC 8555 §6.7.1):
   * `unsupportedIdentifier` for a type the profile does not issue, `rejectedIdentifier` for a name the
   * allow/deny lists refuse.
   */
  identifierRefusal(id: Identifier, profile: IssuanceProfile | undefined): AcmeError | undefined {
    if (profile && profile.identifierTypes.length > 0 && !profile.identifierTypes.includes(id.type)) {
      return new AcmeError(
        'unsupportedIdentifier',
        `profile "${profile.id}" does not issue for "${id.type}" identifiers`,
        { identifier: id },
      );
    }
    const why =
      namePolicyRefusal(id, this.#global, 'the CA policy') ??
      (profile ? namePolicyRefusal(id, profile.names, `profile "${profile.id}"`) : undefined);
    return why ? new AcmeError('rejectedIdentifier', why, { identifier: id }) : undefined;
  }
}
