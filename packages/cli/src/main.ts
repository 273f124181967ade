#!/usr/bin/env node
import { Command } from 'commander';
import { registerServe } from './commands/serve.ts';

/** akamu: serve the CA, manage it, and obtain certificates. Exit codes: docs/cli.md. */
const program = new Command();
program.name('akamu').description('a self-hosted ACME (RFC 8555) certificate authority').version('0.1.0');
registerServe(program);
await program.parseAsync(process.argv);
