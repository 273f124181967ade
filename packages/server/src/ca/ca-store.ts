/**
 * The CA's key material on disk: load the operator's issuer key and chain, load a CA
 * generated earlier, or bootstrap a new root and issuing intermediate on first run.
 */
import { createPrivateKey, type KeyObject, X509Certificate } from 'node:crypto';
import { mkdir, open, readFile, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { canonicalIp, derToPem, pemToDer } from '@akamu/protocol';
import { CertificateIssuer, createSelfSignedCa, EKU_SERVER_AUTH, newSerial } from './certificate-issuer.ts';
import {
  CompositeSigner,
  certificateSpki,
  compositeKeyTypeOf,
  importCompositePrivateKey,
  verifyCompositeSigned,
} from './composite.ts';
import {
  type CaKeyType,
  generateIssuerKey,
  generateKeyPair,
  type IssuerKey,
  isExternalSigner,
  issuerKeyMatches,
  issuerKeyType,
  issuerSpki,
  type KeyType,
  signatureAlgorithmFor,
} from './key-type.ts';

export interface CaMaterial {
  /** A node:crypto private key, or a CompositeSigner for an EXPERIMENTAL composite CA. */
  issuerKey: IssuerKey;
  issuerCertDer: Buffer;
  /** The issuer certificate followed by any further intermediates, excluding the root. */
  chainDer: Buffer[];
  chainPem: string;
  rootCertDer?: Buffer;
  rootCertPath?: string;
  /** True when this call created the CA. */
  generated: boolean;
}

export interface LoadOrCreateCaOptions {
  dir: string;
  /** Key type of a new CA; a composite type only when ca.experimental_composite allows it. */
  keyType: CaKeyType;
  /** Prefix of the generated CAs' common names; default 'akamu'. */
  commonNamePrefix?: string;
  /** Operator-supplied issuer key (PEM); requires issuerCertFile. */
  issuerKeyFile?: string;
  /** Operator-supplied chain (PEM, issuer first); a trailing self-signed certificate is the root. */
  issuerCertFile?: string;
  log?: (msg: string) => void;
  now?: () => Date;
}

/** File names inside `dir` for a generated CA. */
export const CA_FILES = Object.freeze({
  rootKey: 'root.key.pem',
  rootCert: 'root.pem',
  intermediateKey: 'intermediate.key.pem',
  intermediateCert: 'intermediate.pem',
});

const DAY_MS = 24 * 60 * 60 * 1000;
const ROOT_VALIDITY_DAYS = 3650;
const INTERMEDIATE_VALIDITY_DAYS = 1825;
/** CA and server certificates start an hour early to tolerate clock skew. */
const BACKDATE_MS = 60 * 60 * 1000;

export async function loadOrCreateCa(opts: LoadOrCreateCaOptions): Promise<CaMaterial> {
  const log = opts.log ?? (() => {});
  const now = opts.now ?? (() => new Date());
  if (opts.issuerKeyFile || opts.issuerCertFile) {
    if (!opts.issuerKeyFile || !opts.issuerCertFile) {
      throw new Error('issuerKeyFile and issuerCertFile must be given together');
    }
    return loadOperatorCa(opts.issuerKeyFile, opts.issuerCertFile, log, now());
  }

  const paths = {
    rootKey: join(opts.dir, CA_FILES.rootKey),
    rootCert: join(opts.dir, CA_FILES.rootCert),
    intermediateKey: join(opts.dir, CA_FILES.intermediateKey),
    intermediateCert: join(opts.dir, CA_FILES.intermediateCert),
  };
  const present = await Promise.all(Object.values(paths).map(exists));
  if (present.every((p) => !p)) return createCa(opts, paths, log, now());
  // The root key may be moved offline once the intermediate exists; everything else is required.
  const missing = Object.entries(paths)
    .filter(([name], i) => !present[i] && name !== 'rootKey')
    .map(([, path]) => path);
  if (missing.length > 0) {
    throw new Error(
      `incomplete CA in ${opts.dir}: missing ${missing.join(', ')}; restore the files or empty the directory to generate a new CA`,
    );
  }
  const ca = await loadGeneratedCa(paths, log, now());
  const existingType = issuerKeyType(ca.issuerKey);
  if (existingType !== opts.keyType) {
    log(
      `the existing CA in ${opts.dir} uses ${existingType ?? 'another key type'}; keyType ${opts.keyType} applies only to new CAs`,
    );
  }
  return ca;
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
}

async function createCa(
  opts: LoadOrCreateCaOptions,
  paths: Record<keyof typeof CA_FILES, string>,
  log: (msg: string) => void,
  now: Date,
): Promise<CaMaterial> {
  const prefix = opts.commonNamePrefix ?? 'akamu';
  const notBefore = new Date(now.getTime() - BACKDATE_MS);
  const root = generateIssuerKey(opts.keyType);
  const rootDer = createSelfSignedCa({
    privateKey: root,
    commonName: `${prefix} Root CA`,
    serial: newSerial(),
    notBefore,
    notAfter: new Date(now.getTime() + ROOT_VALIDITY_DAYS * DAY_MS),
  });
  const intermediate = generateIssuerKey(opts.keyType);
  const intermediateDer = new CertificateIssuer({
    issuerKey: root,
    issuerCertDer: rootDer,
  }).issueCa({
    serial: newSerial(),
    spki: issuerSpki(intermediate),
    commonName: `${prefix} Intermediate CA`,
    notBefore,
    notAfter: new Date(now.getTime() + INTERMEDIATE_VALIDITY_DAYS * DAY_MS),
    pathLen: 0,
  });

  await mkdir(opts.dir, { recursive: true, mode: 0o700 });
  const written: string[] = [];
  try {
    await writeExclusive(paths.rootKey, privateKeyPem(root), 0o600, written);
    await writeExclusive(paths.intermediateKey, privateKeyPem(intermediate), 0o600, written);
    await writeExclusive(paths.rootCert, derToPem(rootDer), 0o644, written);
    await writeExclusive(paths.intermediateCert, derToPem(intermediateDer), 0o644, written);
  } catch (err) {
    await Promise.all(written.map((p) => unlink(p).catch(() => {})));
    throw new Error(`cannot write the new CA to ${opts.dir}: ${(err as Error).message}`, { cause: err });
  }
  log(`generated a new ${opts.keyType} CA in ${opts.dir}; clients must trust ${paths.rootCert}`);
  return {
    issuerKey: intermediate,
    issuerCertDer: intermediateDer,
    chainDer: [intermediateDer],
    chainPem: derToPem(intermediateDer),
    rootCertDer: rootDer,
    rootCertPath: paths.rootCert,
    generated: true,
  };
}

/** PKCS#8 PEM ("PRIVATE KEY") of a CA key; a composite key as exportCompositePrivateKey's OneAsymmetricKey. */
function privateKeyPem(key: KeyObject | CompositeSigner): string {
  return key instanceof CompositeSigner
    ? derToPem(key.exportPkcs8(), 'PRIVATE KEY')
    : (key.export({ type: 'pkcs8', format: 'pem' }) as string);
}

/** Creates the file with its final mode (never write-then-chmod) and fails if it exists. */
async function writeExclusive(path: string, data: string, mode: number, written: string[]): Promise<void> {
  const fh = await open(path, 'wx', mode);
  written.push(path);
  try {
    // The umask may have narrowed the mode; certificates should stay world-readable.
    await fh.chmod(mode);
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
}

async function loadGeneratedCa(
  paths: Record<keyof typeof CA_FILES, string>,
  log: (msg: string) => void,
  now: Date,
): Promise<CaMaterial> {
  const issuerKey = await readPrivateKey(paths.intermediateKey, log);
  const chainDer = await readCertificates(paths.intermediateCert);
  const [rootCertDer] = await readCertificates(paths.rootCert);
  const root = new X509Certificate(rootCertDer!);
  if (!isSelfSigned(root)) throw new Error(`${paths.rootCert} is not a self-signed certificate`);
  checkChain(issuerKey, chainDer, root, paths.intermediateCert, log, now);
  return {
    issuerKey,
    issuerCertDer: chainDer[0]!,
    chainDer,
    chainPem: chainDer.map((d) => derToPem(d)).join(''),
    rootCertDer: rootCertDer!,
    rootCertPath: paths.rootCert,
    generated: false,
  };
}

async function loadOperatorCa(
  keyFile: string,
  certFile: string,
  log: (msg: string) => void,
  now: Date,
): Promise<CaMaterial> {
  const issuerKey = await readPrivateKey(keyFile, log);
  const certs = await readCertificates(certFile);
  let chainDer = certs;
  let rootCertDer: Buffer | undefined;
  const last = certs[certs.length - 1]!;
  if (isSelfSigned(new X509Certificate(last))) {
    rootCertDer = last;
    if (certs.length > 1) chainDer = certs.slice(0, -1);
  }
  checkChain(
    issuerKey,
    chainDer,
    rootCertDer ? new X509Certificate(rootCertDer) : undefined,
    certFile,
    log,
    now,
  );
  return {
    issuerKey,
    issuerCertDer: chainDer[0]!,
    chainDer,
    chainPem: chainDer.map((d) => derToPem(d)).join(''),
    rootCertDer,
    generated: false,
  };
}

async function readPrivateKey(path: string, log: (msg: string) => void): Promise<IssuerKey> {
  const [pem, info] = await Promise.all([readFile(path, 'utf8'), stat(path)]);
  if ((info.mode & 0o077) !== 0) {
    log(
      `warning: ${path} is readable by group or others (mode ${(info.mode & 0o777).toString(8)}); chmod 600 it`,
    );
  }
  let key: IssuerKey;
  try {
    key = parsePrivateKey(pem);
  } catch (err) {
    throw new Error(`cannot read the private key in ${path}: ${(err as Error).message}`, { cause: err });
  }
  if (isExternalSigner(key)) return key;
  try {
    signatureAlgorithmFor(key);
  } catch (err) {
    throw new Error(`the key in ${path} cannot sign certificates: ${(err as Error).message}`, { cause: err });
  }
  return key;
}

/**
 * A PEM private key: a PKCS#8 "PRIVATE KEY" with a composite ML-DSA OID becomes a CompositeSigner (node:crypto
 * cannot read those), anything else goes to createPrivateKey (PKCS#8, SEC1, PKCS#1).
 */
function parsePrivateKey(pem: string): IssuerKey {
  const block = /-----BEGIN PRIVATE KEY-----[\s\S]*?-----END PRIVATE KEY-----/.exec(pem);
  const der = block ? pemToDer(block[0])[0] : undefined;
  if (der && compositeKeyTypeOf(der)) return new CompositeSigner(importCompositePrivateKey(der));
  return createPrivateKey(pem);
}

async function readCertificates(path: string): Promise<Buffer[]> {
  const ders = pemToDer(await readFile(path, 'utf8'));
  if (ders.length === 0) throw new Error(`${path} contains no PEM certificate`);
  for (const [i, der] of ders.entries()) {
    try {
      new X509Certificate(der);
    } catch (err) {
      throw new Error(`certificate #${i + 1} in ${path} is malformed: ${(err as Error).message}`, {
        cause: err,
      });
    }
  }
  return ders;
}

function isSelfSigned(cert: X509Certificate): boolean {
  return isIssuedBy(cert, cert);
}

/**
 * Whether `parent` issued `child`: names and signature. node:crypto cannot use a composite ML-DSA key, so
 * under a composite parent the issuer name must equal the parent's subject and the composite signature
 * verify (verifyCompositeSigned).
 */
export function isIssuedBy(child: X509Certificate, parent: X509Certificate): boolean {
  const parentSpki = certificateSpki(parent.raw);
  if (compositeKeyTypeOf(parentSpki)) {
    return child.issuer === parent.subject && verifyCompositeSigned(child.raw, parentSpki);
  }
  return child.checkIssued(parent) && child.verify(parent.publicKey);
}

/** The key matches the first certificate, which is a CA, and each certificate is signed by the next. */
function checkChain(
  issuerKey: IssuerKey,
  chainDer: Buffer[],
  root: X509Certificate | undefined,
  source: string,
  log: (msg: string) => void,
  now: Date,
): void {
  const chain = chainDer.map((d) => new X509Certificate(d));
  const issuerCert = chain[0]!;
  if (!issuerKeyMatches(issuerKey, certificateSpki(issuerCert.raw))) {
    throw new Error(
      `the issuer key does not match the first certificate in ${source} (${issuerCert.subject})`,
    );
  }
  if (!issuerCert.ca) throw new Error(`the first certificate in ${source} is not a CA certificate`);
  const links = root ? [...chain, root] : chain;
  for (let i = 0; i + 1 < links.length; i++) {
    const child = links[i]!;
    const parent = links[i + 1]!;
    if (!isIssuedBy(child, parent)) {
      throw new Error(`broken chain in ${source}: "${child.subject}" is not signed by "${parent.subject}"`);
    }
  }
  if (new Date(issuerCert.validTo).getTime() <= now.getTime()) {
    log(`warning: the issuer certificate in ${source} expired on ${issuerCert.validTo}`);
  }
}

export interface ServerCertificate {
  /** PKCS#8 PEM of the new private key. */
  keyPem: string;
  /** The server certificate followed by the CA chain (without the root). */
  certChainPem: string;
  certDer: Buffer;
}

/**
 * A TLS server certificate for the ACME server itself, signed by the CA's issuer.
 * Hostnames may be DNS names or IP literals (optionally in brackets).
 */
export function issueServerCertificate(
  ca: CaMaterial,
  hostnames: string[],
  validityDays: number,
  keyType: KeyType,
  opts: { now?: () => Date } = {},
): ServerCertificate {
  if (!(Number.isFinite(validityDays) && validityDays > 0))
    throw new RangeError('validityDays must be positive');
  const dnsNames = new Set<string>();
  const ipAddresses = new Set<string>();
  for (const host of hostnames) {
    const bare = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
    const ip = canonicalIp(bare);
    if (ip) ipAddresses.add(ip);
    else if (bare.length > 0) dnsNames.add(bare.toLowerCase().replace(/\.$/, ''));
  }
  if (dnsNames.size === 0 && ipAddresses.size === 0) throw new TypeError('at least one hostname is required');
  const now = (opts.now ?? (() => new Date()))();
  const keys = generateKeyPair(keyType);
  const issuer = new CertificateIssuer({ issuerKey: ca.issuerKey, issuerCertDer: ca.issuerCertDer });
  const certDer = issuer.issue({
    serial: newSerial(),
    spki: keys.publicKey.export({ type: 'spki', format: 'der' }),
    dnsNames: [...dnsNames],
    ipAddresses: [...ipAddresses],
    notBefore: new Date(now.getTime() - BACKDATE_MS),
    notAfter: new Date(now.getTime() + validityDays * DAY_MS),
    extendedKeyUsages: [EKU_SERVER_AUTH],
  });
  return {
    keyPem: keys.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
    certChainPem: derToPem(certDer) + ca.chainPem,
    certDer,
  };
}
