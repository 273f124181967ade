/**
 * Caddy's built-in ACME server (Debian package `caddy`; step-ca inside): one site with `acme_server`
 * and `tls internal`, admin API off, storage, HOME and XDG directories in the work directory so the
 * machine's Caddy state and trust store are not touched. It validates http-01 on port 80 only.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Child, findOnPath } from './child.ts';
import {
  freePort,
  type RunningTarget,
  type StartOptions,
  type TargetDefinition,
  waitForDirectory,
} from './target.ts';

export const caddy: TargetDefinition = {
  name: 'caddy',
  http01Port: 80,
  unavailable() {
    if (!findOnPath('caddy')) return 'caddy is not installed (apt-get install caddy)';
    return undefined;
  },
  version() {
    try {
      return execFileSync('caddy', ['version'], { encoding: 'utf8' }).trim().split(/\s+/)[0] ?? 'unknown';
    } catch {
      return 'unknown';
    }
  },
  async start({ workDir }: StartOptions): Promise<RunningTarget> {
    const [port, httpPort] = [await freePort(), await freePort()];
    const storage = path.join(workDir, 'caddy-data');
    const home = path.join(workDir, 'home');
    mkdirSync(home, { recursive: true });
    const caddyfile = path.join(workDir, 'Caddyfile');
    writeFileSync(
      caddyfile,
      [
        '{',
        '\tadmin off',
        '\tskip_install_trust',
        '\tauto_https disable_redirects',
        `\thttp_port ${httpPort}`,
        `\thttps_port ${port}`,
        `\tstorage file_system ${JSON.stringify(storage)}`,
        '\tlog {',
        '\t\tlevel WARN',
        '\t}',
        '\tpki {',
        '\t\tca local {',
        '\t\t\tname "akamu bench Caddy CA"',
        '\t\t}',
        '\t}',
        '}',
        '',
        `https://localhost:${port} {`,
        '\tbind 127.0.0.1',
        '\ttls internal',
        '\tacme_server',
        '}',
        '',
      ].join('\n'),
    );
    const child = new Child('caddy', 'caddy', ['run', '--config', caddyfile, '--adapter', 'caddyfile'], {
      cwd: workDir,
      env: {
        ...process.env,
        HOME: home,
        XDG_DATA_HOME: path.join(home, '.local/share'),
        XDG_CONFIG_HOME: path.join(home, '.config'),
      },
    });
    const rootFile = path.join(storage, 'pki/authorities/local/root.crt');
    const directoryUrl = `https://localhost:${port}/acme/local/directory`;
    const caBundle = () => (existsSync(rootFile) ? readFileSync(rootFile, 'utf8') : undefined);
    try {
      await waitForDirectory(directoryUrl, caBundle, child);
      return { directoryUrl, caBundle: caBundle()!, pid: child.pid, child, stop: () => child.stop() };
    } catch (error) {
      await child.kill();
      throw error;
    }
  },
};
