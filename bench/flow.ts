/**
 * One complete issuance (RFC 8555 §7.1), the directory having been read once per run: new-nonce → new-account → new-order → authorization
 * → http-01 challenge → poll the authorization → finalize → poll the order → download the certificate.
 * Keys and the CSR are made beforehand by prepareFlows, so a flow costs the bench only JWS signatures.
 */
import { X509Certificate } from 'node:crypto';
import { AcmeClient, createCsr, generateKey, type Http01Solver, type HttpTransport } from '@akamu/client';
import type { DirectoryJson, Identifier } from '@akamu/protocol';

export interface PreparedFlow {
  client: AcmeClient;
  identifier: Identifier;
  csr: Buffer;
}

/**
 * `count` flows, each with a new account key (so no authorization is ever reused) and a new certificate
 * key, all ECDSA P-256, and the identifier from `identifierFor`.
 */
export function prepareFlows(
  count: number,
  opts: {
    directoryUrl: string;
    directory: DirectoryJson;
    transport: HttpTransport;
    identifierFor: (i: number) => Identifier;
  },
): PreparedFlow[] {
  const flows: PreparedFlow[] = [];
  for (let i = 0; i < count; i++) {
    const identifier = opts.identifierFor(i);
    const certificateKey = generateKey('ec:P-256');
    const csr = createCsr(
      identifier.type === 'ip'
        ? { key: certificateKey, ipAddresses: [identifier.value] }
        : { key: certificateKey, commonName: identifier.value, dnsNames: [identifier.value] },
    );
    const client = new AcmeClient({
      directoryUrl: opts.directoryUrl,
      directory: opts.directory,
      accountKey: generateKey('ec:P-256'),
      transport: opts.transport,
    });
    void client.thumbprint; // computed now rather than inside the timed flow
    flows.push({ client, identifier, csr });
  }
  return flows;
}

/**
 * Runs one issuance; throws on any failure. `signal` aborts it (per-flow timeout, stalled run).
 * `nonceMethod`: RFC 8555 §7.2 allows HEAD (200) or GET (204) on newNonce. All three servers answer HEAD
 * without Content-Length, and Node's HTTP parser then closes the keep-alive connection
 * (nodejs/node#28438), so HEAD costs every flow a new TLS connection; GET keeps it.
 */
export async function runFlow(
  flow: PreparedFlow,
  solver: Http01Solver,
  opts: { signal: AbortSignal; waitTimeoutMs: number; nonceMethod: 'GET' | 'HEAD' },
): Promise<void> {
  const { client, identifier, csr } = flow;
  const { signal } = opts;
  const wait = { signal, timeoutMs: opts.waitTimeoutMs };
  const directory = await client.directory();
  // new-nonce (RFC 8555 §7.2); the transport pools it and new-account uses it.
  await client.transport.request(opts.nonceMethod, directory.newNonce, { signal });
  signal.throwIfAborted();
  await client.newAccount({ termsOfServiceAgreed: true });
  signal.throwIfAborted();
  const { url: orderUrl, order } = await client.newOrder({ identifiers: [identifier] });
  const authzUrl = order.authorizations[0];
  if (order.authorizations.length !== 1 || authzUrl === undefined)
    throw new Error(`order has ${order.authorizations.length} authorizations, expected 1`);
  const authz = await client.getAuthorization(authzUrl, signal);
  if (authz.status !== 'pending') throw new Error(`new account got a ${authz.status} authorization`);
  const challenge = authz.challenges.find((c) => c.type === 'http-01');
  if (!challenge) throw new Error(`no http-01 challenge (offered: ${authz.challenges.map((c) => c.type)})`);
  const keyAuthorization = client.keyAuthorization(challenge.token);
  await solver.present(identifier, challenge, keyAuthorization);
  try {
    signal.throwIfAborted();
    await client.respondChallenge(challenge.url);
    await client.waitForAuthorization(authzUrl, wait);
  } finally {
    await solver.cleanup(identifier, challenge, keyAuthorization);
  }
  signal.throwIfAborted();
  let finalized = await client.finalize(order, csr);
  if (finalized.status !== 'valid') finalized = await client.waitForOrder(orderUrl, ['valid'], wait);
  if (finalized.certificate === undefined) throw new Error('valid order has no certificate URL');
  signal.throwIfAborted();
  const { pem } = await client.downloadCertificate(finalized.certificate);
  const leaf = new X509Certificate(pem);
  const names = identifier.type === 'ip' ? leaf.checkIP(identifier.value) : leaf.checkHost(identifier.value);
  if (names === undefined) throw new Error(`the certificate does not cover ${identifier.value}`);
}
