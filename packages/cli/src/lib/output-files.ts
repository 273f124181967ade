/** Writes an issued certificate as cert.pem, chain.pem, fullchain.pem and key.pem (0600). */
import type { KeyObject } from 'node:crypto';
import { join } from 'node:path';
import { exportPrivateKeyPem } from '@akamu/client';
import { splitPemChain } from './certificates.ts';
import { writeFileAtomic } from './files.ts';

export interface CertificatePaths {
  cert: string;
  chain: string;
  fullchain: string;
  key: string;
}

export function pathsInDir(dir: string): CertificatePaths {
  return {
    cert: join(dir, 'cert.pem'),
    chain: join(dir, 'chain.pem'),
    fullchain: join(dir, 'fullchain.pem'),
    key: join(dir, 'key.pem'),
  };
}

/**
 * The key is written first and the certificate last, so a reader that sees the new cert.pem also sees
 * its key. `certMode` applies to the three certificate files, `keyMode` to the key.
 */
export async function writeCertificateFiles(
  paths: CertificatePaths,
  chainPem: string,
  key: KeyObject,
  modes: { certMode?: number; keyMode?: number } = {},
): Promise<void> {
  const [leaf = '', ...rest] = splitPemChain(chainPem);
  const certMode = modes.certMode ?? 0o644;
  // Missing output directories are created 0755: the certificates are public, the key file is 0600.
  await writeFileAtomic(paths.key, exportPrivateKeyPem(key), modes.keyMode ?? 0o600, 0o755);
  await writeFileAtomic(paths.chain, rest.join(''), certMode, 0o755);
  await writeFileAtomic(paths.fullchain, leaf + rest.join(''), certMode, 0o755);
  await writeFileAtomic(paths.cert, leaf, certMode, 0o755);
}
