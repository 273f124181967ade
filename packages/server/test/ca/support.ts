/** Shared helpers for the CA tests: temporary directories and the openssl command line. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import type { KeyObject } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { derToPem } from '@akamu/protocol';
import { AsnConvert } from '@peculiar/asn1-schema';
import * as asn1x509 from '@peculiar/asn1-x509';
import { type IssuerKey, isExternalSigner } from '../../src/ca/key-type.ts';

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** A CA's issuer key as the node:crypto key it is for every CA but a composite one; fails the test otherwise. */
export function keyObject(key: IssuerKey): KeyObject {
  assert.ok(!isExternalSigner(key), 'expected a node:crypto key, not an external signer');
  return key;
}

/** A fresh temporary directory, removed when the test file finishes. */
export function tempDir(prefix = 'akamu-ca-'): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(d);
  return d;
}

export interface OpensslResult {
  status: number | null;
  stdout: Buffer;
  stderr: string;
}

export function openssl(args: string[], input?: Buffer | string): OpensslResult {
  const r = spawnSync('openssl', args, { input, maxBuffer: 16 * 1024 * 1024 });
  if (r.error) throw r.error;
  return { status: r.status, stdout: r.stdout, stderr: r.stderr.toString() };
}

/** Runs openssl and fails with its stderr unless it exits 0. */
export function opensslOk(args: string[], input?: Buffer | string): Buffer {
  const r = openssl(args, input);
  if (r.status !== 0) throw new Error(`openssl ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
  return r.stdout;
}

// A config with no defaults, so the host's openssl.cnf cannot add extensions to our CSRs.
const MINIMAL_CNF = '[req]\ndistinguished_name = dn\nprompt = no\n[dn]\n';

export interface CsrOptions {
  /** openssl -subj syntax, e.g. '/CN=example.com'. */
  subject: string;
  /** -addext values, e.g. 'subjectAltName=DNS:a.example,IP:192.0.2.1'. */
  extensions?: string[];
  /** e.g. '-sha384'; omitted for EdDSA. */
  digest?: string;
  sigopts?: string[];
}

/** A DER CSR made by `openssl req` with the given private key. */
export function opensslCsr(key: KeyObject, opts: CsrOptions): Buffer {
  const dir = tempDir('akamu-csr-');
  const keyFile = join(dir, 'key.pem');
  const cnf = join(dir, 'req.cnf');
  writeFileSync(keyFile, key.export({ type: 'pkcs8', format: 'pem' }) as string, { mode: 0o600 });
  writeFileSync(cnf, MINIMAL_CNF);
  const args = [
    'req',
    '-new',
    '-config',
    cnf,
    '-key',
    keyFile,
    '-utf8',
    '-subj',
    opts.subject,
    '-outform',
    'DER',
  ];
  for (const e of opts.extensions ?? []) args.push('-addext', e);
  if (opts.digest) args.push(opts.digest);
  for (const s of opts.sigopts ?? []) args.push('-sigopt', s);
  return opensslOk(args);
}

/** `openssl x509 -text` of a DER certificate. */
export function certText(der: Buffer): string {
  return opensslOk(['x509', '-inform', 'DER', '-noout', '-text'], der).toString();
}

/** Writes a DER certificate as PEM and returns the path. */
export function writeCertPem(dir: string, name: string, der: Buffer | Buffer[]): string {
  const path = join(dir, name);
  const ders = Array.isArray(der) ? der : [der];
  writeFileSync(path, ders.map((d) => derToPem(d)).join(''));
  return path;
}

/** `openssl verify` of a leaf against a root and untrusted intermediates, optionally at a given time. */
export function opensslVerify(
  rootPem: string,
  untrustedPem: string,
  leafPem: string,
  at?: Date,
): OpensslResult {
  const attime = at ? ['-attime', String(Math.floor(at.getTime() / 1000))] : [];
  return openssl(['verify', ...attime, '-CAfile', rootPem, '-untrusted', untrustedPem, leafPem]);
}

/** A deterministic pseudo-random generator (xorshift32) for reproducible fuzzing. */
export function prng(seed: number): (n: number) => Buffer {
  let s = seed >>> 0 || 1;
  return (n: number) => {
    const out = Buffer.allocUnsafe(n);
    for (let i = 0; i < n; i++) {
      s ^= s << 13;
      s >>>= 0;
      s ^= s >>> 17;
      s ^= s << 5;
      s >>>= 0;
      out[i] = s & 0xff;
    }
    return out;
  };
}

/** A certificate decoded by @peculiar/asn1-x509: an independent parser to check ours against. */
export function decodeCertificate(der: Buffer): asn1x509.Certificate {
  return AsnConvert.parse(der, asn1x509.Certificate);
}

/** The extension with the given OID, or undefined. */
export function findExtension(cert: asn1x509.Certificate, extnID: string): asn1x509.Extension | undefined {
  return cert.tbsCertificate.extensions?.find((e) => e.extnID === extnID);
}

/** Decodes an extension's value with an asn1-x509 schema; fails the test when it is absent. */
export function extensionValue<T>(cert: asn1x509.Certificate, extnID: string, schema: new () => T): T {
  const ext = findExtension(cert, extnID);
  if (!ext) throw new Error(`extension ${extnID} is missing`);
  return AsnConvert.parse(ext.extnValue, schema);
}
