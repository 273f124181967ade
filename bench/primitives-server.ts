/**
 * The HTTP server of `npm run bench:primitives` (bench/primitives.ts): answers every request with an
 * authorization-sized JSON body and the headers every ACME answer carries (Replay-Nonce, Link,
 * Cache-Control), after reading and parsing the JSON body it was sent, and does nothing else, so that
 * its CPU per request is what one request costs the HTTP stack.
 *
 * Usage: node bench/primitives-server.ts <node|fastify|http> <work dir>
 *   node     node:https with keep-alive, a P-256 certificate from a CA made by akamu's loadOrCreateCa
 *   fastify  the same through Fastify 5, as akamu serves (its body parser for application/jose+json)
 *   http     plain node:http (the far end of an http-01 validation)
 * Prints `port: <n>` and, for HTTPS, `root certificate: <path>`.
 */
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo, Server } from 'node:net';
import path from 'node:path';
import Fastify from 'fastify';
import { issueServerCertificate, loadOrCreateCa } from '../packages/server/src/ca/ca-store.ts';

const [mode, workDir] = process.argv.slice(2);
if (!mode || !['node', 'fastify', 'http'].includes(mode) || !workDir)
  throw new Error('usage: primitives-server.ts <node|fastify|http> <work dir>');

/** The size of an authorization object with one challenge (RFC 8555 §7.1.4). */
const ANSWER = JSON.stringify({
  identifier: { type: 'dns', value: 'www.example.test' },
  status: 'pending',
  expires: '2026-12-14T00:00:00Z',
  challenges: [
    {
      type: 'http-01',
      url: 'https://localhost:8443/acme/chall/0123456789abcdef0123456789abcdef',
      status: 'pending',
      token: 'evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA',
    },
  ],
});
const HEADERS = {
  'content-type': 'application/json',
  'replay-nonce': 'AAABk-gS5OxgB2d5H1kCpIVYb9sO1s6LQf3Zq0X1aBc',
  link: '<https://localhost:8443/acme/directory>;rel="index"',
  'cache-control': 'no-store',
};

function answer(req: IncomingMessage, res: ServerResponse): void {
  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  req.on('end', () => {
    if (chunks.length > 0) JSON.parse(Buffer.concat(chunks).toString('utf8'));
    res.writeHead(200, { ...HEADERS, 'content-length': Buffer.byteLength(ANSWER) });
    res.end(ANSWER);
  });
}

async function listen(server: Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

let port: number;
if (mode === 'http') {
  port = await listen(createHttpServer({ keepAliveTimeout: 60_000 }, answer));
} else {
  const ca = await loadOrCreateCa({
    dir: path.join(workDir, 'ca'),
    keyType: 'ec:P-256',
    commonNamePrefix: 'primitives',
  });
  const tls = issueServerCertificate(ca, ['localhost', '127.0.0.1'], 2, 'ec:P-256');
  const options = { key: tls.keyPem, cert: tls.certChainPem };
  if (mode === 'node') {
    port = await listen(createHttpsServer({ ...options, keepAliveTimeout: 60_000 }, answer));
  } else {
    const app = Fastify({ https: options, logger: false, keepAliveTimeout: 60_000 });
    app.addContentTypeParser('application/jose+json', { parseAs: 'string' }, (_req, body, done) => {
      try {
        done(null, JSON.parse(body as string));
      } catch (error) {
        done(error as Error, undefined);
      }
    });
    app.post('/*', async (_req, reply) => reply.headers(HEADERS).send(ANSWER));
    await app.listen({ host: '127.0.0.1', port: 0 });
    port = (app.server.address() as AddressInfo).port;
  }
  console.log(`root certificate: ${ca.rootCertPath}`);
}
console.log(`port: ${port}`);
process.once('SIGTERM', () => process.exit(0));
