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

  /** The account id in a `kid`, or undefined if the kid is not one of our account URLs. */
  accountIdFromKid(kid: string): string | undefined {
    const prefix = `${this.#base}/acme/account/`;
    if (!kid.startsWith(prefix)) return undefined;
    const id = kid.slice(prefix.length);
    return /^[A-Za-z0-9_-]{1,32}$/.test(id) ? id : undefined;
  }
}
