/**
 * @akamu/server, loaded when a command needs it (serve, ca, db, admin bootstrap). Compiling it — Fastify,
 * Kysely, the database drivers — is most of the CLI's start-up, so the client commands and the renewal
 * daemon never load it: `akamu certificate …` starts in about a quarter of the time.
 */
export type ServerModule = typeof import('@akamu/server');

let loading: Promise<ServerModule> | undefined;

export function loadServer(): Promise<ServerModule> {
  loading ??= import('@akamu/server');
  return loading;
}
