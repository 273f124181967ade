/**
 * The web server in front of a "webroot" ACME client (dehydrated, uacme's hook, acme-tiny): those clients
 * only write `<root>/.well-known/acme-challenge/<token>` files, and this plain HTTP server on 127.0.0.1
 * serves them, as nginx or Apache would, on the port akamu's http-01 validator connects to.
 */
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type AkamuProcess, freePort, startAkamu } from './akamu-process.ts';

export interface WebrootServer {
  /** The directory the client writes its challenge files into: `<root>/.well-known/acme-challenge`. */
  challengeDir: string;
  /** The paths requested so far, for failure messages and to prove the validator came. */
  readonly requests: string[];
  close(): Promise<void>;
}

const CHALLENGE_PATH = /^\/\.well-known\/acme-challenge\/([A-Za-z0-9_-]+)$/;

/** Creates `<root>/.well-known/acme-challenge` and serves it on 127.0.0.1:`port`. */
export async function startWebroot(root: string, port: number): Promise<WebrootServer> {
  const challengeDir = join(root, '.well-known', 'acme-challenge');
  await mkdir(challengeDir, { recursive: true });
  const requests: string[] = [];
  const server = createServer(async (request, response) => {
    requests.push(`${request.method} ${request.url}`);
    const token = CHALLENGE_PATH.exec(request.url ?? '')?.[1];
    const body = token ? await readFile(join(challengeDir, token)).catch(() => undefined) : undefined;
    if (request.method !== 'GET' || body === undefined) {
      response.writeHead(404).end();
      return;
    }
    response.writeHead(200, { 'content-type': 'text/plain' }).end(body);
  });
  await new Promise<void>((done, fail) => {
    server.once('error', fail);
    server.listen(port, '127.0.0.1', done);
  });
  return {
    challengeDir,
    requests,
    close: () =>
      new Promise((done) => {
        server.closeAllConnections();
        server.close(() => done());
      }),
  };
}

export interface WebrootInterop {
  /** A fresh temporary directory for the client's state; the web root is `<dir>/webroot`. */
  dir: string;
  webroot: WebrootServer;
  akamu: AkamuProcess;
  /** Stops akamu and the web server and removes the directory. */
  stop(): Promise<void>;
}

/**
 * The fixture of the webroot clients' interop tests: a temporary directory, a web root served on a free
 * port, and `akamu serve` validating http-01 on that port (`config` sections merged over it).
 */
export async function startWebrootInterop(
  client: string,
  config: { va?: Record<string, unknown>; [section: string]: unknown } = {},
): Promise<WebrootInterop> {
  const dir = await mkdtemp(join(tmpdir(), `akamu-${client}-`));
  const http01Port = await freePort();
  const webroot = await startWebroot(join(dir, 'webroot'), http01Port);
  const akamu = await startAkamu({ config: { ...config, va: { http01_port: http01Port, ...config.va } } });
  return {
    dir,
    webroot,
    akamu,
    async stop() {
      await akamu.stop();
      await webroot.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
