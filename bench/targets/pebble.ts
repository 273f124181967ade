/**
 * Pebble (Debian package `pebble`): its HTTPS certificate is a self-signed one for localhost/127.0.0.1
 * made with openssl; no validation sleep (PEBBLE_VA_NOSLEEP) and no deliberate badNonce rejections
 * (PEBBLE_WFE_NONCEREJECT=0), so only its real work is measured.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Child, findOnPath } from './child.ts';
import {
  freePort,
  type RunningTarget,
  type StartOptions,
  type TargetDefinition,
  waitForDirectory,
} from './target.ts';

function selfSignedCertificate(dir: string): { cert: string; key: string } {
  const cert = path.join(dir, 'pebble-https.pem');
  const key = path.join(dir, 'pebble-https.key');
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-days',
      '2',
      '-subj',
      '/CN=localhost',
      '-addext',
      'subjectAltName=DNS:localhost,IP:127.0.0.1',
      '-keyout',
      key,
      '-out',
      cert,
    ],
    { stdio: 'pipe' },
  );
  return { cert, key };
}

export const pebble: TargetDefinition = {
  name: 'pebble',
  http01Port: 0,
  unavailable() {
    if (!findOnPath('pebble')) return 'pebble is not installed (apt-get install pebble)';
    if (!findOnPath('openssl'))
      return 'openssl is not installed (needed for the HTTPS certificate of pebble)';
    return undefined;
  },
  version() {
    try {
      // biome-ignore lint/suspicious/noTemplateCurlyInString: a dpkg-query format, not a template
      return execFileSync('dpkg-query', ['-W', '-f', '${Version}', 'pebble'], { encoding: 'utf8' }).trim();
    } catch {
      return 'unknown';
    }
  },
  async start({ workDir, http01Port }: StartOptions): Promise<RunningTarget> {
    const { cert, key } = selfSignedCertificate(workDir);
    const [port, managementPort, tlsPort] = [await freePort(), await freePort(), await freePort()];
    const config = path.join(workDir, 'pebble-config.json');
    writeFileSync(
      config,
      JSON.stringify(
        {
          pebble: {
            listenAddress: `127.0.0.1:${port}`,
            managementListenAddress: `127.0.0.1:${managementPort}`,
            certificate: cert,
            privateKey: key,
            httpPort: http01Port,
            tlsPort,
            ocspResponderURL: '',
            externalAccountBindingRequired: false,
          },
        },
        null,
        2,
      ),
    );
    const child = new Child('pebble', 'pebble', ['-config', config], {
      cwd: workDir,
      env: { ...process.env, PEBBLE_VA_NOSLEEP: '1', PEBBLE_WFE_NONCEREJECT: '0' },
    });
    const directoryUrl = `https://localhost:${port}/dir`;
    const caBundle = readFileSync(cert, 'utf8');
    try {
      await waitForDirectory(directoryUrl, () => caBundle, child);
      return { directoryUrl, caBundle, pid: child.pid, child, stop: () => child.stop() };
    } catch (error) {
      await child.kill();
      throw error;
    }
  },
};
