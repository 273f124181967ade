import { mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { derToPem } from '@akamu/protocol';
import Fastify, { type FastifyInstance } from 'fastify';
import { type CaMaterial, issueServerCertificate, loadOrCreateCa } from './ca/ca-store.ts';
import { CertificateIssuer } from './ca/certificate-issuer.ts';
import { type Clock, systemClock } from './clock.ts';
import { type Config, type ConfigInput, parseConfig } from './config.ts';
import { HmacNonceService } from './nonce/nonce-service.ts';
import { RegistrationAuthority } from './ra/registration-authority.ts';
import { migrateToLatest, openDatabase } from './sa/database.ts';
import { SqlStorageAuthority } from './sa/sql-storage-authority.ts';
import type { StorageAuthority } from './sa/storage-authority.ts';
import { Http01Validator } from './va/http-01.ts';
import { NetworkGuard } from './va/network-guard.ts';
import { type HostResolver, SystemHostResolver } from './va/resolver.ts';
import { ValidationAuthority } from './va/validation-authority.ts';
import type { ChallengeValidator } from './va/validator.ts';
import { registerAcme } from './wfe/acme-plugin.ts';
import { AcmeUrls } from './wfe/urls.ts';
import { RequestVerifier } from './wfe/verify-request.ts';

/** What an embedder may replace (Coyote-style): storage, clock, validators, the validation resolver, logging. */
export interface ServerDeps {
  storage?: StorageAuthority;
  clock?: Clock;
  /** Extra or replacement challenge validators, by type; they take precedence over the built-in ones. */
  validators?: ChallengeValidator[];
  resolver?: HostResolver;
  /** A pino logger options object or false; default: pino at server.log_level. */
  logger?: boolean | Record<string, unknown>;
}

export interface AkamuServer {
  readonly config: Config;
  readonly app: FastifyInstance;
  readonly urls: AcmeUrls;
  readonly ra: RegistrationAuthority;
  readonly storage: StorageAuthority;
  readonly ca: CaMaterial;
  /** PEM of the root CA clients should trust (the top of the chain when the operator supplied one). */
  readonly rootCertPem: string;
  readonly rootCertPath: string | undefined;
  /** Starts listening; resolves to the directory URL. */
  listen(): Promise<string>;
  close(): Promise<void>;
}

const SWEEP_INTERVAL_MS = 60_000;
/** An order whose finalization began this long ago and never ended was interrupted by a crash. */
const STALE_FINALIZE_MS = 60_000;

/**
 * The composition root: the only module that knows every component. Builds storage, CA, nonces, VA, RA
 * and WFE from one validated config and returns a server that can listen or be driven with app.inject().
 */
export async function createServer(
  input: ConfigInput | Config = {},
  deps: ServerDeps = {},
): Promise<AkamuServer> {
  const config = parseConfig(input);
  const clock = deps.clock ?? systemClock;
  const dataDir = path.resolve(config.data_dir);
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });

  let storage = deps.storage;
  if (!storage) {
    const url = config.database.url || `sqlite:${path.join(dataDir, 'akamu.db')}`;
    const opened = openDatabase(url);
    await migrateToLatest(opened.db);
    storage = new SqlStorageAuthority(opened.db, {
      accountCacheMs: config.database.account_cache,
      now: () => clock.now(),
    });
  }
  const sa = storage;

  const ca = await loadOrCreateCa({
    dir: path.join(dataDir, 'ca'),
    keyType: config.ca.key_type,
    commonNamePrefix: config.ca.name,
    issuerKeyFile: config.ca.issuer_key_file || undefined,
    issuerCertFile: config.ca.issuer_cert_file || undefined,
  });
  const issuer = new CertificateIssuer(ca);
  const rootCertPem = ca.rootCertDer ? derToPem(ca.rootCertDer) : derToPem(ca.chainDer.at(-1)!);

  const https = serverTls(config, ca);
  const app = Fastify({
    logger: deps.logger ?? { level: config.server.log_level },
    bodyLimit: config.server.body_limit,
    trustProxy: config.server.behind_proxy ? config.server.trusted_proxies : false,
    return503OnClosing: true,
    ...(https ? { https } : {}),
  }) as unknown as FastifyInstance;

  const urls = new AcmeUrls();
  if (config.server.base_url) urls.setBase(config.server.base_url);

  const nonces = await HmacNonceService.create(sa, clock, config.acme.nonce_lifetime);
  const resolver = deps.resolver ?? new SystemHostResolver();
  const guard = new NetworkGuard(config.va.allow_private_networks);
  const validators = new Map<string, ChallengeValidator>();
  validators.set('http-01', new Http01Validator({ port: config.va.http01_port, resolver, guard }));
  for (const v of deps.validators ?? []) validators.set(v.type, v);
  const va = new ValidationAuthority([...validators.values()], {
    concurrency: config.va.concurrency,
    timeoutMs: config.va.timeout,
  });
  const ra = new RegistrationAuthority({
    sa,
    va,
    issuer,
    clock,
    accountUrl: (id) => urls.account(id),
    onBackgroundError: (err, what) => app.log.error({ err }, `${what} failed`),
    policy: {
      termsOfService: config.acme.terms_of_service,
      externalAccountRequired: config.acme.external_account_required,
      contactSchemes: config.acme.contact_schemes,
      maxContacts: config.acme.max_contacts,
      maxIdentifiers: config.acme.max_identifiers,
      orderLifetime: config.acme.order_lifetime,
      pendingAuthorizationLifetime: config.acme.pending_authorization_lifetime,
      validAuthorizationLifetime: config.acme.valid_authorization_lifetime,
      certificateValidity: config.ca.certificate_validity,
      backdate: config.ca.backdate,
    },
  });

  const meta: Record<string, unknown> = { externalAccountRequired: config.acme.external_account_required };
  if (config.acme.terms_of_service) meta.termsOfService = config.acme.terms_of_service;
  if (config.acme.website) meta.website = config.acme.website;
  if (config.acme.caa_identities.length > 0) meta.caaIdentities = config.acme.caa_identities;

  registerAcme(app, {
    ra,
    sa,
    urls,
    nonces,
    verifier: new RequestVerifier({ sa, nonces, urls }),
    clock,
    meta,
    chainPem: ca.chainPem,
    retryAfterSeconds: config.acme.retry_after,
    pollHoldMs: config.acme.poll_hold,
    ordersPageSize: config.acme.orders_page_size,
  });
  app.get('/ca/root.pem', async (_req, reply) => reply.type('application/x-pem-file').send(rootCertPem));

  const sweep = async () => {
    await sa.deleteExpiredNonces(clock.now());
    await sa.failStaleProcessingOrders(clock.now() - STALE_FINALIZE_MS, {
      type: 'urn:ietf:params:acme:error:serverInternal',
      detail: 'issuance was interrupted; place a new order',
      status: 500,
    });
  };
  let timer: NodeJS.Timeout | undefined;

  return {
    config,
    app,
    urls,
    ra,
    storage: sa,
    ca,
    rootCertPem,
    rootCertPath: ca.rootCertPath,
    async listen() {
      await app.listen({ host: config.server.host, port: config.server.port });
      const address = app.server.address();
      const port = typeof address === 'object' && address ? address.port : config.server.port;
      if (!config.server.base_url) {
        const host = https ? config.tls.hostnames[0]! : config.server.host;
        const shown = host.includes(':') ? `[${host}]` : host;
        urls.setBase(`${https ? 'https' : 'http'}://${shown}:${port}`);
      }
      await sweep();
      await ra.resumeValidations();
      timer = setInterval(
        () => sweep().catch((err) => app.log.error({ err }, 'sweep failed')),
        SWEEP_INTERVAL_MS,
      );
      timer.unref();
      return urls.directory;
    },
    async close() {
      if (timer) clearInterval(timer);
      await app.close();
      va.close();
      await ra.drain();
      await sa.close();
    },
  };
}

/** The HTTPS options: a certificate issued from our own CA (auto), operator files, or none (off / behind a proxy). */
function serverTls(config: Config, ca: CaMaterial): { key: string; cert: string } | undefined {
  if (config.tls.mode === 'off' || config.server.behind_proxy) return undefined;
  if (config.tls.mode === 'files') {
    if (!config.tls.cert_file || !config.tls.key_file) {
      throw new Error('tls.mode = "files" needs tls.cert_file and tls.key_file');
    }
    return {
      cert: readFileSync(config.tls.cert_file, 'utf8'),
      key: readFileSync(config.tls.key_file, 'utf8'),
    };
  }
  const issued = issueServerCertificate(ca, config.tls.hostnames, 90, config.ca.key_type);
  return { key: issued.keyPem, cert: issued.certChainPem };
}
