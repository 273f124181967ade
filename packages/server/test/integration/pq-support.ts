/**
 * Shared by the post-quantum and composite CA tests: raw requests to the CA's CRL and OCSP endpoints, and
 * the DER pieces of what they answer, so each signature can be checked with its own verifier.
 */
import { createHash, type KeyObject, X509Certificate } from 'node:crypto';
import https from 'node:https';
import { type AcmeClient, createCsr, obtainCertificate } from '@akamu/client';
import {
  contentOf,
  integer,
  NULL,
  octetString,
  oid,
  pemToDer,
  rawOf,
  readChildren,
  readWhole,
  sequence,
  TAG,
  type Tlv,
} from '@akamu/protocol';
import { AsnConvert } from '@peculiar/asn1-schema';
import * as x509 from '@peculiar/asn1-x509';
import type { TestCa } from '../helpers.ts';

/** Orders a certificate for one DNS name (http-01 through the test CA's solver); the chain, leaf first. */
export async function issue(ca: TestCa, client: AcmeClient, name: string, certificateKey: KeyObject) {
  const { certificatePem } = await obtainCertificate(client, {
    identifiers: [{ type: 'dns', value: name }],
    solvers: [ca.solver],
    certificateKey,
    csr: createCsr({ key: certificateKey, dnsNames: [name] }),
  });
  return pemToDer(certificatePem).map((d) => new X509Certificate(d));
}

/** [tbs, signatureAlgorithm, signature] of a signed SEQUENCE (Certificate, CertificateList, BasicOCSPResponse). */
export function signedParts(der: Buffer): { tbs: Buffer; algorithm: Buffer; signature: Buffer; rest: Tlv[] } {
  const outer = readWhole(der, TAG.SEQUENCE, 'signed');
  const [tbs, alg, sig, ...rest] = readChildren(der, outer) as [Tlv, Tlv, Tlv, ...Tlv[]];
  return {
    tbs: rawOf(der, tbs),
    algorithm: rawOf(der, alg),
    signature: contentOf(der, sig).subarray(1),
    rest,
  };
}

/** A GET (or, with a body, an OCSP POST) to the test CA over HTTPS, trusting its caBundle. */
export function caRequest(
  ca: TestCa,
  path: string,
  body?: Buffer,
): Promise<{ status: number; body: Buffer }> {
  const url = new URL(path, ca.directoryUrl);
  return new Promise((resolve, reject) => {
    const req = https.request(
      url,
      {
        method: body ? 'POST' : 'GET',
        ca: ca.caBundle,
        timeout: 10_000,
        headers: body ? { 'content-type': 'application/ocsp-request' } : {},
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode!, body: Buffer.concat(chunks) }));
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end(body);
  });
}

/** An OCSPRequest for one certificate (RFC 6960 §4.1.1), CertID with SHA-1. */
export function ocspRequest(leaf: X509Certificate, issuer: X509Certificate): Buffer {
  const issuerCert = AsnConvert.parse(issuer.raw, x509.Certificate);
  const nameDer = Buffer.from(AsnConvert.serialize(issuerCert.tbsCertificate.subject));
  const keyBits = Buffer.from(issuerCert.tbsCertificate.subjectPublicKeyInfo.subjectPublicKey);
  const sha1 = (b: Buffer) => createHash('sha1').update(b).digest();
  const certId = sequence(
    sequence(oid('1.3.14.3.2.26'), NULL),
    octetString(sha1(nameDer)),
    octetString(sha1(keyBits)),
    integer(Buffer.from(leaf.serialNumber, 'hex')),
  );
  return sequence(sequence(sequence(sequence(certId))));
}

export interface OcspAnswer {
  /** The BasicOCSPResponse DER and its signed parts. */
  basic: Buffer;
  signed: ReturnType<typeof signedParts>;
  /** The delegated responder certificate (DER), when the response carries one. */
  responderDer: Buffer | undefined;
  /** The first SingleResponse's certStatus tag: 0x80 good, 0xa1 revoked, 0x82 unknown. */
  certStatusTag: number;
}

/** Takes a successful OCSPResponse apart; fails when its status is not successful. */
export function parseOcspAnswer(der: Buffer): OcspAnswer {
  const top = readChildren(der, readWhole(der, TAG.SEQUENCE));
  if (contentOf(der, top[0]!)[0] !== 0) throw new Error('the OCSP response status is not successful');
  const responseBytes = readChildren(der, readChildren(der, top[1]!)[0]!);
  const basic = contentOf(der, responseBytes[1]!);
  const signed = signedParts(basic);
  const certs = signed.rest[0] && readChildren(basic, readChildren(basic, signed.rest[0])[0]!);
  // tbsResponseData { [2] responderID, producedAt, responses { SingleResponse { certID, certStatus ... } } }
  const fields = readChildren(signed.tbs, readWhole(signed.tbs, TAG.SEQUENCE));
  const responses = fields.find((f) => f.tag === TAG.SEQUENCE)!;
  const single = readChildren(signed.tbs, readChildren(signed.tbs, responses)[0]!);
  return {
    basic,
    signed,
    responderDer: certs?.[0] && rawOf(basic, certs[0]),
    certStatusTag: single[1]!.tag,
  };
}

/** The revoked serials (lower-case hex, no leading zero byte) a CRL lists. */
export function crlSerials(crlDer: Buffer): string[] {
  const list = AsnConvert.parse(crlDer, x509.CertificateList);
  return (list.tbsCertList.revokedCertificates ?? []).map((e) =>
    Buffer.from(e.userCertificate).toString('hex').replace(/^00/, ''),
  );
}

/** A certificate's serial as crlSerials spells it. */
export function serialHex(cert: X509Certificate): string {
  return cert.serialNumber.toLowerCase().replace(/^00/, '');
}
