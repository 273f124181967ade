/**
 * Post-quantum end to end against the real server: ML-DSA account keys (JOSE ML-DSA draft) issuing
 * ML-DSA certificates through @akamu/client, key change EC -> ML-DSA -> EC, and a fully ML-DSA CA whose
 * certificates, CRL and OCSP responses are verified with node:crypto (OpenSSL 3.5).
 */
import assert from 'node:assert/strict';
import { verify, X509Certificate } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import tls from 'node:tls';
import { generateKey, type KeySpec } from '@akamu/client';
import { oid, sequence } from '@akamu/protocol';
import { AsnConvert } from '@peculiar/asn1-schema';
import * as x509 from '@peculiar/asn1-x509';
import { caKeyProblem } from '../../src/health.ts';
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

const ML_DSA_OID = {
  'ml-dsa-44': '2.16.840.1.101.3.4.3.17',
  'ml-dsa-65': '2.16.840.1.101.3.4.3.18',
  'ml-dsa-87': '2.16.840.1.101.3.4.3.19',
} as const;

describe('post-quantum: ML-DSA account keys on an EC CA', () => {
  let ca: TestCa;
  before(async () => {
    ca = await startTestCa();
  });
  after(() => ca.close());

  for (const spec of ['ml-dsa-44', 'ml-dsa-65', 'ml-dsa-87'] as const) {
    it(`an ${spec} account issues an ML-DSA certificate through @akamu/client`, async () => {
      const client = await ca.account(spec);
      const account = await client.getAccount();
      assert.equal(account.status, 'valid');
      const [leaf, issuer] = await issue(ca, client, `${spec}.pq.example.localhost`, generateKey(spec));
      assert.equal(leaf!.publicKey.asymmetricKeyType, spec);
      assert.ok(leaf!.verify(issuer!.publicKey));
      assert.equal(leaf!.subjectAltName, `DNS:${spec}.pq.example.localhost`);
      const ku = AsnConvert.parse(decodeExtension(leaf!, x509.id_ce_keyUsage), x509.KeyUsage);
      assert.equal(ku.toNumber(), x509.KeyUsageFlags.digitalSignature, 'digitalSignature only');
    });
  }

  it('key change EC -> ML-DSA-87 -> EC keeps the account, and each key issues in turn', async () => {
    const client = await ca.account('ec:P-256');
    const url = client.accountUrl;
    const keys: KeySpec[] = ['ml-dsa-87', 'ec:P-384'];
    for (const spec of keys) {
      await client.keyChange(generateKey(spec));
      assert.equal(client.accountUrl, url);
      assert.equal((await client.getAccount()).status, 'valid');
      // http-01 proves the server computes the key authorization with the new key's thumbprint.
      const [leaf] = await issue(
        ca,
        client,
        `kc-${spec.replace(':', '-')}.pq.example.localhost`,
        generateKey('ec:P-256'),
      );
      assert.equal(leaf!.publicKey.asymmetricKeyType, 'ec');
    }
  });

  it('refuses an ML-DSA CSR whose key is the account key', async () => {
    const client = await ca.account('ml-dsa-65');
    await assert.rejects(
      issue(ca, client, 'same-key.pq.example.localhost', client.accountKey),
      /badCSR|account key/,
    );
  });
});

function decodeExtension(cert: X509Certificate, extnID: string): ArrayBuffer {
  const parsed = AsnConvert.parse(cert.raw, x509.Certificate);
  const ext = parsed.tbsCertificate.extensions?.find((e) => e.extnID === extnID);
  assert.ok(ext, `extension ${extnID}`);
  return ext.extnValue.buffer;
}

describe('post-quantum: a fully ML-DSA-65 CA', () => {
  let ca: TestCa;
  before(async () => {
    ca = await startTestCa({
      ca: { key_type: 'ml-dsa-65' },
      crl: { include_in_certificates: true },
      ocsp: { include_in_certificates: true },
    });
  });
  after(() => ca.close());

  it('serves ACME over TLS 1.3 with an ML-DSA server certificate chaining to the ML-DSA root', async () => {
    const root = new X509Certificate(ca.caBundle);
    assert.equal(root.publicKey.asymmetricKeyType, 'ml-dsa-65');
    assert.ok(root.verify(root.publicKey));
    const url = new URL(ca.directoryUrl);
    const peer = await new Promise<{ protocol: string | null; cert: X509Certificate; authorized: boolean }>(
      (resolve, reject) => {
        const sock = tls.connect(
          {
            host: url.hostname,
            port: Number(url.port),
            ca: ca.caBundle,
            servername: 'localhost',
            timeout: 10_000,
          },
          () => {
            resolve({
              protocol: sock.getProtocol(),
              cert: sock.getPeerX509Certificate()!,
              authorized: sock.authorized,
            });
            sock.end();
          },
        );
        sock.on('error', reject);
      },
    );
    assert.equal(peer.authorized, true);
    assert.equal(peer.protocol, 'TLSv1.3');
    assert.equal(peer.cert.publicKey.asymmetricKeyType, 'ml-dsa-65');
    const r = await caRequest(ca, ca.directoryUrl);
    assert.equal(r.status, 200);
    // The readiness check signs with the ML-DSA issuing key and verifies with its certificate.
    assert.equal(caKeyProblem(ca.server.ca), undefined);
  });

  it('issues ML-DSA and ECDSA leaves; CRL and OCSP are signed with ML-DSA and verify with node:crypto', async () => {
    const client = await ca.account('ml-dsa-65');
    const root = new X509Certificate(ca.caBundle);
    const [mlLeaf, intermediate] = await issue(
      ca,
      client,
      'ml.pq.example.localhost',
      generateKey('ml-dsa-44'),
    );
    const [ecLeaf] = await issue(ca, client, 'ec.pq.example.localhost', generateKey('ec:P-256'));
    assert.equal(intermediate!.publicKey.asymmetricKeyType, 'ml-dsa-65');
    assert.ok(intermediate!.verify(root.publicKey), 'intermediate <- root');
    for (const leaf of [mlLeaf!, ecLeaf!]) {
      assert.ok(
        leaf.verify(intermediate!.publicKey),
        `${leaf.publicKey.asymmetricKeyType} leaf <- intermediate`,
      );
      assert.ok(leaf.checkIssued(intermediate!));
      assert.deepEqual(signedParts(leaf.raw).algorithm, sequence(oid(ML_DSA_OID['ml-dsa-65'])));
    }
    assert.equal(mlLeaf!.publicKey.asymmetricKeyType, 'ml-dsa-44');

    await client.revokeCertificate(mlLeaf!.raw, { reason: 4 });

    // The CRL: signed by the ML-DSA intermediate, lists the revoked serial.
    const crl = await caRequest(ca, '/ca/crl');
    assert.equal(crl.status, 200);
    const c = signedParts(crl.body);
    assert.deepEqual(c.algorithm, sequence(oid(ML_DSA_OID['ml-dsa-65'])));
    assert.ok(verify(null, c.tbs, intermediate!.publicKey, c.signature), 'CRL signature');
    const serials = crlSerials(crl.body);
    assert.ok(serials.includes(serialHex(mlLeaf!)), serials.join());

    // OCSP: the responder certificate is ML-DSA too, issued by the intermediate; the response verifies.
    const statusOf = async (leaf: X509Certificate) => {
      const res = await caRequest(ca, '/ca/ocsp', ocspRequest(leaf, intermediate!));
      assert.equal(res.status, 200);
      const answer = parseOcspAnswer(res.body);
      const b = answer.signed;
      const responder = new X509Certificate(answer.responderDer!);
      assert.equal(responder.publicKey.asymmetricKeyType, 'ml-dsa-65');
      assert.ok(responder.verify(intermediate!.publicKey), 'responder certificate <- intermediate');
      assert.deepEqual(b.algorithm, sequence(oid(ML_DSA_OID['ml-dsa-65'])));
      assert.ok(verify(null, b.tbs, responder.publicKey, b.signature), 'OCSP response signature');
      return answer.certStatusTag; // 0x80 good, 0xa1 revoked, 0x82 unknown
    };
    assert.equal(await statusOf(mlLeaf!), 0xa1, 'revoked');
    assert.equal(await statusOf(ecLeaf!), 0x80, 'good');
  });
});
