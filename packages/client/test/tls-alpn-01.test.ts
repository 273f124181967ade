/** TlsAlpn01Solver (RFC 8737, RFC 8738 §6) against real TLS handshakes from node:tls. */
import assert from 'node:assert/strict';
import { createHash, X509Certificate } from 'node:crypto';
import { createConnection } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { connect } from 'node:tls';
import { AsnConvert, OctetString } from '@peculiar/asn1-schema';
import { Certificate, SubjectAlternativeName } from '@peculiar/asn1-x509';
import {
  ACME_TLS_ALPN,
  OID_ACME_IDENTIFIER,
  reverseDnsName,
  TlsAlpn01Solver,
  tlsAlpn01ServerName,
} from '../src/index.ts';

const CHALLENGE = {
  type: 'tls-alpn-01',
  url: 'https://ca.example/chall/1',
  status: 'pending',
  token: 'tok',
} as const;

/** Handshakes with the solver; resolves with the certificate and ALPN, or rejects with the TLS error. */
function handshake(port: number, servername: string | undefined, alpn: string[] | undefined) {
  return new Promise<{ der: Buffer; alpn: string | false | null }>((resolve, reject) => {
    const socket = connect(
      { host: '127.0.0.1', port, servername, ALPNProtocols: alpn, rejectUnauthorized: false, timeout: 5000 },
      () => {
        const der = socket.getPeerX509Certificate()!.raw;
        const negotiated = socket.alpnProtocol;
        socket.end();
        resolve({ der, alpn: negotiated });
      },
    );
    socket.on('error', reject);
    socket.on('timeout', () => socket.destroy(new Error('timeout')));
  });
}

/** The decoded certificate: SANs, and the acmeIdentifier extension with its criticality. */
function inspect(der: Buffer) {
  const cert = AsnConvert.parse(der, Certificate);
  const extensions = cert.tbsCertificate.extensions ?? [];
  const acme = extensions.find((e) => e.extnID === OID_ACME_IDENTIFIER);
  const sanExt = extensions.filter((e) => e.extnID === '2.5.29.17');
  assert.equal(sanExt.length, 1, 'exactly one subjectAltName extension');
  const san = AsnConvert.parse(sanExt[0]!.extnValue, SubjectAlternativeName);
  assert.ok(acme, 'acmeIdentifier extension present');
  const digest = Buffer.from(AsnConvert.parse(acme.extnValue, OctetString).buffer);
  return { san, acmeCritical: acme.critical, digest };
}

describe('TlsAlpn01Solver', () => {
  const solver = new TlsAlpn01Solver({ port: 0, host: '127.0.0.1' });
  before(() => solver.start());
  after(() => solver.stop());

  test('answers acme-tls/1 for a DNS name with one dNSName SAN and a critical acmeIdentifier = SHA-256(keyAuthorization)', async () => {
    const keyAuthorization = 'tok.thumbprint';
    await solver.present({ type: 'dns', value: 'WWW.Example.test' }, CHALLENGE, keyAuthorization);
    try {
      const { der, alpn } = await handshake(solver.port, 'www.example.test', [ACME_TLS_ALPN]);
      assert.equal(alpn, ACME_TLS_ALPN);
      const { san, acmeCritical, digest } = inspect(der);
      assert.equal(san.length, 1);
      assert.equal(san[0]!.dNSName, 'www.example.test');
      assert.equal(acmeCritical, true);
      assert.deepEqual(digest, createHash('sha256').update(keyAuthorization).digest());
      const x509 = new X509Certificate(der);
      assert.ok(x509.verify(x509.publicKey), 'self-signed');
      assert.ok(new Date(x509.validFrom) <= new Date() && new Date() < new Date(x509.validTo));
    } finally {
      await solver.cleanup({ type: 'dns', value: 'WWW.Example.test' }, CHALLENGE, keyAuthorization);
    }
    await assert.rejects(
      handshake(solver.port, 'www.example.test', [ACME_TLS_ALPN]),
      /no application protocol/,
    );
  });

  test('IP identifiers: SNI is the reverse-DNS name (RFC 8738 §6), the SAN an iPAddress; no SNI uses the local address', async () => {
    for (const ip of ['127.0.0.1', '::1']) {
      assert.equal(tlsAlpn01ServerName({ type: 'ip', value: ip }), reverseDnsName(ip));
    }
    assert.equal(reverseDnsName('192.0.2.7'), '7.2.0.192.in-addr.arpa');
    assert.equal(
      reverseDnsName('2001:db8::1'),
      '1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa',
    );
    const id = { type: 'ip', value: '127.0.0.1' };
    await solver.present(id, CHALLENGE, 'tok.ip');
    try {
      for (const servername of ['1.0.0.127.in-addr.arpa', undefined]) {
        const { der, alpn } = await handshake(solver.port, servername, [ACME_TLS_ALPN]);
        assert.equal(alpn, ACME_TLS_ALPN);
        const { san, digest } = inspect(der);
        assert.equal(san.length, 1);
        assert.equal(san[0]!.iPAddress, '127.0.0.1');
        assert.equal(new X509Certificate(der).subjectAltName, 'IP Address:127.0.0.1');
        assert.deepEqual(digest, createHash('sha256').update('tok.ip').digest());
      }
    } finally {
      await solver.cleanup(id, CHALLENGE, 'tok.ip');
    }
  });

  test('refuses handshakes without acme-tls/1, for unknown names, and wildcard identifiers', async () => {
    await solver.present({ type: 'dns', value: 'a.example.test' }, CHALLENGE, 'tok.a');
    try {
      await assert.rejects(
        handshake(solver.port, 'a.example.test', ['h2', 'http/1.1']),
        /no application protocol/,
      );
      await assert.rejects(handshake(solver.port, 'a.example.test', undefined));
      await assert.rejects(
        handshake(solver.port, 'b.example.test', [ACME_TLS_ALPN]),
        /no application protocol/,
      );
    } finally {
      await solver.cleanup({ type: 'dns', value: 'a.example.test' }, CHALLENGE, 'tok.a');
    }
    await assert.rejects(solver.present({ type: 'dns', value: '*.example.test' }, CHALLENGE, 'x'), TypeError);
  });

  test('a name presented twice stays served until cleaned up twice', async () => {
    const id = { type: 'dns', value: 'twice.example.test' };
    await solver.present(id, CHALLENGE, 'tok.2');
    await solver.present(id, CHALLENGE, 'tok.2');
    await solver.cleanup(id, CHALLENGE, 'tok.2');
    assert.equal((await handshake(solver.port, 'twice.example.test', [ACME_TLS_ALPN])).alpn, ACME_TLS_ALPN);
    await solver.cleanup(id, CHALLENGE, 'tok.2');
    await assert.rejects(handshake(solver.port, 'twice.example.test', [ACME_TLS_ALPN]));
  });

  test('stop closes connections still in their handshake', { timeout: 5_000 }, async () => {
    const other = new TlsAlpn01Solver({ port: 0, host: '127.0.0.1' });
    await other.start();
    const idle = createConnection({ host: '127.0.0.1', port: other.port });
    await new Promise((resolve) => idle.once('connect', resolve));
    const closed = new Promise((resolve) => idle.once('close', resolve));
    await other.stop();
    await closed;
    assert.equal(other.listening, false);
  });

  test('present before start throws; start fails when the port is taken', async () => {
    const idle = new TlsAlpn01Solver({ port: 0 });
    await assert.rejects(idle.present({ type: 'dns', value: 'x.test' }, CHALLENGE, 'k'), /not started/);
    const clash = new TlsAlpn01Solver({ port: solver.port, host: '127.0.0.1' });
    await assert.rejects(clash.start(), /EADDRINUSE/);
    assert.equal(clash.listening, false);
  });
});
