import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { AcmeClient, generateKey, Http01Solver, type KeySpec } from '@akamu/client';
import { derToPem } from '@akamu/protocol';
import { currentBackend, provisionDatabase } from '../../../test/support/databases.ts';
import { type AkamuServer, type ConfigInput, createServer, type ServerDeps } from '../src/index.ts';

export interface TestCa {
  server: AkamuServer;
  directoryUrl: string;
  /** What HTTPS clients trust: the CA's root, or the TLS-only CA's root of an EXPERIMENTAL composite CA. */
  caBundle: string;
  solver: Http01Solver;
  dataDir: string;
  /** The database.url the server uses (a fresh PostgreSQL/MariaDB database, or the SQLite file). */
  databaseUrl: string;
  /** A client with a fresh account key (not yet registered). */
  client(spec?: KeySpec): AcmeClient;
  /** A client with a registered account. */
  account(spec?: KeySpec): Promise<AcmeClient>;
  /** Stops the server (keeping the data directory) and starts it again on the same directory. */
  restart(): Promise<void>;
  close(): Promise<void>;
}

/**
 * The real server on a loopback port with a real SQLite file in a temp directory, HTTPS with its own
 * CA, and a real http-01 responder for its validator to reach.
 */
export async function startTestCa(config: ConfigInput = {}, deps: ServerDeps = {}): Promise<TestCa> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'akamu-test-'));
  // The database backend of this test run (TEST_DB_BACKEND): a fresh database, dropped on close.
  const database = config.database?.url ? undefined : await provisionDatabase(currentBackend());
  const solver = new Http01Solver({ port: 0, host: '127.0.0.1' });
  await solver.start();
  const full: ConfigInput = {
    ...config,
    data_dir: dataDir,
    ...(database?.url ? { database: { ...config.database, url: database.url } } : {}),
    server: { port: 0, log_level: 'silent', ...config.server },
    va: { http01_port: solver.port, ...config.va },
  };
  let server = await createServer(full, deps);
  let directoryUrl = await server.listen();
  const clients: AcmeClient[] = [];
  const ca: TestCa = {
    get server() {
      return server;
    },
    get directoryUrl() {
      return directoryUrl;
    },
    caBundle: server.tlsCa?.rootCertDer ? derToPem(server.tlsCa.rootCertDer) : server.rootCertPem,
    solver,
    dataDir,
    databaseUrl: database?.url ?? config.database?.url ?? `sqlite:${path.join(dataDir, 'akamu.db')}`,
    client(spec: KeySpec = 'ec:P-256') {
      const c = new AcmeClient({
        directoryUrl,
        accountKey: generateKey(spec),
        caBundle: ca.caBundle,
        timeoutMs: 10_000,
      });
      clients.push(c);
      return c;
    },
    async account(spec: KeySpec = 'ec:P-256') {
      const c = ca.client(spec);
      await c.newAccount({ contact: ['mailto:test@example.com'], termsOfServiceAgreed: true });
      return c;
    },
    async restart() {
      const port = new URL(directoryUrl).port;
      await server.close();
      server = await createServer({ ...full, server: { ...full.server, port: Number(port) } }, deps);
      directoryUrl = await server.listen();
    },
    async close() {
      for (const c of clients) c.close();
      await server.close();
      await solver.stop();
      rmSync(dataDir, { recursive: true, force: true });
      await database?.drop();
    },
  };
  return ca;
}
