/**
 * Counts TCP connections the bench process opens (node:net diagnostics channel), to show how well
 * keep-alive works against each server: ideally about `concurrency` per run, not several per issuance.
 */
import { subscribe } from 'node:diagnostics_channel';

let opened = 0;
subscribe('net.client.socket', () => {
  opened++;
});

/** Client connections opened so far by this process. */
export function connectionsOpened(): number {
  return opened;
}
