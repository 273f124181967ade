/**
 * The end-to-end example of docs/client.md, run against akamu's own server with a real DNS server:
 * the code between the region markers below must be exactly the example in the document.
 */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { test } from 'node:test';
import { TestDnsServer } from '../../../test/support/dns-server.ts';
import { startTestCa } from '../../server/test/helpers.ts';
import {
  AcmeClient,
  exportPrivateKeyPem,
  generateKey,
  importPrivateKeyPem,
  obtainCertificate,
  Rfc2136Solver,
  TlsAlpn01Solver,
} from '../src/index.ts';
import { freePort } from './pebble.ts';

const DOC = resolve(import.meta.dirname, '../../../docs/client.md');
const SELF = import.meta.filename;

interface ExampleInputs {
  directoryUrl: string;
  caBundle: string;
  dnsServer: string;
  tsigSecret: Buffer;
  tlsPort: number;
  outDir: string;
}

async function endToEnd({ directoryUrl, caBundle, dnsServer, tsigSecret, tlsPort, outDir }: ExampleInputs) {
  // #region end-to-end
  const accountKey = generateKey('ec:P-256'); // keep it: exportPrivateKeyPem(accountKey)
  const client = new AcmeClient({ directoryUrl, accountKey, caBundle });
  await client.newAccount({ contact: ['mailto:ops@example.com'], termsOfServiceAgreed: true });

  const tlsAlpn = new TlsAlpn01Solver({ port: tlsPort }); // 443 for a public CA
  const rfc2136 = new Rfc2136Solver({
    server: dnsServer, // the primary name server of the zone, 'host:port'
    tsig: { name: 'acme-update', algorithm: 'hmac-sha256', secret: tsigSecret },
  });
  await tlsAlpn.start();
  let renewAt: Date;
  try {
    const { certificatePem, certificateKey } = await obtainCertificate(client, {
      identifiers: [
        { type: 'dns', value: 'www.example.test' },
        { type: 'dns', value: '*.example.test' }, // only dns-01 can validate a wildcard
      ],
      solvers: [tlsAlpn, rfc2136], // in order of preference
    });
    await writeFile(join(outDir, 'cert.pem'), certificatePem);
    await writeFile(join(outDir, 'key.pem'), exportPrivateKeyPem(certificateKey), { mode: 0o600 });

    // RFC 9773: renew at a random time inside the window the CA suggests.
    const { suggestedWindow } = await client.renewalInfo(certificatePem);
    const { start, end } = suggestedWindow;
    renewAt = new Date(start.getTime() + Math.random() * (end.getTime() - start.getTime()));
  } finally {
    await tlsAlpn.stop();
    client.close();
  }
  // #endregion end-to-end
  return { renewAt };
}

/** The lines between the markers, dedented. */
function region(text: string, start: RegExp, end: RegExp): string {
  const lines = text.split('\n');
  const from = lines.findIndex((l) => start.test(l));
  const to = lines.findIndex((l, i) => i > from && end.test(l));
  assert.ok(from >= 0 && to > from, `markers ${start} … ${end} found`);
  const body = lines.slice(from + 1, to);
  const indent = Math.min(...body.filter((l) => l.trim()).map((l) => l.length - l.trimStart().length));
  return body
    .map((l) => l.slice(indent))
    .join('\n')
    .trim();
}

test('docs/client.md: the end-to-end example is this test’s code, and it issues and schedules a renewal', async () => {
  const doc = await readFile(DOC, 'utf8');
  const documented = region(doc, /^<!-- example: end-to-end/, /^```$/)
    .replace(/^```ts\n/, '')
    .split('\n')
    .filter((l) => !l.startsWith('import ') && !l.startsWith('//   '))
    .join('\n')
    .trim();
  const tested = region(
    await readFile(SELF, 'utf8'),
    /\/\/ #region end-to-end/,
    /\/\/ #endregion end-to-end/,
  );
  assert.equal(documented, tested);

  const secret = Buffer.from('doc-example-tsig-secret-01234567');
  const dns = await TestDnsServer.start({ tsig: { name: 'acme-update', algorithm: 'hmac-sha256', secret } });
  dns.setA('www.example.test', ['127.0.0.1']);
  const tlsPort = await freePort();
  const ca = await startTestCa({
    va: { tls_alpn01_port: tlsPort },
    dns: { resolvers: [`${dns.host}:${dns.port}`] },
  });
  const outDir = await mkdtemp(join(tmpdir(), 'akamu-doc-'));
  try {
    const { renewAt } = await endToEnd({
      directoryUrl: ca.directoryUrl,
      caBundle: ca.caBundle,
      dnsServer: `${dns.host}:${dns.port}`,
      tsigSecret: secret,
      tlsPort,
      outDir,
    });
    const pem = await readFile(join(outDir, 'cert.pem'), 'utf8');
    const leaf = new X509Certificate(pem);
    assert.equal(leaf.subjectAltName, 'DNS:www.example.test, DNS:*.example.test');
    const key = importPrivateKeyPem(await readFile(join(outDir, 'key.pem')));
    assert.ok(leaf.checkPrivateKey(key));
    assert.equal((await stat(join(outDir, 'key.pem'))).mode & 0o777, 0o600);
    assert.ok(renewAt > new Date(leaf.validFrom) && renewAt < new Date(leaf.validTo));
  } finally {
    await rm(outDir, { recursive: true, force: true });
    await ca.close();
    await dns.stop();
  }
});
