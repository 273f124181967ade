/**
 * The EXPERIMENTAL composite ML-DSA CA (ca.experimental_composite, draft-ietf-lamps-pq-composite-sigs) end
 * to end against the real server: ACME issuance with http-01, the chain, the CRL and OCSP responses all
 * checked with the composite verifier (node:crypto cannot verify composite signatures), readiness, the
 * admin API, a restart on the same data directory, the separate ec:P-256 TLS-only CA of the HTTPS
 * listener, and the configuration errors.
 */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { generateKey } from '@akamu/client';
import { oid, pemToDer, sequence } from '@akamu/protocol';
import { certificateSpki, compositeKeyTypeOf, verifyCompositeSigned } from '../../src/ca/composite.ts';
import { ConfigError, parseConfig } from '../../src/config.ts';
import { createServer } from '../../src/index.ts';
import { startTestCa, type TestCa } from '../helpers.ts';
import {
  caRequest,
  crlSerials,
  issue,
  ocspRequest,
  parseOcspAnswer,
  serialHex,
  signedParts,
} from './pq-support.ts';
import { tlsHandshake } from './tls-support.ts';

const TYPE = 'composite:ml-dsa-65+ecdsa-p256';
/** id-MLDSA65-ECDSA-P256-SHA512, AlgorithmIdentifier with absent parameters. */
const TYPE_ALGORITHM = sequence(oid('1.3.6.1.5.5.7.6.45'));
const GOOD = 0x80;
const REVOKED = 0xa1;

/** The downloaded chain [leaf, intermediate] verifies, link by link, up to the composite root. */
function assertCompositeChain(ca: TestCa, leaf: X509Certificate, intermediate: X509Certificate): void {
  const rootDer = pemToDer(ca.server.rootCertPem)[0]!;
  const rootSpki = certificateSpki(rootDer);
  const interSpki = certificateSpki(intermediate.raw);
  assert.equal(compositeKeyTypeOf(rootSpki), TYPE);
  assert.equal(compositeKeyTypeOf(interSpki), TYPE);
  assert.ok(intermediate.raw.equals(ca.server.ca.issuerCertDer), 'the chain is the CA intermediate');
  assert.ok(verifyCompositeSigned(rootDer, rootSpki), 'root self-signature');
  assert.ok(verifyCompositeSigned(intermediate.raw, rootSpki), 'intermediate <- root');
  assert.ok(verifyCompositeSigned(leaf.raw, interSpki), 'leaf <- intermediate');
  assert.ok(!verifyCompositeSigned(leaf.raw, rootSpki), 'the leaf is not signed by the root');
  assert.deepEqual(signedParts(leaf.raw).algorithm, TYPE_ALGORITHM);
}

describe('EXPERIMENTAL composite ML-DSA CA, end to end', () => {
  let ca: TestCa;
  let adminToken: string;
  const logs: Record<string, unknown>[] = [];
  let tokenFile: string;

  before(async () => {
    tokenFile = path.join(mkdtempSync(path.join(tmpdir(), 'akamu-composite-')), 'bootstrap.token');
    const stream = { write: (line: string) => logs.push(JSON.parse(line)) };
    ca = await startTestCa(
      {
        ca: { key_type: TYPE, experimental_composite: true },
        crl: { include_in_certificates: true },
        ocsp: { include_in_certificates: true },
        admin: { enabled: true, bootstrap_token_file: tokenFile },
      },
      { logger: { level: 'warn', stream } },
    );
    adminToken = readFileSync(tokenFile, 'utf8').trim();
  });
  after(async () => {
    await ca.close();
    rmSync(path.dirname(tokenFile), { recursive: true, force: true });
  });

  it('logs a loud EXPERIMENTAL warning at start', () => {
    const warning = logs.find((l) => String(l.msg).startsWith('EXPERIMENTAL CA'));
    assert.ok(warning, JSON.stringify(logs));
    assert.equal(warning.level, 40, 'warn');
    assert.match(String(warning.msg), /composite ML-DSA composite:ml-dsa-65\+ecdsa-p256/);
    assert.match(String(warning.msg), /No mainstream client, browser, OpenSSL release or TLS stack verifies/);
    assert.match(String(warning.msg), /separate ec:P-256 TLS CA .*tls-ca\/root\.pem/);
  });

  it('serves HTTPS with an ec:P-256 certificate from the separate TLS-only CA, kept in <data_dir>/tls-ca', async () => {
    const tlsCa = ca.server.tlsCa;
    assert.ok(tlsCa, 'a TLS-only CA');
    assert.equal(tlsCa.rootCertPath, path.join(ca.dataDir, 'tls-ca', 'root.pem'));
    const tlsRoot = new X509Certificate(readFileSync(tlsCa.rootCertPath, 'utf8'));
    assert.equal(tlsRoot.publicKey.asymmetricKeyType, 'ec');
    assert.equal(tlsRoot.subject, 'CN=akamu TLS Root CA');
    assert.equal(ca.caBundle, tlsRoot.toString(), 'the test clients trust the TLS root for HTTPS');

    const socket = await tlsHandshake(ca.directoryUrl, { ca: ca.caBundle });
    try {
      assert.equal(socket.authorized, true, String(socket.authorizationError));
      const peer = socket.getPeerX509Certificate()!;
      assert.equal(peer.publicKey.asymmetricKeyType, 'ec');
      assert.equal(peer.issuer, 'CN=akamu TLS Intermediate CA');
      assert.ok(peer.verify(new X509Certificate(tlsCa.issuerCertDer).publicKey));
    } finally {
      socket.end();
    }
    // The composite root is not a TLS trust anchor: a client that trusts only it fails the handshake.
    await assert.rejects(tlsHandshake(ca.directoryUrl, { ca: ca.server.rootCertPem }));
    // /ca/root.pem is the composite root ACME clients' certificates chain to.
    const served = await caRequest(ca, '/ca/root.pem');
    assert.equal(served.status, 200);
    assert.equal(compositeKeyTypeOf(certificateSpki(pemToDer(served.body.toString())[0]!)), TYPE);
  });

  it('is ready (the readiness check signs with the composite key) and the admin API says experimental', async () => {
    const ready = await caRequest(ca, '/readyz');
    assert.equal(ready.status, 200, ready.body.toString());
    assert.deepEqual(JSON.parse(ready.body.toString()), { status: 'ready' });

    const res = await ca.server.app.inject({
      method: 'GET',
      url: '/admin/ca',
      headers: { authorization: `Bearer ${adminToken}` },
    });
    assert.equal(res.statusCode, 200, res.body);
    const info = res.json();
    assert.equal(info.keyType, TYPE);
    assert.equal(info.experimental, true);
    assert.equal(info.externalSigner, true);
    assert.equal(info.chain.length, 1);
    assert.equal(info.chain[0].subject, 'CN=akamu Intermediate CA');
    assert.equal(info.root.subject, 'CN=akamu Root CA');
  });

  let revokedLeaf: X509Certificate;
  let goodLeaf: X509Certificate;
  let intermediate: X509Certificate;

  it('issues ECDSA and ML-DSA leaves through ACME (http-01); the chains verify with the composite verifier', async () => {
    const client = await ca.account('ec:P-256');
    const [ecLeaf, ecIntermediate] = await issue(
      ca,
      client,
      'ec.composite.example.localhost',
      generateKey('ec:P-256'),
    );
    const [mlLeaf, mlIntermediate] = await issue(
      ca,
      client,
      'ml.composite.example.localhost',
      generateKey('ml-dsa-44'),
    );
    assert.equal(ecLeaf!.subjectAltName, 'DNS:ec.composite.example.localhost');
    assert.equal(ecLeaf!.publicKey.asymmetricKeyType, 'ec');
    assert.equal(mlLeaf!.publicKey.asymmetricKeyType, 'ml-dsa-44');
    assertCompositeChain(ca, ecLeaf!, ecIntermediate!);
    assertCompositeChain(ca, mlLeaf!, mlIntermediate!);
    // node:crypto cannot verify them: the leaf's signature needs the composite verifier.
    assert.throws(() => ecLeaf!.verify(ecIntermediate!.publicKey));

    await client.revokeCertificate(mlLeaf!.raw, { reason: 4 });
    revokedLeaf = mlLeaf!;
    goodLeaf = ecLeaf!;
    intermediate = ecIntermediate!;
  });

  it('signs the CRL with the composite intermediate; it lists the revoked serial', async () => {
    const crl = await caRequest(ca, '/ca/crl');
    assert.equal(crl.status, 200);
    assert.deepEqual(signedParts(crl.body).algorithm, TYPE_ALGORITHM);
    assert.ok(verifyCompositeSigned(crl.body, certificateSpki(intermediate.raw)), 'CRL signature');
    const rootSpki = certificateSpki(pemToDer(ca.server.rootCertPem)[0]!);
    assert.ok(!verifyCompositeSigned(crl.body, rootSpki), 'not signed by the root');
    const serials = crlSerials(crl.body);
    assert.ok(serials.includes(serialHex(revokedLeaf)), serials.join());
    assert.ok(!serials.includes(serialHex(goodLeaf)));
  });

  it('answers OCSP through a composite delegated responder certificate; responses verify', async () => {
    const statusOf = async (leaf: X509Certificate) => {
      const res = await caRequest(ca, '/ca/ocsp', ocspRequest(leaf, intermediate));
      assert.equal(res.status, 200);
      const answer = parseOcspAnswer(res.body);
      assert.ok(answer.responderDer, 'a delegated responder certificate');
      const responderSpki = certificateSpki(answer.responderDer);
      assert.equal(compositeKeyTypeOf(responderSpki), TYPE, 'the responder key is composite too');
      assert.ok(
        verifyCompositeSigned(answer.responderDer, certificateSpki(intermediate.raw)),
        'responder certificate <- intermediate',
      );
      assert.deepEqual(answer.signed.algorithm, TYPE_ALGORITHM);
      assert.ok(verifyCompositeSigned(answer.basic, responderSpki), 'OCSP response signature');
      assert.ok(!verifyCompositeSigned(answer.basic, certificateSpki(intermediate.raw)));
      return answer.certStatusTag;
    };
    assert.equal(await statusOf(revokedLeaf), REVOKED);
    assert.equal(await statusOf(goodLeaf), GOOD);
  });

  it('restarts on the same data directory with the same CA and TLS CA, and issues again', async () => {
    const before = {
      root: ca.server.rootCertPem,
      intermediate: ca.server.ca.issuerCertDer,
      tlsRoot: ca.server.tlsCa!.rootCertDer!,
    };
    await ca.restart();
    assert.equal(ca.server.ca.generated, false, 'loaded, not generated');
    assert.equal(ca.server.rootCertPem, before.root);
    assert.ok(ca.server.ca.issuerCertDer.equals(before.intermediate));
    assert.ok(ca.server.tlsCa!.rootCertDer!.equals(before.tlsRoot), 'the same TLS-only root');

    const client = await ca.account('ml-dsa-65');
    const [leaf, inter] = await issue(
      ca,
      client,
      'again.composite.example.localhost',
      generateKey('ec:P-384'),
    );
    assertCompositeChain(ca, leaf!, inter!);
    assert.ok(verifyCompositeSigned(leaf!.raw, certificateSpki(before.intermediate)), 'by the reloaded key');
    // The revocation made before the restart is still served, signed by the reloaded key.
    const crl = await caRequest(ca, '/ca/crl');
    assert.ok(verifyCompositeSigned(crl.body, certificateSpki(before.intermediate)));
    assert.ok(crlSerials(crl.body).includes(serialHex(revokedLeaf)));
    assert.equal((await caRequest(ca, '/readyz')).status, 200);
  });

  it('refuses to start on that composite CA without ca.experimental_composite', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'akamu-composite-copy-'));
    try {
      cpSync(path.join(ca.dataDir, 'ca'), path.join(dir, 'ca'), { recursive: true });
      await assert.rejects(
        createServer({
          data_dir: dir,
          database: { url: 'sqlite::memory:' },
          server: { port: 0, log_level: 'silent' },
        }),
        (err: Error) =>
          err instanceof ConfigError &&
          /ca\.experimental_composite: .*EXPERIMENTAL composite ML-DSA key \(composite:ml-dsa-65\+ecdsa-p256\); set ca\.experimental_composite = true/.test(
            err.message,
          ),
      );
      assert.ok(!existsSync(path.join(dir, 'tls-ca')), 'no TLS CA was made');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('EXPERIMENTAL composite ML-DSA CA behind plain HTTP, OCSP signed by the CA itself', () => {
  let ca: TestCa;
  before(async () => {
    ca = await startTestCa({
      ca: { key_type: 'composite:ml-dsa-44+ecdsa-p256', experimental_composite: true },
      tls: { mode: 'off' },
      ocsp: { responder: 'ca' },
    });
  });
  after(() => ca.close());

  it('makes no TLS-only CA, issues over HTTP, and its OCSP responses verify under the intermediate', async () => {
    assert.equal(ca.server.tlsCa, undefined);
    assert.ok(!existsSync(path.join(ca.dataDir, 'tls-ca')));
    assert.match(ca.directoryUrl, /^http:\/\//);
    const client = await ca.account('ec:P-256');
    const [leaf, intermediate] = await issue(
      ca,
      client,
      'plain.composite.example.localhost',
      generateKey('ec:P-256'),
    );
    const interSpki = certificateSpki(intermediate!.raw);
    assert.equal(compositeKeyTypeOf(interSpki), 'composite:ml-dsa-44+ecdsa-p256');
    assert.ok(verifyCompositeSigned(leaf!.raw, interSpki));

    const res = await ca.server.app.inject({
      method: 'POST',
      url: '/ca/ocsp',
      headers: { 'content-type': 'application/ocsp-request' },
      payload: ocspRequest(leaf!, intermediate!),
    });
    assert.equal(res.statusCode, 200);
    const answer = parseOcspAnswer(res.rawPayload);
    assert.equal(answer.responderDer, undefined, 'signed by the CA, no responder certificate');
    assert.deepEqual(answer.signed.algorithm, sequence(oid('1.3.6.1.5.5.7.6.40')));
    assert.ok(verifyCompositeSigned(answer.basic, interSpki), 'OCSP response <- intermediate');
    assert.equal(answer.certStatusTag, GOOD);
  });
});

describe('ca.experimental_composite configuration', () => {
  it('a composite ca.key_type without the flag is a configuration error naming the key and the flag', async () => {
    for (const key_type of ['composite:ml-dsa-65+ecdsa-p256', 'composite:ml-dsa-87+ecdsa-p384']) {
      assert.throws(
        () => parseConfig({ ca: { key_type } }),
        (err: Error) =>
          err instanceof ConfigError &&
          err.message.includes(
            `ca.key_type: "${key_type}" is an EXPERIMENTAL composite ML-DSA key type that no mainstream client verifies; set ca.experimental_composite = true to use it`,
          ),
      );
    }
    // createServer validates first: nothing is created.
    const dir = path.join(tmpdir(), `akamu-unused-${process.pid}-${Date.now()}`);
    await assert.rejects(
      createServer({ data_dir: dir, ca: { key_type: TYPE } }),
      /ca\.key_type: .*set ca\.experimental_composite = true/,
    );
    assert.ok(!existsSync(dir));
  });

  it('the flag allows every composite type, and alone changes nothing; unknown types still list the choices', () => {
    for (const key_type of [
      'composite:ml-dsa-44+ecdsa-p256',
      'composite:ml-dsa-65+ecdsa-p256',
      'composite:ml-dsa-65+ecdsa-p384',
      'composite:ml-dsa-65+ed25519',
      'composite:ml-dsa-87+ecdsa-p384',
    ]) {
      assert.equal(parseConfig({ ca: { key_type, experimental_composite: true } }).ca.key_type, key_type);
    }
    const plain = parseConfig({ ca: { experimental_composite: true } });
    assert.equal(plain.ca.key_type, 'ec:P-256');
    assert.equal(parseConfig({}).ca.experimental_composite, false);
    assert.throws(
      () => parseConfig({ ca: { key_type: 'composite:ml-dsa-44+rsa-2048', experimental_composite: true } }),
      /ca\.key_type: .*composite:ml-dsa-65\+ed25519/,
    );
  });
});
