import type { Server } from 'node:net';

/** Starts `server` on port/host; rejects with the listen error (e.g. EADDRINUSE) instead of throwing later. */
export function listen(server: Server, port: number, host: string | undefined): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

/** Throws a TypeError unless `port` is a TCP port number (0 picks a free one). */
export function checkPort(port: number): void {
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new TypeError('invalid port');
}

/** The port `server` is bound to, or `configured` while it is not listening. */
export function boundPort(server: Server | undefined, configured: number): number {
  const address = server?.address();
  return address && typeof address === 'object' ? address.port : configured;
}
