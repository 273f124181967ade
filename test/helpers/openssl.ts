/** Certificate checks through the openssl command line, as an operator would run them. */
import { X509Certificate } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runTool, runToolOk } from './run-tool.ts';

/** The PEM CERTIFICATE blocks of a file's text, in order. */
export function splitPemCertificates(text: string): string[] {
  return text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\n?/g) ?? [];
}

/**
 * `openssl verify -CAfile root -untrusted chain cert`: throws with openssl's output unless the leaf
 * chains up to the root through the intermediates in `chainPath`.
 */
export async function opensslVerify(rootPath: string, chainPath: string, certPath: string): Promise<void> {
  const r = await runTool('openssl', ['verify', '-CAfile', rootPath, '-untrusted', chainPath, certPath]);
  if (r.code !== 0 || r.stdout.trim() !== `${certPath}: OK`)
    throw new Error(`openssl verify failed for ${certPath} (exit ${r.code}):\n${r.stdout}${r.stderr}`);
}

/**
 * Verifies a full-chain PEM (leaf first, then its issuers, as clients store it): writes the leaf and the
 * rest to `<workDir>/<label>.{leaf,chain}.pem` and runs `openssl verify`. Returns the leaf's PEM.
 */
export async function opensslVerifyFullChain(
  rootPath: string,
  fullChainPath: string,
  workDir: string,
  label: string,
): Promise<string> {
  const [leaf, ...chain] = splitPemCertificates(await readFile(fullChainPath, 'utf8'));
  if (!leaf || chain.length === 0)
    throw new Error(`${fullChainPath} does not hold a leaf followed by its chain`);
  const leafPath = join(workDir, `${label}.leaf.pem`);
  const chainPath = join(workDir, `${label}.chain.pem`);
  await writeFile(leafPath, leaf);
  await writeFile(chainPath, chain.join(''));
  await opensslVerify(rootPath, chainPath, leafPath);
  return leaf;
}

/** The DNS names of `openssl x509 -noout -ext subjectAltName`, sorted. Throws on any other SAN type. */
export async function opensslDnsNames(certPath: string): Promise<string[]> {
  const r = await runToolOk('openssl', ['x509', '-noout', '-ext', 'subjectAltName', '-in', certPath]);
  const lines = r.stdout.split('\n').map((l) => l.trim());
  if (!lines[0]?.startsWith('X509v3 Subject Alternative Name'))
    throw new Error(`${certPath} has no subjectAltName extension:\n${r.stdout}`);
  const entries = lines
    .slice(1)
    .join(',')
    .split(',')
    .map((e) => e.trim())
    .filter((e) => e !== '');
  const other = entries.filter((e) => !e.startsWith('DNS:'));
  if (other.length > 0) throw new Error(`${certPath} has non-DNS subjectAltNames: ${other.join(', ')}`);
  return entries.map((e) => e.slice(4)).sort();
}

/** The serial number of a PEM certificate, upper-case hex as openssl prints it. */
export function serialOf(pem: string): string {
  return new X509Certificate(pem).serialNumber;
}
