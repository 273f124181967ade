import { randomBytes, X509Certificate } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import type { Server as TlsServer } from 'node:tls';
import { derToPem } from '@akamu/protocol';
import Fastify, { type FastifyInstance } from 'fastify';
import type { CertificateIdentity } from './admin/auth.ts';
import { setUpAdmin } from './admin/setup.ts';
import { AuditFile } from './audit/audit-file.ts';
import { configLoadedEvent } from './audit/config-event.ts';
import { type CaMaterial, isIssuedBy, loadOrCreateCa } from './ca/ca-store.ts';
import { isCompositeKeyType } from './ca/composite.ts';
import { issuerKeyType } from './ca/key-type.ts';
import { type Clock, systemClock } from './clock.ts';
import { type Config, ConfigError, type ConfigInput, parseConfig } from './config.ts';
import { auditEvent } from './core/audit.ts';
import { importSpki } from './core/public-key.ts';
import { registerHealth } from './health.ts';
import { lazyChildLoggerFactory, loggerOptions, requestIdGenerator } from './logging.ts';
import { AkamuMetrics } from './metrics.ts';
import { HmacNonceService } from './nonce/nonce-service.ts';
import { CaaChecker } from './ra/caa.ts';
import { buildEabAuthority, checkEabKeyProfiles, type EabAuthority } from './ra/eab-authority.ts';
import { ProfileCatalog } from './ra/profiles.ts';
import { RateLimiter } from './ra/rate-limits.ts';
import { RegistrationAuthority } from './ra/registration-authority.ts';
import { RenewalAuthority } from './ra/renewal-authority.ts';
import { StarLoop } from './ra/star-loop.ts';
import { RevocationServices } from './revocation/revocation-services.ts';
import { type AdminStorage, SqlAdminStorage } from './sa/admin-storage.ts';
import { type AuditQuery, queryAuditEvents, SqlAuditLog } from './sa/audit-storage.ts';
import {
  type AuthorityTokenLedger,
  MemoryAuthorityTokenLedger,
  SqlAuthorityTokenLedger,
} from './sa/authority-token-ledger.ts';
import type { PoolStats } from './sa/connect.ts';
import { migrateToLatest, openDatabase } from './sa/database.ts';
import { type EabStorage, SqlEabStorage } from './sa/eab-storage.ts';
import { type RateLimitStore, SqlRateLimitStore } from './sa/rate-limit-storage.ts';
import { type RenewalStorage, SqlRenewalStorage } from './sa/renewal-storage.ts';
import { SqlStorageAuthority } from './sa/sql-storage-authority.ts';
import type { StorageAuthority } from './sa/storage-authority.ts';
import { ClientTrust, clientAuthEnabled, registerClientAuth } from './tls/client-auth.ts';
import { TlsListener } from './tls/tls-listener.ts';
import { Dns01Validator } from './va/dns-01.ts';
import { DnsPersist01Validator } from './va/dns-persist-01.ts';
import { DnsHostResolver, DnsResolver } from './va/dns-resolver.ts';
import { Http01Validator } from './va/http-01.ts';
import { NetworkGuard } from './va/network-guard.ts';
import { OnionCsr01Validator } from './va/onion-csr-01.ts';
import { type HostResolver, SystemHostResolver } from './va/resolver.ts';
import { loadTrustAnchors, TkAuth01Validator } from './va/tkauth-01.ts';
import { TlsAlpn01Validator } from './va/tls-alpn-01.ts';
import { ValidationAuthority } from './va/validation-authority.ts';
import type { ChallengeValidator } from './va/validator.ts';
import { registerAcme } from './wfe/acme-plugin.ts';
import { InFlightRequests } from './wfe/in-flight.ts';
import { registerEab } from './wfe/routes/eab.ts';
import { AcmeUrls } from './wfe/urls.ts';
import { RequestVerifier } from './wfe/verify-request.ts';

/** What an embedder may replace (Coyote-style): storage, clock, validators, the validation resolver, logging. */
export interface ServerDeps {
  storage?: StorageAuthority;
  /** Storage of ARI, STAR and delegations; built on the same database unless `storage` is replaced. */
  renewalStorage?: RenewalStorage;
  /** External account binding keys (docs/eab.md); built on the same database unless `storage` is replaced. */
  eabStorage?: EabStorage;
  clock?: Clock;
  /** Extra or replacement challenge validators, by type; they take precedence over the built-in ones. */
  validators?: ChallengeValidator[];
  resolver?: HostResolver;
  /** The verified client certificate of an admin request (default: the TLS layer's, docs/admin-api.md). */
  adminCertificateIdentity?: CertificateIdentity;
  /** A pino logger options object or false; default: pino at server.log_level. */
  logger?: boolean | Record<string, unknown>;
}

export interface AkamuServer {
  readonly config: Config;
  readonly app: FastifyInstance;
  readonly urls: AcmeUrls;
  readonly ra: RegistrationAuthority;
  /** ARI, STAR and delegations (docs/renewal.md); undefined when an embedder's storage has no renewal storage. */
  readonly renewals: RenewalAuthority | undefined;
  /** The STAR renewal loop (runOnce() issues what is due now). */
  readonly starLoop: StarLoop | undefined;
  /** External account binding keys (createEabKey, list, delete; docs/eab.md); undefined without EAB storage. */
  readonly eab: EabAuthority | undefined;
  readonly storage: StorageAuthority;
  readonly ca: CaMaterial;
  /** PEM of the root CA clients should trust (the top of the chain when the operator supplied one). */
  readonly rootCertPem: string;
  readonly rootCertPath: string | undefined;
  /**
   * The separate ec:P-256 CA the auto TLS certificate comes from when the CA is EXPERIMENTAL composite
   * (no TLS stack verifies composite signatures; docs/tls.md); undefined otherwise.
   */
  readonly tlsCa: CaMaterial | undefined;
  /** The HTTPS listener's certificate and secure context (docs/tls.md); undefined without TLS. */
  readonly tls: TlsListener | undefined;
  /** Re-reads the TLS certificate files (or issues a new certificate) and client trust anchors, without a restart. */
  reloadTls(): Promise<void>;
  /** The audit log (queryAuditEvents; docs/operations.md); undefined when an embedder's storage replaced SQL. */
  readonly audit: SqlAuditLog | undefined;
  /** Starts listening; resolves to the directory URL. */
  listen(): Promise<string>;
  close(): Promise<void>;
}

/**
 * The composition root: the only module that knows every component. Builds storage, CA, nonces, VA, RA
 * and WFE from one validated config and returns a server that can listen or be driven with app.inject().
 */
export async function createServer(
  input: ConfigInput | Config = {},
  deps: ServerDeps = {},
): Promise<AkamuServer> {
  const config = parseConfig(input);
  const profiles = new ProfileCatalog(config);
  checkEabKeyProfiles(config.eab.keys, (id) => profiles.get(id) !== undefined);
  const clock = deps.clock ?? systemClock;
  const dataDir = path.resolve(config.data_dir);
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });

  let storage = deps.storage;
  let renewalStorage = deps.renewalStorage;
  let eabStorage = deps.eabStorage;
  let tokenLedger: AuthorityTokenLedger = new MemoryAuthorityTokenLedger();
  let adminStorage: AdminStorage | undefined;
  let auditQuery: ((filter: AuditQuery) => ReturnType<typeof queryAuditEvents>) | undefined;
  let rateLimitStore: RateLimitStore | undefined;
  let poolStats: (() => PoolStats) | undefined;
  // The audit log (docs/operations.md): events go to the database with their changes, and once committed
  // also to `[audit] file` as JSON lines.
  const auditFile = config.audit.file
    ? new AuditFile(config.audit.file, (err) => app.log.error({ err }, 'writing the audit file failed'))
    : undefined;
  const publishAudit =
    auditFile && ((events: Parameters<AuditFile['append']>[0]) => auditFile.append(events));
  let auditLog: SqlAuditLog | undefined;
  if (!storage) {
    const url = config.database.url || `sqlite:${path.join(dataDir, 'akamu.db')}`;
    const opened = openDatabase(url, {
      poolSize: config.database.pool_size,
      requireTls: config.database.require_tls,
      connectTimeoutMs: config.database.connect_timeout,
    });
    await migrateToLatest(opened.db, opened.dialect).catch(async (e) => {
      await opened.close(); // a pool left open would keep the process alive
      throw e;
    });
    tokenLedger = new SqlAuthorityTokenLedger(opened.db);
    adminStorage = new SqlAdminStorage(opened.db, publishAudit);
    auditQuery = (filter) => queryAuditEvents(opened.db, filter);
    auditLog = new SqlAuditLog(opened.db, publishAudit);
    rateLimitStore = new SqlRateLimitStore(opened.db, opened.dialect);
    poolStats = opened.poolStats;
    renewalStorage ??= new SqlRenewalStorage(opened.db, { publishAudit });
    const sqlStorage = new SqlStorageAuthority(opened.db, {
      dialect: opened.dialect,
      accountCacheMs: config.database.account_cache,
      now: () => clock.now(),
      publishAudit,
    });
    storage = sqlStorage;
    eabStorage ??= new SqlEabStorage(opened.db, {
      dialect: opened.dialect,
      getAccountByThumbprint: (thumbprint) => sqlStorage.getAccountByThumbprint(thumbprint),
      publishAudit,
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
  const caKeyType = issuerKeyType(ca.issuerKey);
  const composite = isCompositeKeyType(caKeyType);
  if (composite && !config.ca.experimental_composite) {
    throw new ConfigError(
      `ca.experimental_composite: the CA (${config.ca.issuer_key_file || path.join(dataDir, 'ca')}) has an EXPERIMENTAL composite ML-DSA key (${caKeyType}); set ca.experimental_composite = true to use it`,
    );
  }
  const tlsCa = composite ? await compositeTlsCa(config, dataDir) : undefined;
  // CRLs and OCSP (docs/revocation.md); its issuer writes their URLs into every certificate.
  const revocation = new RevocationServices({
    config,
    ca,
    sa,
    clock,
    base: () => urls.base,
    onError: (err, what) => app.log.error({ err }, `${what} failed`),
  });
  const issuer = revocation.issuer;
  const rootCertPem = ca.rootCertDer ? derToPem(ca.rootCertDer) : derToPem(ca.chainDer.at(-1)!);

  // The HTTPS listener and mutual TLS (tls/, docs/tls.md).
  const clientTrust =
    config.tls.client_ca_files.length > 0 ? new ClientTrust(config.tls.client_ca_files) : undefined;
  const tlsListener = serverTls(config, tlsCa ?? ca, clock, clientTrust, () => app.log);
  const https = tlsListener?.serverOptions();
  const app = Fastify({
    // Structured JSON logs with request ids and secrets redacted (logging.ts).
    logger: loggerOptions(config.server.log_level, deps.logger),
    genReqId: requestIdGenerator(config.server.trusted_proxies),
    childLoggerFactory: lazyChildLoggerFactory,
    bodyLimit: config.server.body_limit,
    trustProxy: config.server.behind_proxy ? config.server.trusted_proxies : false,
    return503OnClosing: true,
    ...(https ? { https, http2: config.tls.http2 } : {}),
  } as Parameters<typeof Fastify>[0]) as unknown as FastifyInstance;
  if (composite) {
    app.log.warn(
      `EXPERIMENTAL CA: the issuing key is composite ML-DSA ${caKeyType} (draft-ietf-lamps-pq-composite-sigs). ` +
        'No mainstream client, browser, OpenSSL release or TLS stack verifies composite signatures: the ' +
        "certificates, CRLs and OCSP responses of this CA verify only with akamu's own code. For trials only." +
        (tlsCa
          ? ` The HTTPS certificate comes from the separate ec:P-256 TLS CA ${tlsCa.rootCertPath}.`
          : ''),
    );
  }
  if (tlsListener && tlsListener.unsupportedGroups.length > 0) {
    app.log.warn(
      `tls.groups: ${tlsListener.unsupportedGroups.join(', ')} not supported by OpenSSL ${process.versions.openssl}; not offered`,
    );
  }
  if (clientAuthEnabled(config.tls)) {
    if (!clientTrust) throw new ConfigError('tls.client_ca_files: client certificates need trust anchors');
    const ourIssuer = new X509Certificate(ca.issuerCertDer);
    registerClientAuth(app, {
      tls: config.tls,
      trust: clientTrust,
      now: () => clock.now(),
      isRevoked: async (serial) => (await sa.getCertificateBySerial(serial))?.status === 'revoked',
      issuedByUs: (leaf) => isIssuedBy(leaf, ourIssuer),
    });
  }

  const urls = new AcmeUrls();
  if (config.server.base_url) urls.setBase(config.server.base_url);

  const metrics = config.metrics.enabled ? new AkamuMetrics(poolStats ? { poolStats } : {}) : undefined;
  const hmacNonces = await HmacNonceService.create(sa, clock, config.acme.nonce_lifetime);
  const nonces = metrics ? metrics.countNonces(hmacNonces) : hmacNonces;
  const rateLimits =
    rateLimitStore &&
    new RateLimiter(config.rate_limits, rateLimitStore, clock, (limit) => metrics?.rateLimited(limit));
  const dnsResolver = new DnsResolver({
    servers: config.dns.resolvers,
    timeoutMs: config.dns.timeout,
    tries: config.dns.tries,
  });
  const resolver =
    deps.resolver ??
    (config.dns.resolvers.length > 0 ? new DnsHostResolver(dnsResolver) : new SystemHostResolver());
  const accountHashPrefix = () => config.dns_persist.account_hash_prefix || `${urls.base}/acme/account-hash/`;
  const guard = new NetworkGuard(config.va.allow_private_networks);
  const validators = new Map<string, ChallengeValidator>();
  validators.set('http-01', new Http01Validator({ port: config.va.http01_port, resolver, guard }));
  validators.set('tls-alpn-01', new TlsAlpn01Validator({ port: config.va.tls_alpn01_port, resolver, guard }));
  validators.set('onion-csr-01', new OnionCsr01Validator({ now: () => clock.now() }));
  validators.set(
    'tkauth-01',
    new TkAuth01Validator({
      tokenAuthority: config.tkauth.token_authorities[0],
      trustAnchors: loadTrustAnchors(config.tkauth.trust_anchors),
      ledger: tokenLedger,
      now: () => clock.now(),
    }),
  );
  validators.set('dns-01', new Dns01Validator({ resolver: dnsResolver }));
  if (config.dns_persist.issuer_domain_names.length > 0) {
    // draft-ietf-acme-dns-persist-02 §3.2: with caaIdentities advertised, every issuer name must be one.
    const caaIds = config.acme.caa_identities.map((i) => i.toLowerCase());
    const notCaa = config.dns_persist.issuer_domain_names.filter(
      (n) => caaIds.length > 0 && !caaIds.includes(n),
    );
    if (notCaa.length > 0) {
      throw new ConfigError(
        `dns_persist.issuer_domain_names: ${notCaa.join(', ')} must also be in acme.caa_identities`,
      );
    }
    validators.set(
      'dns-persist-01',
      new DnsPersist01Validator({
        resolver: dnsResolver,
        issuerDomainNames: config.dns_persist.issuer_domain_names,
        accountHashPrefix,
        previousThumbprints: sa.previousAccountThumbprints?.bind(sa),
        now: () => clock.now(),
      }),
    );
  }
  for (const v of deps.validators ?? []) validators.set(v.type, v);
  const va = new ValidationAuthority([...validators.values()], {
    concurrency: config.va.concurrency,
    timeoutMs: config.va.timeout,
  });
  const renewals: RenewalAuthority | undefined =
    renewalStorage &&
    new RenewalAuthority({
      sa,
      store: renewalStorage,
      clock,
      issuerKeyId: issuer.authorityKeyId,
      issue: (req, order): Buffer => {
        const der = issuer.issue({
          ...req,
          ...ra.leafFieldsFor(order, importSpki(req.spki)),
        });
        metrics?.certificateIssued();
        return der;
      },
      delegationIdFromUrl: (url) => urls.delegationIdFromUrl(url),
      onBackgroundError: (err, what) => app.log.error({ err }, `${what} failed`),
      policy: {
        ariRetryAfterSeconds: Math.round(config.ari.retry_after / 1000),
        ariExplanationUrl: config.ari.explanation_url,
        star: {
          minLifetime: config.star.min_lifetime,
          maxDuration: config.star.max_duration,
          allowCertificateGet: config.star.allow_certificate_get,
          maxCertificateValidity: config.ca.certificate_validity,
        },
      },
    });
  const starLoop =
    renewals &&
    new StarLoop(renewals, config.star.check_interval, (err) => app.log.error({ err }, 'STAR loop failed'));
  const eab = await buildEabAuthority(config, eabStorage, clock, profiles, () => urls.newAccount);
  const ra: RegistrationAuthority = new RegistrationAuthority({
    sa,
    va,
    issuer,
    clock,
    renewals,
    eab,
    accountUrl: (id) => urls.account(id),
    nodeId: config.cluster.node_id || hostname(),
    onBackgroundError: (err, what) => app.log.error({ err }, `${what} failed`),
    onRevoked: (serial) => {
      metrics?.revoked();
      revocation.revoked(serial);
    },
    ocspUrl: () => revocation.urls.ocspUrl(),
    ...(rateLimits ? { rateLimits } : {}),
    ...(metrics ? { metrics } : {}),
    profiles,
    caa:
      config.acme.caa_identities.length > 0
        ? new CaaChecker(config.acme.caa_identities, (name) => dnsResolver.caa(name))
        : undefined,
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
      subdomainAuthAllowed: config.acme.subdomain_auth_allowed,
    },
  });

  const meta: Record<string, unknown> = { externalAccountRequired: config.acme.external_account_required };
  if (config.acme.terms_of_service) meta.termsOfService = config.acme.terms_of_service;
  if (config.acme.website) meta.website = config.acme.website;
  if (config.acme.caa_identities.length > 0) meta.caaIdentities = config.acme.caa_identities;
  // draft-ietf-acme-profiles §3; RFC 9444 §4.1.
  if (profiles.size > 0) meta.profiles = profiles.meta();
  if (config.acme.subdomain_auth_allowed) meta.subdomainAuthAllowed = true;
  if (renewals) {
    // RFC 8739 §3.3: the STAR limits, in seconds.
    meta['auto-renewal'] = {
      'min-lifetime': Math.round(config.star.min_lifetime / 1000),
      'max-duration': Math.round(config.star.max_duration / 1000),
      'allow-certificate-get': config.star.allow_certificate_get,
    };
  }
  if (config.dns_persist.issuer_domain_names.length > 0) {
    // draft-ietf-acme-dns-persist-02 §3.2, §4.1 (the prefix is known once the base URL is).
    meta.issuerDomainNames = config.dns_persist.issuer_domain_names;
    Object.defineProperty(meta, 'accountHashPrefix', { enumerable: true, get: accountHashPrefix });
  }

  // Signature checks go to the thread pool while other requests wait (wfe/in-flight.ts).
  const inFlight = new InFlightRequests();
  inFlight.track(app);
  registerAcme(app, {
    ra,
    renewals,
    profiles,
    sa,
    urls,
    nonces,
    verifier: new RequestVerifier({ sa, nonces, urls, offload: () => inFlight.busy() }),
    clock,
    meta,
    chainPem: ca.chainPem,
    retryAfterSeconds: config.acme.retry_after,
    pollHoldMs: config.acme.poll_hold,
    ordersPageSize: config.acme.orders_page_size,
  });
  // Health, metrics and request ids (docs/operations.md).
  registerHealth(app, { sa, ca });
  if (metrics) metrics.register(app, config.metrics.path);
  app.addHook('onRequest', (request, reply, done) => {
    reply.header('X-Request-Id', request.id);
    done();
  });
  app.get('/ca/root.pem', async (_req, reply) => reply.type('application/x-pem-file').send(rootCertPem));
  revocation.register(app);
  if (config.admin.enabled) {
    // The admin API (docs/admin-api.md): operators, roles, and the CA's management routes.
    const adminCtx = { config, sa, ra, renewals, eab, profiles, ca, rootCertPem, revocation, clock, urls };
    await setUpAdmin(
      app,
      { ...adminCtx, store: adminStorage },
      {
        auditQuery,
        certificateIdentity: deps.adminCertificateIdentity,
      },
    );
  }
  if (eab?.derivesKeys) {
    registerEab(app, eab, {
      principalHeader: config.eab.principal_header,
      trustedProxies: config.eab.trusted_proxies,
    });
  }

  // Background work shared by every node on the database (docs/clustering.md): the housekeeping sweep runs
  // on one node at a time (a lease); abandoned validations are claimed one by one (exactly once each).
  const nodeId = config.cluster.node_id || `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
  if (auditLog) {
    // config.loaded: what this node started with (secrets redacted) and what changed since the last start.
    const previous = (await auditLog.queryAuditEvents({ type: 'config.loaded', limit: 1 })).events[0];
    await auditLog.record(
      configLoadedEvent(config, previous, { actor: `node:${nodeId}`, source: null }, clock.now()),
    );
  }
  const sweep = async () => {
    const now = clock.now();
    const abandonedBefore = now - config.cluster.abandoned_after;
    await ra.resumeValidations(abandonedBefore);
    if (!(await sa.tryAcquireLease('sweep', nodeId, now + 2 * config.cluster.sweep_interval, now))) return;
    await sa.deleteExpiredNonces(now - config.acme.nonce_lifetime);
    await rateLimits?.deleteExpired(now);
    const interrupted = 'issuance was interrupted; place a new order';
    await sa.failStaleProcessingOrders(
      abandonedBefore,
      { type: 'urn:ietf:params:acme:error:serverInternal', detail: interrupted, status: 500 },
      (orderId) =>
        auditEvent(
          { actor: `node:${nodeId}`, source: null },
          now,
          'order.invalid',
          { type: 'order', id: orderId },
          {
            outcome: 'failure',
            detail: interrupted,
            details: { problemType: 'urn:ietf:params:acme:error:serverInternal' },
          },
        ),
    );
  };
  let timer: NodeJS.Timeout | undefined;

  return {
    config,
    app,
    urls,
    ra,
    renewals,
    starLoop,
    eab,
    storage: sa,
    ca,
    rootCertPem,
    rootCertPath: ca.rootCertPath,
    tlsCa,
    audit: auditLog,
    tls: tlsListener,
    async reloadTls() {
      if (tlsListener) await tlsListener.reload();
      else clientTrust?.reload();
    },
    async listen() {
      await app.listen({ host: config.server.host, port: config.server.port });
      tlsListener?.attach(app.server as unknown as TlsServer);
      const address = app.server.address();
      const port = typeof address === 'object' && address ? address.port : config.server.port;
      if (!config.server.base_url) {
        const host = https ? config.tls.hostnames[0]! : config.server.host;
        const shown = host.includes(':') ? `[${host}]` : host;
        urls.setBase(`${https ? 'https' : 'http'}://${shown}:${port}`);
      }
      await sweep();
      revocation.start();
      starLoop?.start();
      timer = setInterval(
        () => sweep().catch((err) => app.log.error({ err }, 'sweep failed')),
        config.cluster.sweep_interval,
      );
      timer.unref();
      return urls.directory;
    },
    async close() {
      if (timer) clearInterval(timer);
      tlsListener?.stop();
      await revocation.stop();
      await starLoop?.stop();
      await app.close();
      va.close();
      await ra.drain();
      await sa.close();
      auditFile?.close();
    },
  };
}

/**
 * The CA of the auto TLS certificate when the CA is EXPERIMENTAL composite, which no TLS client verifies: a
 * separate conventional ec:P-256 root and intermediate in <data_dir>/tls-ca, kept across restarts and used
 * for nothing else. Undefined when the listener does not issue its own certificate.
 */
async function compositeTlsCa(config: Config, dataDir: string): Promise<CaMaterial | undefined> {
  if (config.tls.mode !== 'auto' || config.server.behind_proxy) return undefined;
  return loadOrCreateCa({
    dir: path.join(dataDir, 'tls-ca'),
    keyType: 'ec:P-256',
    commonNamePrefix: `${config.ca.name} TLS`,
  });
}

/** The TLS listener: a certificate issued from our own CA (auto), operator files, or none (off / behind a proxy). */
function serverTls(
  config: Config,
  ca: CaMaterial,
  clock: Clock,
  clientTrust: ClientTrust | undefined,
  log: () => FastifyInstance['log'],
): TlsListener | undefined {
  if (config.tls.mode === 'off' || config.server.behind_proxy) return undefined;
  return new TlsListener({
    tls: config.tls,
    ca,
    // A composite ca.key_type applies to the CA only: its TLS certificate (from compositeTlsCa) is ec:P-256.
    keyType: isCompositeKeyType(config.ca.key_type) ? 'ec:P-256' : config.ca.key_type,
    clock,
    clientTrust,
    log: {
      info: (msg) => log().info(msg),
      warn: (msg) => log().warn(msg),
      error: (obj, msg) => log().error(obj, msg),
    },
  });
}
