/**
 * Runs N akamu nodes on one database behind a round-robin TCP balancer (TLS passes through; each new
 * connection goes to the next node), as one process tree so the bench can read the CPU of all of them.
 * Usage: node cluster-launcher.ts <akamu.toml> <nodes>. Prints the same ready lines as `akamu serve`.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, stringify } from 'smol-toml';

const main = fileURLToPath(new URL('../../packages/cli/src/main.ts', import.meta.url));
const [configFile, countText] = process.argv.slice(2);
const count = Number(countText);
const base = parse(readFileSync(configFile!, 'utf8')) as Record<string, Record<string, unknown> | string>;
const dir = path.dirname(configFile!);
const children: ChildProcess[] = [];
const stopAll = () => {
  for (const c of children) c.kill('SIGTERM');
};
process.on('SIGTERM', () => {
  stopAll();
  process.exit(0);
});
process.on('exit', stopAll);

const balancer = net.createServer();
await new Promise<void>((r) => balancer.listen(0, '127.0.0.1', r));
const lbPort = (balancer.address() as net.AddressInfo).port;
const ports: number[] = [];

function startNode(i: number, extra: Record<string, unknown>): Promise<{ root: string }> {
  const file = path.join(dir, `node-${i}.toml`);
  const server = { ...(base.server as object), port: 0, base_url: `https://localhost:${lbPort}` };
  writeFileSync(
    file,
    stringify({
      ...base,
      data_dir: path.join(dir, `node-${i}`),
      server,
      cluster: { node_id: `node-${i}` },
      ...extra,
    }),
  );
  const child = spawn(process.execPath, [main, 'serve', '-c', file], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.push(child);
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d;
      const root = /root certificate: (\S+)/.exec(out);
      const listening = /Server listening at https:\/\/[^:]+:(\d+)/.exec(out);
      if (root && /data directory/.test(out)) resolve({ root: root[1]! });
      void listening;
    });
    child.once('exit', (code) => reject(new Error(`node ${i} exited with ${code}`)));
  });
}

// Node ports: ask each node for an explicit free port so the balancer knows where to send connections.
async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const p = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return p;
}

const firstPort = await freePort();
ports.push(firstPort);
base.server = { ...(base.server as object), port: firstPort };
const first = await startNode(1, {
  server: { ...(base.server as object), port: firstPort, base_url: `https://localhost:${lbPort}` },
});
const caDir = path.join(dir, 'node-1', 'ca');
const chain = path.join(dir, 'chain.pem');
writeFileSync(
  chain,
  readFileSync(path.join(caDir, 'intermediate.pem'), 'utf8') +
    readFileSync(path.join(caDir, 'root.pem'), 'utf8'),
);
for (let i = 2; i <= count; i++) {
  const port = await freePort();
  ports.push(port);
  await startNode(i, {
    server: { ...(base.server as object), port, base_url: `https://localhost:${lbPort}` },
    ca: { issuer_key_file: path.join(caDir, 'intermediate.key.pem'), issuer_cert_file: chain },
  });
}

let next = 0;
balancer.on('connection', (socket) => {
  const upstream = net.connect({ host: '127.0.0.1', port: ports[next++ % ports.length]! });
  socket.pipe(upstream).pipe(socket);
  const close = () => {
    socket.destroy();
    upstream.destroy();
  };
  socket.on('error', close);
  upstream.on('error', close);
});

process.stdout.write(
  `akamu cluster of ${count} nodes is ready\n  directory: https://localhost:${lbPort}/acme/directory\n  root certificate: ${first.root}\n`,
);
