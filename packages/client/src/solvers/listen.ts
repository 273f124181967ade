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
