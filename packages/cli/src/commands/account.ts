/** `akamu account register|show|update|rollover|deactivate` (RFC 8555 §7.3). */
import { rename, unlink } from 'node:fs/promises';
import { resolve } from 'node:path';
import { AcmeClient, exportPrivateKeyPem, generateKey } from '@akamu/client';
import type { AccountJson } from '@akamu/protocol';
import type { Command } from 'commander';
import {
  type AccountState,
  type ClientCommandOptions,
  loadOrCreateKey,
  openAccount,
  parseKeySpec,
  parseTimeoutMs,
  readCaBundle,
  statePath,
  writeState,
} from '../lib/account-store.ts';
import { configError } from '../lib/exit-codes.ts';
import { writeFileAtomic } from '../lib/files.ts';
import { type Output, runCommand } from '../lib/output.ts';
import { addClientOptions, collect } from './common.ts';

interface RegisterOptions extends ClientCommandOptions {
  contact?: string[];
  agreeTos?: boolean;
  eabKid?: string;
  eabHmacKey?: string;
  keyType: string;
}

/** "ops@example.com" → "mailto:ops@example.com"; URIs pass through. */
function contactUri(value: string): string {
  return /^[a-z][a-z0-9+.-]*:/i.test(value) ? value : `mailto:${value}`;
}

function printAccount(
  out: Output,
  command: string,
  url: string,
  account: AccountJson,
  extra: Record<string, unknown> = {},
) {
  out.result({ command, accountUrl: url, status: account.status, contact: account.contact ?? [], ...extra }, [
    `account: ${url}`,
    `  status: ${account.status}`,
    `  contact: ${(account.contact ?? []).join(', ') || '(none)'}`,
    ...Object.entries(extra).map(([k, v]) => `  ${k}: ${String(v)}`),
  ]);
}

async function saveState(keyFile: string, state: AccountState, account: AccountJson): Promise<void> {
  await writeState(keyFile, { ...state, status: account.status, contact: account.contact ?? [] });
}

export function registerAccount(program: Command): void {
  const account = program.command('account').description('manage your ACME account at a CA');

  addClientOptions(
    account
      .command('register')
      .description(
        'create an account (or find the existing one of this key) and save its URL next to the key',
      )
      .option('-c, --contact <uri>', 'contact (mailto: is added to plain addresses); repeatable', collect)
      .option('--agree-tos', "agree to the CA's terms of service")
      .option('--eab-kid <kid>', 'external account binding key identifier (RFC 8555 §7.3.4)')
      .option(
        '--eab-hmac-key <base64url>',
        'external account binding MAC key, base64url as the CA hands it out',
      )
      .option('--key-type <type>', 'key type when the key file does not exist yet', 'ec:P-256'),
  ).action((opts: RegisterOptions) =>
    runCommand(opts, async (out) => {
      if (!opts.server) {
        throw configError('--server <directory URL> is required to register');
      }
      if ((opts.eabKid === undefined) !== (opts.eabHmacKey === undefined))
        throw configError('--eab-kid and --eab-hmac-key must be given together');
      const eabKey = opts.eabHmacKey === undefined ? undefined : Buffer.from(opts.eabHmacKey, 'base64url');
      if (eabKey && eabKey.length === 0) throw configError('--eab-hmac-key is empty or not base64url');
      const spec = parseKeySpec(opts.keyType);
      const caBundlePath = opts.caBundle === undefined ? undefined : resolve(opts.caBundle);
      const caBundle = await readCaBundle(caBundlePath);
      const { key, created: keyCreated } = await loadOrCreateKey(opts.accountKey, spec);
      if (keyCreated) out.progress(`generated a ${spec} account key in ${opts.accountKey}`);
      const client = new AcmeClient({
        directoryUrl: opts.server,
        accountKey: key,
        caBundle,
        timeoutMs: parseTimeoutMs(opts.timeout),
        userAgent: 'akamu-cli/0.1.0',
      });
      try {
        out.progress(`registering at ${opts.server}`);
        const result = await client.newAccount({
          contact: opts.contact?.map(contactUri),
          termsOfServiceAgreed: opts.agreeTos === true ? true : undefined,
          externalAccountBinding: eabKey && opts.eabKid ? { kid: opts.eabKid, hmacKey: eabKey } : undefined,
        });
        await saveState(
          opts.accountKey,
          {
            directoryUrl: client.directoryUrl,
            accountUrl: result.url,
            caBundle: caBundlePath,
            createdAt: new Date().toISOString(),
          },
          result.account,
        );
        printAccount(out, 'account register', result.url, result.account, {
          created: result.created,
          keyFile: resolve(opts.accountKey),
          stateFile: resolve(statePath(opts.accountKey)),
        });
      } finally {
        client.close();
      }
    }),
  );

  addClientOptions(account.command('show').description('show the account as the CA has it')).action(
    (opts: ClientCommandOptions) =>
      runCommand(opts, async (out) => {
        const { client, state } = await openAccount(opts);
        try {
          const current = await client.getAccount();
          await saveState(opts.accountKey, state, current);
          printAccount(out, 'account show', state.accountUrl, current, { directory: client.directoryUrl });
        } finally {
          client.close();
        }
      }),
  );

  addClientOptions(
    account
      .command('update')
      .description('replace the contacts of the account')
      .option('-c, --contact <uri>', 'contact (mailto: is added to plain addresses); repeatable', collect)
      .option('--no-contact', 'remove every contact'),
  ).action((opts: ClientCommandOptions & { contact?: string[] | false }) =>
    runCommand(opts, async (out) => {
      if (opts.contact === undefined) throw configError('give --contact <uri> (repeatable) or --no-contact');
      const contact = opts.contact === false ? [] : opts.contact.map(contactUri);
      const { client, state } = await openAccount(opts);
      try {
        const updated = await client.updateAccount({ contact });
        await saveState(opts.accountKey, state, updated);
        printAccount(out, 'account update', state.accountUrl, updated);
      } finally {
        client.close();
      }
    }),
  );

  addClientOptions(
    account
      .command('rollover')
      .description('replace the account key (RFC 8555 §7.3.5); the new key is written over the key file')
      .option('--key-type <type>', 'type of the new key', 'ec:P-256'),
  ).action((opts: ClientCommandOptions & { keyType: string }) =>
    runCommand(opts, async (out) => {
      const spec = parseKeySpec(opts.keyType);
      const { client, state } = await openAccount(opts);
      const pending = `${opts.accountKey}.new`;
      try {
        const next = generateKey(spec);
        // The new key is on disk before the CA knows it: a crash can never leave an account without its key.
        await writeFileAtomic(pending, exportPrivateKeyPem(next), 0o600);
        out.progress('rolling the account key over');
        try {
          await client.keyChange(next);
        } catch (error) {
          await unlink(pending).catch(() => {});
          throw error;
        }
        await rename(pending, opts.accountKey);
        const current = await client.getAccount();
        await saveState(opts.accountKey, state, current);
        printAccount(out, 'account rollover', state.accountUrl, current, {
          keyType: spec,
          thumbprint: client.thumbprint,
        });
      } finally {
        client.close();
      }
    }),
  );

  addClientOptions(
    account.command('deactivate').description('deactivate the account for good (RFC 8555 §7.3.6)'),
  ).action((opts: ClientCommandOptions) =>
    runCommand(opts, async (out) => {
      const { client, state } = await openAccount(opts);
      try {
        const deactivated = await client.deactivateAccount();
        await saveState(opts.accountKey, state, deactivated);
        printAccount(out, 'account deactivate', state.accountUrl, deactivated);
      } finally {
        client.close();
      }
    }),
  );
}
