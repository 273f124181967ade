import assert from 'node:assert/strict';
import { createHash, createPublicKey, generateKeyPairSync, X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  explicit,
  integer,
  NULL,
  octetString,
  oid,
  readChildren,
  readWhole,
  sequence,
  TAG,
} from '@akamu/protocol';
import { AsnConvert } from '@peculiar/asn1-schema';
import * as x509 from '@peculiar/asn1-x509';
import type { Kysely } from 'kysely';
import { CertificateIssuer, createSelfSignedCa, newSerial } from '../../src/ca/certificate-issuer.ts';
import { CrlSigner } from '../../src/ca/crl.ts';
import { FakeClock } from '../../src/clock.ts';
import { ConfigError } from '../../src/config.ts';
import { CrlService, FULL_CRL } from '../../src/revocation/crl-service.ts';
import { OcspResponder, type OcspResponderOptions } from '../../src/revocation/ocsp-responder.ts';
import { RevocationUrls } from '../../src/revocation/revocation-urls.ts';
import { migrateToLatest, openDatabase } from '../../src/sa/database.ts';
import { SqlStorageAuthority } from '../../src/sa/sql-storage-authority.ts';
import type { Database } from '../../src/sa/tables.ts';

/**
 * The CRL and OCSP services over real SQLite storage with a clock the test moves: CRL numbers and
 * rebuilds, shards, response caching and re-signing, invalidation at revocation, responder renewal.
 */
const DAY = 86_400_000;
const HOUR = 3_600_000;

const rootKey = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
const issuerKey = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
const t0 = Date.parse('2026-11-23T12:00:00Z');
const rootDer = createSelfSignedCa({
  privateKey: rootKey,
  commonName: 'Root',
  serial: newSerial(),
  notBefore: new Date(t0 - DAY),
  notAfter: new Date(t0 + 365 * DAY),
});
const issuerCertDer = new CertificateIssuer({ issuerKey: rootKey, issuerCertDer: rootDer }).issueCa({
  serial: newSerial(),
  spki: createPublicKey(issuerKey).export({ type: 'spki', format: 'der' }),
  commonName: 'Intermediate',
  notBefore: new Date(t0 - DAY),
  notAfter: new Date(t0 + 300 * DAY),
});
const issuer = new CertificateIssuer({ issuerKey, issuerCertDer });
const issuerSpki = createPublicKey(issuerKey).export({ type: 'spki', format: 'der' });

let dir: string;
let sa: SqlStorageAuthority;
let db: Kysely<Database>;
let n = 0;

before(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'akamu-revsvc-'));
  const opened = openDatabase(`sqlite:${path.join(dir, 'akamu.db')}`);
  await migrateToLatest(opened.db, opened.dialect);
  sa = new SqlStorageAuthority(opened.db, { dialect: opened.dialect });
  db = opened.db;
});
after(async () => {
  await sa.close();
  rmSync(dir, { recursive: true, force: true });
});

/** A certificate row (the CRL and OCSP only read serial, validity and revocation). */
async function addCertificate(serial: string, notAfter = t0 + 90 * DAY): Promise<string> {
  const id = `c${n++}`;
  await db
    .insertInto('certificates')
    .values({
      id,
      serial,
      account_id: 'a',
      order_id: `o${id}`,
      pem: '',
      not_before: t0 - DAY,
      not_after: notAfter,
      status: 'valid',
      revoked_at: null,
      revocation_reason: null,
      created_at: t0,
    })
    .execute();
  return id;
}

const serialsOf = (der: Buffer) =>
  (AsnConvert.parse(der, x509.CertificateList).tbsCertList.revokedCertificates ?? []).map((r) =>
    Buffer.from(r.userCertificate).toString('hex'),
  );
const numberOf = (der: Buffer) => {
  const ext = AsnConvert.parse(der, x509.CertificateList).tbsCertList.crlExtensions!.find(
    (e) => e.extnID === '2.5.29.20',
  )!;
  return AsnConvert.parse(ext.extnValue, x509.CRLNumber).value;
};
const tick = () => new Promise((r) => setTimeout(r, 20));

describe('CrlService', () => {
  const clock = new FakeClock(t0);
  const signer = new CrlSigner({
    issuerName: issuer.issuerName,
    authorityKeyId: issuer.authorityKeyId,
    key: issuerKey,
  });
  const service = (shards = 1) =>
    new CrlService({
      sa,
      signer,
      clock,
      lifetimeMs: DAY,
      refreshMs: HOUR,
      shards,
      shardUrl: (i) => `http://crl.example/${i}`,
      onError: (err) => assert.fail(String(err)),
    });

  it('serves one build until a revocation, then a new CRL number listing it', async () => {
    const s = service();
    const id = await addCertificate('51');
    const first = (await s.get(FULL_CRL))!;
    assert.equal(first.crlNumber, numberOf(first.der));
    assert.equal((await s.get(FULL_CRL))!.der, first.der, 'served from memory');
    await sa.revokeCertificate(id, 1, clock.now());
    s.revoked();
    const second = (await s.get(FULL_CRL))!;
    assert.ok(second.crlNumber > first.crlNumber);
    assert.ok(serialsOf(second.der).includes('51'));
    await s.stop();
  });

  it('rebuilds in the background after refresh, serving the previous CRL meanwhile, and never past nextUpdate', async () => {
    const s = service();
    const first = (await s.get(FULL_CRL))!;
    clock.advance(HOUR + 1000);
    const stale = (await s.get(FULL_CRL))!;
    assert.equal(stale.der, first.der, 'the previous CRL while the new one is built');
    await tick();
    const fresh = (await s.get(FULL_CRL))!;
    assert.ok(fresh.crlNumber > first.crlNumber);
    assert.equal(fresh.thisUpdate, Math.floor(clock.now() / 1000) * 1000);
    clock.advance(DAY + 1000); // past nextUpdate: the request waits for a new build
    const next = (await s.get(FULL_CRL))!;
    assert.ok(next.nextUpdate > clock.now());
    await s.stop();
  });

  it('drops an entry once a CRL issued after the certificate expired has listed it', async () => {
    const s = service();
    const id = await addCertificate('52', clock.now() + HOUR);
    await sa.revokeCertificate(id, 0, clock.now());
    s.revoked();
    assert.ok(serialsOf((await s.get(FULL_CRL))!.der).includes('52'));
    clock.advance(2 * HOUR); // expired, but within one lifetime after notAfter: still listed
    s.revoked();
    assert.ok(serialsOf((await s.get(FULL_CRL))!.der).includes('52'));
    clock.advance(DAY);
    s.revoked();
    assert.ok(!serialsOf((await s.get(FULL_CRL))!.der).includes('52'));
    await s.stop();
  });

  it('partitions entries over shards by serial, each shard with its own CRL number', async () => {
    const s = service(4);
    const serials = ['6000000a', '6000000b', '6000000c', '6000000d', '6000000e'];
    for (const serial of serials) await sa.revokeCertificate(await addCertificate(serial), 4, clock.now());
    s.revoked();
    const full = serialsOf((await s.get(FULL_CRL))!.der);
    for (const serial of serials) assert.ok(full.includes(serial));
    for (let i = 0; i < 4; i++) {
      const shard = (await s.get(i))!;
      const listed = serialsOf(shard.der).filter((x) => serials.includes(x));
      assert.deepEqual(
        listed,
        serials.filter((x) => Number.parseInt(x, 16) % 4 === i),
        `shard ${i}`,
      );
    }
    assert.equal(await s.get(4), undefined);
    assert.equal(await s.get(-1), undefined);
    assert.equal(await service(1).get(0), undefined, 'no shards without crl.shards');
    await s.stop();
  });

  it('refuses a refresh that is not shorter than the lifetime', () => {
    assert.throws(
      () =>
        new CrlService({
          sa,
          signer,
          clock,
          lifetimeMs: HOUR,
          refreshMs: HOUR,
          shards: 1,
          shardUrl: () => undefined,
          onError: () => {},
        }),
      ConfigError,
    );
  });
});

describe('OcspResponder', () => {
  const keyBits = (() => {
    const t = readWhole(issuerSpki, TAG.SEQUENCE, 'spki');
    const bits = readChildren(issuerSpki, t)[1]!;
    return issuerSpki.subarray(bits.contentStart + 1, bits.end);
  })();
  const sha1 = (b: Buffer) => createHash('sha1').update(b).digest();
  const certId = (serialHex: string) =>
    sequence(
      sequence(oid('1.3.14.3.2.26'), NULL),
      octetString(sha1(issuer.issuerName)),
      octetString(sha1(keyBits)),
      integer(Buffer.from(serialHex, 'hex')),
    );
  const request = (serialHex: string, nonce?: Buffer) =>
    sequence(
      nonce
        ? sequence(
            sequence(sequence(certId(serialHex))),
            explicit(2, sequence(sequence(oid('1.3.6.1.5.5.7.48.1.2'), octetString(octetString(nonce))))),
          )
        : sequence(sequence(sequence(certId(serialHex)))),
    );
  /** certStatus tag of the first SingleResponse: 0x80 good, 0xa1 revoked, 0x82 unknown; and producedAt. */
  const inspect = (der: Buffer) => {
    const top = readWhole(der, TAG.SEQUENCE, 'OCSPResponse');
    const [, bytes] = readChildren(der, top);
    const rb = readChildren(der, readChildren(der, bytes!)[0]!);
    const basicOctets = rb[1]!;
    const basic = readWhole(der.subarray(basicOctets.contentStart, basicOctets.end), TAG.SEQUENCE, 'Basic');
    const b = der.subarray(basicOctets.contentStart, basicOctets.end);
    const [tbs, , , certs] = readChildren(b, basic);
    const [, producedAt, responses] = readChildren(b, tbs!);
    const single = readChildren(b, readChildren(b, responses!)[0]!);
    return {
      status: single[1]!.tag,
      producedAt: b.subarray(producedAt!.contentStart, producedAt!.end).toString('latin1'),
      hasCerts: certs !== undefined,
    };
  };
  const options = (over: Partial<OcspResponderOptions> = {}): OcspResponderOptions => ({
    sa,
    clock: new FakeClock(t0),
    issuerKey,
    issuerName: issuer.issuerName,
    authorityKeyId: issuer.authorityKeyId,
    issuerSpki,
    responder: 'delegated',
    lifetimeMs: DAY,
    refreshMs: HOUR,
    responderValidityMs: 7 * DAY,
    cacheSize: 1000,
    responderName: 'Test OCSP',
    onError: (err) => assert.fail(String(err)),
    ...over,
  });

  it('answers from the cache, re-signs in the background after refresh and inline near nextUpdate', async () => {
    const clock = new FakeClock(t0);
    const r = new OcspResponder(options({ clock }));
    await addCertificate('71');
    const first = await r.respond(request('71'));
    assert.equal(inspect(first.body).status, 0x80);
    assert.equal(first.cache?.maxAgeSeconds, 3600);
    assert.equal((await r.respond(request('71'))).body, first.body, 'the same cached bytes');
    clock.advance(HOUR + 1000);
    const stale = await r.respond(request('71'));
    assert.equal(stale.body, first.body, 'served while a fresh one is signed');
    await tick();
    const fresh = await r.respond(request('71'));
    assert.notEqual(fresh.body, first.body);
    assert.notEqual(inspect(fresh.body).producedAt, inspect(first.body).producedAt);
    clock.advance(DAY - HOUR / 2); // within refresh of nextUpdate: re-signed before it is served
    const inline = await r.respond(request('71'));
    assert.notEqual(inline.body, fresh.body);
  });

  it('drops a serial at revocation and answers revoked at once', async () => {
    const r = new OcspResponder(options());
    const id = await addCertificate('72');
    assert.equal(inspect((await r.respond(request('72'))).body).status, 0x80);
    await sa.revokeCertificate(id, 1, t0);
    assert.equal(inspect((await r.respond(request('72'))).body).status, 0x80, 'cached until told');
    r.revoked('72');
    assert.equal(inspect((await r.respond(request('72'))).body).status, 0xa1);
    assert.equal(inspect((await r.respond(request('7300'))).body).status, 0x82, 'never issued: unknown');
  });

  it('signs nonce requests per request, echoing the nonce, and bounds the cache', async () => {
    const r = new OcspResponder(options({ cacheSize: 2 }));
    for (const s of ['81', '82', '83']) await addCertificate(s);
    const nonce = Buffer.alloc(16, 0xab);
    const a = await r.respond(request('81', nonce));
    assert.equal(a.cache, undefined);
    assert.ok(a.body.includes(nonce));
    assert.equal(r.cachedSerials, 0);
    for (const s of ['81', '82', '83']) await r.respond(request(s));
    assert.equal(r.cachedSerials, 2);
  });

  it('renews the delegated responder certificate halfway through its validity; "ca" mode sends no certificate', async () => {
    const clock = new FakeClock(t0);
    const r = new OcspResponder(options({ clock }));
    const cert = new X509Certificate(r.responderCertDer!);
    assert.ok(cert.verify(createPublicKey(issuerKey)));
    assert.equal(new Date(cert.validTo).getTime(), t0 + 7 * DAY);
    assert.ok(inspect((await r.respond(request('7301'))).body).hasCerts);
    clock.advance(3.5 * DAY + 1000);
    await r.respond(request('7301'));
    assert.notDeepEqual(r.responderCertDer, cert.raw);
    const ca = new OcspResponder(options({ responder: 'ca' }));
    assert.equal(ca.responderCertDer, undefined);
    assert.equal(inspect((await ca.respond(request('7301'))).body).hasCerts, false);
  });

  it('refuses inconsistent settings', () => {
    assert.throws(() => new OcspResponder(options({ refreshMs: DAY })), ConfigError);
    assert.throws(() => new OcspResponder(options({ responderValidityMs: DAY })), ConfigError);
  });
});

describe('RevocationUrls', () => {
  it('derives URLs from base_url or the configured ones, per shard', () => {
    const off = new RevocationUrls(
      {
        crl: { url: '', include_in_certificates: false, shards: 1 },
        ocsp: { url: '', include_in_certificates: false },
      },
      () => 'https://ca.example',
    );
    assert.deepEqual(off.forCertificate('0a'), {});
    const derived = new RevocationUrls(
      {
        crl: { url: '', include_in_certificates: true, shards: 1 },
        ocsp: { url: '', include_in_certificates: true },
      },
      () => 'https://ca.example',
    );
    assert.deepEqual(derived.forCertificate('0a'), {
      crlUrl: 'https://ca.example/ca/crl',
      ocspUrl: 'https://ca.example/ca/ocsp',
    });
    const sharded = new RevocationUrls(
      {
        crl: { url: 'http://crl.example/akamu/', include_in_certificates: false, shards: 4 },
        ocsp: { url: 'http://ocsp.example', include_in_certificates: true },
      },
      () => 'https://ca.example',
    );
    assert.deepEqual(sharded.forCertificate('0b'), {
      crlUrl: 'http://crl.example/akamu/3',
      ocspUrl: 'http://ocsp.example',
    });
    assert.equal(sharded.crlShard(2), 'http://crl.example/akamu/2');
    assert.throws(
      () =>
        new RevocationUrls(
          {
            crl: { url: '', include_in_certificates: false, shards: 2 },
            ocsp: { url: '', include_in_certificates: false },
          },
          () => '',
        ),
      ConfigError,
    );
  });
});
