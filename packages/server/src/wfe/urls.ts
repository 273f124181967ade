/**
 * Every URL the server hands out, built from the external base URL (`server.base_url`). The ACME resources
 * live under /acme/; the base is settled when the server knows its port (it may listen on port 0).
 */
export class AcmeUrls {
  #base = '';

  get base(): string {
    return this.#base;
  }
  setBase(base: string): void {
    this.#base = base.replace(/\/+$/, '');
  }

  get directory(): string {
    return `${this.#base}/acme/directory`;
  }
  get newNonce(): string {
    return `${this.#base}/acme/new-nonce`;
  }
  get newAccount(): string {
    return `${this.#base}/acme/new-account`;
  }
  get newOrder(): string {
    return `${this.#base}/acme/new-order`;
  }
  get newAuthz(): string {
    return `${this.#base}/acme/new-authz`;
  }
  /** A per-profile directory (docs/profiles.md) and the new-order URL that implies its profile. */
  profileDirectory(profile: string): string {
    return `${this.#base}/acme/profile/${profile}/directory`;
  }
  profileNewOrder(profile: string): string {
    return `${this.#base}/acme/profile/${profile}/new-order`;
  }
  get revokeCert(): string {
    return `${this.#base}/acme/revoke-cert`;
  }
  get keyChange(): string {
    return `${this.#base}/acme/key-change`;
  }
  get issuer(): string {
    return `${this.#base}/acme/issuer`;
  }
  get root(): string {
    return `${this.#base}/ca/root.pem`;
  }
  account(id: string): string {
    return `${this.#base}/acme/account/${id}`;
  }
  accountOrders(id: string): string {
    return `${this.#base}/acme/account/${id}/orders`;
  }
  order(id: string): string {
    return `${this.#base}/acme/order/${id}`;
  }
  finalize(id: string): string {
    return `${this.#base}/acme/order/${id}/finalize`;
  }
  authz(id: string): string {
    return `${this.#base}/acme/authz/${id}`;
  }
  challenge(id: string): string {
    return `${this.#base}/acme/chall/${id}`;
  }
  certificate(id: string): string {
    return `${this.#base}/acme/cert/${id}`;
  }
  /** RFC 9773 §4: GET <renewalInfo>/<certID>. */
  get renewalInfo(): string {
    return `${this.#base}/acme/renewal-info`;
  }
  /** RFC 8739 §3.1.1: the URL that always serves a STAR order's current certificate. */
  starCertificate(orderId: string): string {
    return `${this.#base}/acme/star-cert/${orderId}`;
  }
  /** RFC 9115 §2.3.1: an account's delegations list and one delegation object. */
  accountDelegations(accountId: string): string {
    return `${this.#base}/acme/account/${accountId}/delegations`;
  }
  delegation(id: string): string {
    return `${this.#base}/acme/delegation/${id}`;
  }
  /** The delegation id in one of our delegation URLs, else undefined. */
  delegationIdFromUrl(url: string): string | undefined {
    const prefix = `${this.#base}/acme/delegation/`;
    if (!url.startsWith(prefix)) return undefined;
    const id = url.slice(prefix.length);
    return /^[A-Za-z0-9_-]{1,32}$/.test(id) ? id : undefined;
  }

  /** The account id in a `kid`, or undefined if the kid is not one of our account URLs. */
  accountIdFromKid(kid: string): string | undefined {
    const prefix = `${this.#base}/acme/account/`;
    if (!kid.startsWith(prefix)) return undefined;
    const id = kid.slice(prefix.length);
    return /^[A-Za-z0-9_-]{1,32}$/.test(id) ? id : undefined;
  }
}
