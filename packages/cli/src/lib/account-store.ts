/**
 * The CLI's account: a PEM private key file and, next to it, `<key file>.json` with the CA's directory
 * URL and the account URL (written by `account register`, read by every other client command).
 */
import type { KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import {
  AcmeClient,
  exportPrivateKeyPem,
  generateKey,
  importPrivateKeyPem,
  KEY_SPECS,
  type KeySpec,
} from '@akamu/client';
import { configError } from './exit-codes.ts';
import { readUserFile, writeFileAtomic } from './files.ts';

export interface AccountState {
  directoryUrl: string;
  accountUrl: string;
  /** The --ca-bundle used at registration (reused when the option is not given again). */
  caBundle?: string;
  status?: string;
  contact?: string[];
  createdAt: string;
}

/** Options shared by every client command. */
export interface ClientCommandOptions {
  accountKey: string;
  server?: string;
  caBundle?: string;
  timeout: string;
  json?: boolean;
  verbose?: boolean;
}

export function statePath(keyFile: string): string {
  return `${keyFile}.json`;
}

export function parseKeySpec(value: string, what = 'key type'): KeySpec {
  if (!(KEY_SPECS as readonly string[]).includes(value))
    throw configError(`unknown ${what} ${JSON.stringify(value)}: expected one of ${KEY_SPECS.join(', ')}`);
  return value as KeySpec;
}

export function parseTimeoutMs(value: string): number {
  const seconds = Number(value);
  if (!Number.isFinite(seconds) || seconds <= 0)
    throw configError(`invalid --timeout ${JSON.stringify(value)}: seconds > 0`);
  return seconds * 1000;
}

export async function loadKey(path: string, what: string): Promise<KeyObject> {
  const pem = await readUserFile(path, what);
  try {
    return importPrivateKeyPem(pem);
  } catch (error) {
    throw configError(`${path}: ${(error as Error).message}`, error);
  }
}

/** Loads the key at `path`, or generates one of `spec` and writes it there (mode 0600, never overwriting). */
export async function loadOrCreateKey(
  path: string,
  spec: KeySpec,
): Promise<{ key: KeyObject; created: boolean }> {
  try {
    await readFile(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT')
      throw configError(`cannot read ${path}: ${(error as Error).message}`);
    const key = generateKey(spec);
    await writeFileAtomic(path, exportPrivateKeyPem(key), 0o600);
    return { key, created: true };
  }
  return { key: await loadKey(path, 'account key'), created: false };
}

export async function readState(keyFile: string): Promise<AccountState | undefined> {
  let text: string;
  try {
    text = await readFile(statePath(keyFile), 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw configError(`cannot read ${statePath(keyFile)}: ${(error as Error).message}`);
  }
  try {
    const state = JSON.parse(text) as AccountState;
    if (typeof state.directoryUrl !== 'string' || typeof state.accountUrl !== 'string')
      throw new Error('missing directoryUrl/accountUrl');
    return state;
  } catch (error) {
    throw configError(`${statePath(keyFile)} is not an account state file: ${(error as Error).message}`);
  }
}

export async function writeState(keyFile: string, state: AccountState): Promise<void> {
  await writeFileAtomic(statePath(keyFile), `${JSON.stringify(state, null, 2)}\n`, 0o600);
}

export async function readCaBundle(path: string | undefined): Promise<string | undefined> {
  if (path === undefined) return undefined;
  return (await readUserFile(path, 'CA bundle')).toString('utf8');
}

/** A client for the registered account of `opts.accountKey` (exit 2 when it was never registered). */
export async function openAccount(
  opts: ClientCommandOptions,
): Promise<{ client: AcmeClient; state: AccountState; key: KeyObject }> {
  const state = await readState(opts.accountKey);
  if (!state)
    throw configError(
      `no account for ${opts.accountKey} (${statePath(opts.accountKey)} is missing): run \`akamu account register\` first`,
    );
  const key = await loadKey(opts.accountKey, 'account key');
  const client = new AcmeClient({
    directoryUrl: opts.server ?? state.directoryUrl,
    accountKey: key,
    accountUrl: state.accountUrl,
    caBundle: await readCaBundle(opts.caBundle ?? state.caBundle),
    timeoutMs: parseTimeoutMs(opts.timeout),
    userAgent: 'akamu-cli/0.1.0',
  });
  return { client, state, key };
}
