/**
 * The renewal daemon (the ACMEd role): keeps every [[certificate]] of the configuration issued and
 * renewed in time, one certificate at a time, with backoff after failures, state on disk, hooks on
 * events, config reload (reload()) and a clean stop (stop()). docs/daemon.md describes the behaviour.
 */
import type { KeyObject, X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import {
  AcmeClient,
  type ChallengeSolver,
  DnsHookSolver,
  generateKey,
  Http01Solver,
  HttpTransport,
  importPrivateKeyPem,
  TlsAlpn01Solver,
} from '@akamu/client';
import type { Identifier } from '@akamu/protocol';
import { loadOrCreateKey } from '../lib/account-store.ts';
import { renewalWindow } from '../lib/ari.ts';
import { identifiersOfCertificate, parseLeaf, sameIdentifiers } from '../lib/certificates.ts';
import { CliError, configError, describeError, EXIT } from '../lib/exit-codes.ts';
import { readUserFile } from '../lib/files.ts';
import { type ChallengeEvent, issueCertificate } from '../lib/issue.ts';
import { writeCertificateFiles } from '../lib/output-files.ts';
import { decideRenewal } from '../lib/renewal.ts';
import { listen } from '../lib/solvers.ts';
import type { CertificateConfig, DaemonConfig, HookEvent, IdentifierConfig } from './config.ts';
import { HookError, runHook } from './hooks.ts';
import type { DaemonLog } from './log.ts';
import { RateLimitedTransport, RequestSpacer } from './rate-limit.ts';
import { StateStore } from './state.ts';

/** What one look at a certificate decided. */
interface Plan {
  due: boolean;
  at: Date;
  reason: string;
  current?: X509Certificate;
  replaces?: string;
}

export interface PassResult {
  issued: string[];
  failed: string[];
  /** The earliest time something is due next. */
  next: Date;
}

export class Daemon {
  #config: DaemonConfig;
  readonly #log: DaemonLog;
  readonly #load: () => DaemonConfig;
  #store: StateStore;
  #clients = new Map<string, AcmeClient>();
  /** Certificates issued by this process, and when: a schedule that says "due" right after issuance waits a check_interval. */
  readonly #issuedAt = new Map<string, number>();
  #stopping = false;
  #reloadRequested = false;
  #wake: (() => void) | undefined;
  readonly #abort = new AbortController();

  constructor(config: DaemonConfig, log: DaemonLog, load: () => DaemonConfig) {
    this.#config = config;
    this.#log = log;
    this.#load = load;
    this.#store = new StateStore(config.state_dir);
  }

  get config(): DaemonConfig {
    return this.#config;
  }

  /** Re-reads the configuration before the next pass (SIGHUP). A bad file keeps the old one. */
  reload(): void {
    this.#reloadRequested = true;
    this.#wake?.();
  }

  /** Stops after aborting the issuance under way (SIGTERM, SIGINT). */
  stop(): void {
    this.#stopping = true;
    this.#abort.abort(new Error('the daemon is stopping'));
    this.#wake?.();
  }

  /** The result of the last pass (for --once). */
  lastPass: PassResult | undefined;

  /** One pass over every certificate, then returns (`akamu daemon --once`). */
  async runOnce(): Promise<PassResult> {
    await this.#store.load();
    try {
      this.lastPass = await this.pass();
      return this.lastPass;
    } finally {
      this.#closeClients();
    }
  }

  /** Runs until stop(). */
  async run(): Promise<void> {
    await this.#store.load();
    this.#log.info('daemon.started', {
      config: this.#config.file,
      state: this.#store.path,
      certificates: this.#config.certificate.map((c) => c.name),
      pid: process.pid,
    });
    try {
      while (!this.#stopping) {
        if (this.#reloadRequested) await this.#applyReload();
        this.lastPass = await this.pass();
        const { next } = this.lastPass;
        if (this.#stopping) break;
        const limit = Date.now() + this.#config.check_interval;
        const until = Math.max(Date.now(), Math.min(next.getTime(), limit));
        this.#log.info('daemon.sleeping', { until: new Date(until).toISOString() });
        await this.#sleep(until - Date.now());
      }
    } finally {
      this.#closeClients();
      this.#log.info('daemon.stopped');
    }
  }

  /** Looks at every certificate once, issuing those that are due. */
  async pass(): Promise<PassResult> {
    const issued: string[] = [];
    const failed: string[] = [];
    let next = Date.now() + this.#config.check_interval;
    for (const cert of this.#config.certificate) {
      if (this.#stopping) break;
      const record = this.#store.certificate(cert.name);
      if (record.retryAt && Date.parse(record.retryAt) > Date.now()) {
        next = Math.min(next, Date.parse(record.retryAt));
        continue;
      }
      let plan: Plan;
      try {
        plan = await this.#plan(cert);
      } catch (error) {
        if (this.#stopping) break;
        await this.#failed(cert, error, 'certificate.check_failed');
        failed.push(cert.name);
        next = Math.min(next, Date.parse(this.#store.certificate(cert.name).retryAt ?? ''));
        continue;
      }
      if (!plan.due) {
        next = Math.min(next, plan.at.getTime());
        continue;
      }
      const last = this.#issuedAt.get(cert.name);
      const scheduled = plan.reason === 'ari' || plan.reason === 'lifetime' || plan.reason === 'renew_before';
      if (scheduled && last !== undefined && Date.now() - last < this.#config.check_interval) {
        // e.g. renew_before longer than the CA's lifetime: renew once per check_interval, not in a loop.
        this.#log.warn('certificate.due_again', {
          certificate: cert.name,
          reason: plan.reason,
          next: new Date(last + this.#config.check_interval).toISOString(),
        });
        next = Math.min(next, last + this.#config.check_interval);
        continue;
      }
      this.#log.info('certificate.renewing', {
        certificate: cert.name,
        reason: plan.reason,
        due: plan.at.toISOString(),
      });
      try {
        await this.#issue(cert, plan);
        issued.push(cert.name);
      } catch (error) {
        if (this.#stopping) break;
        await this.#failed(cert, error, 'certificate.failed');
        failed.push(cert.name);
        await this.#runHooks(cert, 'issuance_failed', {
          ...this.#baseData(cert, 'issuance_failed'),
          error: (error as Error).message,
        }).catch(() => {});
      }
      const retryAt = this.#store.certificate(cert.name).retryAt;
      if (retryAt) next = Math.min(next, Date.parse(retryAt));
    }
    return {
      issued,
      failed,
      next: new Date(Number.isFinite(next) ? next : Date.now() + this.#config.check_interval),
    };
  }

  async #applyReload(): Promise<void> {
    this.#reloadRequested = false;
    try {
      const next = this.#load();
      const store = next.state_dir === this.#config.state_dir ? this.#store : new StateStore(next.state_dir);
      if (store !== this.#store) await store.load();
      this.#closeClients();
      this.#config = next;
      this.#store = store;
      this.#log.format = next.log_format;
      this.#log.info('daemon.reloaded', { certificates: next.certificate.map((c) => c.name) });
    } catch (error) {
      this.#log.error('daemon.reload_failed', {
        error: (error as Error).message,
        keeping: this.#config.file,
      });
    }
  }

  async #sleep(ms: number): Promise<void> {
    if (this.#stopping || this.#reloadRequested || ms <= 0) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, Math.min(ms, 2 ** 31 - 1));
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.#wake = done;
    });
    this.#wake = undefined;
  }

  async #failed(cert: CertificateConfig, error: unknown, event: string): Promise<void> {
    const record = this.#store.certificate(cert.name);
    record.failures += 1;
    const delay = Math.min(this.#config.retry_min * 2 ** (record.failures - 1), this.#config.retry_max);
    record.retryAt = new Date(Date.now() + delay).toISOString();
    record.lastError = (error as Error).message;
    await this.#store.save();
    this.#log.error(event, {
      certificate: cert.name,
      failures: record.failures,
      retryAt: record.retryAt,
      error: describeError(error),
    });
  }

  /** Is the certificate due? Missing file, other names, ARI window / two-thirds / renew_before. */
  async #plan(cert: CertificateConfig): Promise<Plan> {
    const now = new Date();
    let pem: string;
    try {
      pem = await readFile(cert.paths.cert, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      return { due: true, at: now, reason: 'missing' };
    }
    const current = parseLeaf(pem, cert.paths.cert);
    const wanted: Identifier[] = cert.identifier.map((id) => ({ type: id.type, value: id.value }));
    if (!sameIdentifiers(identifiersOfCertificate(current), wanted))
      return { due: true, at: now, reason: 'identifiers_changed', current };
    if (
      current.publicKey.asymmetricKeyType !== keyFamily(cert.key_type) ||
      !sameSize(current.publicKey, cert.key_type)
    )
      return { due: true, at: now, reason: 'key_type_changed', current };
    const client = await this.#client(cert.account);
    const ari = await renewalWindow(client, current, (error) =>
      this.#log.warn('certificate.ari_failed', { certificate: cert.name, error: (error as Error).message }),
    );
    const decision = decideRenewal({
      cert: current,
      now,
      ari: ari?.window,
      renewBeforeMs: cert.renew_before,
    });
    return { due: decision.due, at: decision.at, reason: decision.basis, current, replaces: ari?.certId };
  }

  async #issue(cert: CertificateConfig, plan: Plan): Promise<void> {
    const client = await this.#client(cert.account);
    const key = await this.#certificateKey(cert);
    const solvers = new SolverSet(this.#config.hook_timeout);
    try {
      const byName = new Map<string, ChallengeSolver[]>();
      for (const id of cert.identifier) byName.set(`${id.type}:${id.value}`, [await solvers.for(id)]);
      const issued = await issueCertificate(client, {
        identifiers: cert.identifier.map((id) => ({ type: id.type, value: id.value })),
        solversFor: (identifier) => byName.get(`${identifier.type}:${identifier.value.toLowerCase()}`) ?? [],
        certificateKey: key,
        mustStaple: cert.must_staple,
        replaces: plan.replaces,
        timeoutMs: this.#config.validation_timeout,
        signal: this.#abort.signal,
        progress: (message) => this.#log.info('certificate.progress', { certificate: cert.name, message }),
        beforeChallenge: (event) =>
          this.#runHooks(cert, 'before_challenge', this.#challengeData(cert, 'before_challenge', event)),
        afterChallenge: (event) =>
          this.#runHooks(cert, 'after_challenge', {
            ...this.#challengeData(cert, 'after_challenge', event),
            challenge_valid: String(event.valid),
          }),
      });
      await writeCertificateFiles(cert.paths, issued.certificatePem, key, {
        certMode: cert.file_mode,
        keyMode: cert.key_mode,
      });
      const leaf = parseLeaf(issued.certificatePem, issued.certificateUrl);
      const record = this.#store.certificate(cert.name);
      Object.assign(record, {
        serial: leaf.serialNumber.toLowerCase(),
        notBefore: new Date(leaf.validFrom).toISOString(),
        notAfter: new Date(leaf.validTo).toISOString(),
        issuedAt: new Date().toISOString(),
        failures: 0,
      });
      delete record.retryAt;
      delete record.lastError;
      await this.#store.save();
      this.#issuedAt.set(cert.name, Date.now());
      this.#log.info('certificate.issued', {
        certificate: cert.name,
        serial: record.serial,
        notAfter: record.notAfter,
        reason: plan.reason,
        replaced:
          plan.replaces !== undefined && issued.replaced
            ? plan.current?.serialNumber.toLowerCase()
            : undefined,
        files: cert.paths,
      });
      try {
        await this.#runHooks(cert, 'after_issuance', {
          ...this.#baseData(cert, 'after_issuance'),
          cert_file: cert.paths.cert,
          chain_file: cert.paths.chain,
          fullchain_file: cert.paths.fullchain,
          key_file: cert.paths.key,
          serial: record.serial as string,
          not_before: record.notBefore as string,
          not_after: record.notAfter as string,
          renewal: String(plan.current !== undefined),
        });
      } catch (error) {
        // The certificate is issued and saved: a failed reload hook is logged, not retried by reissuing.
        this.#log.error('hook.failed', {
          certificate: cert.name,
          event: 'after_issuance',
          error: (error as Error).message,
        });
      }
    } finally {
      await solvers.stop();
    }
  }

  async #certificateKey(cert: CertificateConfig): Promise<KeyObject> {
    if (cert.key_reuse) {
      try {
        const key = importPrivateKeyPem(await readFile(cert.paths.key));
        if (key.asymmetricKeyType === keyFamily(cert.key_type) && sameSize(key, cert.key_type)) return key;
        this.#log.info('certificate.key_replaced', { certificate: cert.name, reason: 'key_type changed' });
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT')
          throw configError(`${cert.paths.key}: ${(error as Error).message}`);
      }
    }
    return generateKey(cert.key_type);
  }

  #baseData(cert: CertificateConfig, event: HookEvent): Record<string, string> {
    return {
      event,
      certificate: cert.name,
      identifiers: cert.identifier.map((id) => id.value).join(','),
      account: cert.account,
    };
  }

  #challengeData(cert: CertificateConfig, event: HookEvent, e: ChallengeEvent): Record<string, string> {
    return {
      ...this.#baseData(cert, event),
      identifier: e.identifier.value,
      identifier_type: e.identifier.type,
      challenge: e.challenge.type,
      token: e.challenge.token,
      key_authorization: e.keyAuthorization,
    };
  }

  async #runHooks(cert: CertificateConfig, event: HookEvent, data: Record<string, string>): Promise<void> {
    for (const hook of this.#config.hook) {
      if (!cert.hooks.includes(hook.name) || !hook.events.includes(event)) continue;
      try {
        const result = await runHook(hook, data, this.#config.hook_timeout, this.#abort.signal);
        this.#log.info('hook.ran', {
          certificate: cert.name,
          event,
          hook: hook.name,
          output: result.output || undefined,
        });
      } catch (error) {
        if (!hook.allow_failure) throw new CliError(EXIT.SOLVER, (error as Error).message, { cause: error });
        this.#log.warn('hook.failed', {
          certificate: cert.name,
          event,
          hook: hook.name,
          error: (error as Error).message,
          output: error instanceof HookError ? error.result.output : undefined,
        });
      }
    }
  }

  /** The account's client: key loaded or generated, account created or found (newAccount is idempotent). */
  async #client(accountName: string): Promise<AcmeClient> {
    const existing = this.#clients.get(accountName);
    if (existing) return existing;
    const account = this.#config.account.find((a) => a.name === accountName);
    if (!account) throw configError(`no account ${accountName}`);
    const endpoint = this.#config.endpoint.find((e) => e.name === account.endpoint);
    if (!endpoint) throw configError(`no endpoint ${account.endpoint}`);
    const { key, created } = await loadOrCreateKey(account.key_file, account.key_type);
    if (created)
      this.#log.info('account.key_generated', {
        account: account.name,
        file: account.key_file,
        type: account.key_type,
      });
    const transportOptions = {
      caBundle:
        endpoint.ca_bundle === undefined
          ? undefined
          : (await readUserFile(endpoint.ca_bundle, 'ca_bundle')).toString('utf8'),
      timeoutMs: endpoint.timeout,
      userAgent: 'akamu-daemon/0.1.0',
    };
    const transport = endpoint.rate_limit
      ? new RateLimitedTransport(transportOptions, new RequestSpacer(endpoint.rate_limit))
      : new HttpTransport(transportOptions);
    const client = new AcmeClient({ directoryUrl: endpoint.directory, accountKey: key, transport });
    try {
      const {
        url,
        account: json,
        created: accountCreated,
      } = await client.newAccount({
        contact: account.contacts,
        termsOfServiceAgreed: endpoint.tos_agreed ? true : undefined,
        externalAccountBinding: endpoint.eab
          ? { kid: endpoint.eab.kid, hmacKey: Buffer.from(endpoint.eab.hmac_key, 'base64url') }
          : undefined,
      });
      if (accountCreated) this.#log.info('account.created', { account: account.name, url });
      const contacts = json.contact ?? [];
      if (contacts.length !== account.contacts.length || contacts.some((c, i) => c !== account.contacts[i])) {
        await client.updateAccount({ contact: account.contacts });
        this.#log.info('account.updated', { account: account.name, contacts: account.contacts });
      }
      this.#store.state.accounts[account.name] = {
        directory: endpoint.directory,
        url,
        thumbprint: client.thumbprint,
      };
      await this.#store.save();
    } catch (error) {
      transport.close();
      throw error;
    }
    this.#clients.set(accountName, client);
    return client;
  }

  #closeClients(): void {
    for (const client of this.#clients.values()) client.transport.close();
    this.#clients.clear();
  }
}

/** node:crypto's asymmetricKeyType for a key spec. */
function keyFamily(spec: string): string {
  return spec.split(':')[0] as string;
}

function sameSize(key: KeyObject, spec: string): boolean {
  const [, size] = spec.split(':');
  if (size === undefined) return true;
  const d = key.asymmetricKeyDetails;
  return (
    d?.namedCurve ===
      ({ 'P-256': 'prime256v1', 'P-384': 'secp384r1', 'P-521': 'secp521r1' } as Record<string, string>)[
        size
      ] || String(d?.modulusLength) === size
  );
}

/** The responders one issuance needs, started on demand and shared by identifiers on the same port. */
class SolverSet {
  readonly hookTimeoutMs: number;
  constructor(hookTimeoutMs: number) {
    this.hookTimeoutMs = hookTimeoutMs;
  }
  readonly #started = new Map<string, { solver: ChallengeSolver; stop: () => Promise<void> }>();

  async for(id: IdentifierConfig): Promise<ChallengeSolver> {
    if (id.challenge === 'http-01') {
      const key = `http-01 ${id.http_host ?? '*'}:${id.http_port}`;
      const existing = this.#started.get(key);
      if (existing) return existing.solver;
      const solver = new Http01Solver({ port: id.http_port, host: id.http_host });
      await listen(() => solver.start(), `${key} responder`);
      this.#started.set(key, { solver, stop: () => solver.stop() });
      return solver;
    }
    if (id.challenge === 'tls-alpn-01') {
      const key = `tls-alpn-01 ${id.tls_host ?? '*'}:${id.tls_port}`;
      const existing = this.#started.get(key);
      if (existing) return existing.solver;
      const solver = new TlsAlpn01Solver({ port: id.tls_port, host: id.tls_host });
      await listen(() => solver.start(), `${key} responder`);
      this.#started.set(key, { solver, stop: () => solver.stop() });
      return solver;
    }
    return new DnsHookSolver({
      deploy: id.dns_hook,
      clean: id.dns_clean_hook ?? id.dns_hook,
      timeoutMs: this.hookTimeoutMs,
    });
  }

  async stop(): Promise<void> {
    await Promise.all([...this.#started.values()].map((s) => s.stop()));
    this.#started.clear();
  }
}
