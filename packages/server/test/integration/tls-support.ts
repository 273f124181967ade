/**
 * A small PKI for the TLS tests, built with akamu's own CA code (src/ca): roots, intermediates and client
 * certificates with chosen keys and validity; and real TLS/HTTPS/HTTP2 clients for loopback handshakes.
 */
import { generateKeyPairSync, type KeyObject, type X509Certificate } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import https from 'node:https';
import { type ConnectionOptions, type TLSSocket, connect as tlsConnect } from 'node:tls';
import { derToPem } from '@akamu/protocol';
import {
  CertificateIssuer,
  createSelfSignedCa,
  EKU_CLIENT_AUTH,
  newSerial,
} from '../../src/ca/certificate-issuer.ts';
import { generateKeyPair, type KeyType } from '../../src/ca/key-type.ts';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

export interface Issued {
  key: KeyObject;
  der: Buffer;
  pem: string;
  /** PKCS#8 PEM of the private key. */
  keyPem: string;
  /** This certificate followed by its issuers up to (not including) the root. */
  chainPem: string;
}

function keyPemOf(key: KeyObject): string {
  return key.export({ type: 'pkcs8', format: 'pem' }) as string;
}

export function makeRoot(name: string, keyType: KeyType = 'ec:P-256'): Issued {
  const { privateKey } = generateKeyPair(keyType);
  const der = createSelfSignedCa({
    privateKey,
    commonName: name,
    serial: newSerial(),
    notBefore: new Date(Date.now() - HOUR),
    notAfter: new Date(Date.now() + 365 * DAY),
  });
  const pem = derToPem(der);
  return { key: privateKey, der, pem, keyPem: keyPemOf(privateKey), chainPem: '' };
}

export function makeIntermediate(parent: Issued, name: string): Issued {
  const { privateKey, publicKey } = generateKeyPair('ec:P-256');
  const der = new CertificateIssuer({ issuerKey: parent.key, issuerCertDer: parent.der }).issueCa({
    serial: newSerial(),
    spki: publicKey.export({ type: 'spki', format: 'der' }),
    commonName: name,
    notBefore: new Date(Date.now() - HOUR),
    notAfter: new Date(Date.now() + 180 * DAY),
  });
  const pem = derToPem(der);
  return { key: privateKey, der, pem, keyPem: keyPemOf(privateKey), chainPem: pem + parent.chainPem };
}

export interface ClientCertOptions {
  commonName?: string;
  dnsNames?: string[];
  /** 'rsa-1024' builds a weak RSA key; otherwise a CA key type ('ec:P-256', 'ml-dsa-65', …). */
  keyType?: KeyType | 'rsa-1024';
  notBefore?: Date;
  notAfter?: Date;
  extendedKeyUsages?: string[];
}

export function makeClient(parent: Issued, o: ClientCertOptions = {}): Issued {
  const pair =
    o.keyType === 'rsa-1024'
      ? generateKeyPairSync('rsa', { modulusLength: 1024 })
      : generateKeyPair(o.keyType ?? 'ec:P-256');
  const der = new CertificateIssuer({ issuerKey: parent.key, issuerCertDer: parent.der }).issue({
    serial: newSerial(),
    spki: pair.publicKey.export({ type: 'spki', format: 'der' }),
    commonName: o.commonName ?? 'operator',
    dnsNames: o.dnsNames ?? ['operator.example.test'],
    ipAddresses: [],
    notBefore: o.notBefore ?? new Date(Date.now() - HOUR),
    notAfter: o.notAfter ?? new Date(Date.now() + 30 * DAY),
    extendedKeyUsages: o.extendedKeyUsages ?? [EKU_CLIENT_AUTH],
  });
  const pem = derToPem(der);
  return {
    key: pair.privateKey,
    der,
    pem,
    keyPem: keyPemOf(pair.privateKey),
    chainPem: pem + parent.chainPem,
  };
}

export function writePem(file: string, pem: string): string {
  writeFileSync(file, pem, { mode: 0o600 });
  return file;
}

export interface HttpsResult {
  status: number;
  body: string;
  json: () => Record<string, unknown>;
  peerCertificate: X509Certificate;
  protocol: string | null;
  alpn: string | false | null;
}

/** One HTTPS/1.1 request on a fresh connection (no keep-alive agent), with an optional client certificate. */
export function httpsGet(
  url: string,
  o: {
    ca: string;
    client?: Issued;
    headers?: Record<string, string>;
    timeoutMs?: number;
    localAddress?: string;
    /** OpenSSL cipher string of the client, e.g. "DEFAULT@SECLEVEL=0" to load a weak key. */
    ciphers?: string;
  } = { ca: '' },
): Promise<HttpsResult> {
  return new Promise((resolve, reject) => {
    const req = https.get(
      url,
      {
        ca: o.ca,
        agent: false,
        headers: o.headers,
        ...(o.localAddress ? { localAddress: o.localAddress } : {}),
        ...(o.ciphers ? { ciphers: o.ciphers } : {}),
        timeout: o.timeoutMs ?? 10_000,
        ...(o.client ? { key: o.client.keyPem, cert: o.client.chainPem } : {}),
      },
      (res) => {
        const socket = res.socket as TLSSocket;
        const peer = socket.getPeerX509Certificate()!;
        const protocol = socket.getProtocol();
        const alpn = socket.alpnProtocol;
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => {
          body += c;
          if (body.length > 1_000_000) req.destroy(new Error('body too large'));
        });
        res.on('end', () =>
          resolve({
            status: res.statusCode!,
            body,
            json: () => JSON.parse(body) as Record<string, unknown>,
            peerCertificate: peer,
            protocol,
            alpn,
          }),
        );
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

/** A raw TLS handshake to a URL's host and port; resolves with the connected socket (caller ends it). */
export function tlsHandshake(url: string, o: ConnectionOptions & { timeoutMs?: number }): Promise<TLSSocket> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ host: u.hostname, port: Number(u.port), servername: 'localhost', ...o }, () =>
      resolve(socket),
    );
    socket.setTimeout(o.timeoutMs ?? 10_000, () => socket.destroy(new Error('handshake timeout')));
    socket.once('error', reject);
  });
}
