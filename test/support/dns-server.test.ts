import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import dgram from 'node:dgram';
import { Resolver } from 'node:dns/promises';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { requireTool } from '../helpers/akamu-process.ts';
import { describeResult, runTool } from '../helpers/run-tool.ts';
import { TestDnsServer } from './dns-server.ts';

function resolverFor(server: TestDnsServer, tries = 2): Resolver {
  const r = new Resolver({ timeout: 2000, tries });
  r.setServers([`${server.host}:${server.port}`]);
  return r;
}

async function code(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'ok';
  } catch (e) {
    return (e as NodeJS.ErrnoException).code ?? String(e);
  }
}

describe('TestDnsServer over node:dns', () => {
  let dns: TestDnsServer;
  let resolver: Resolver;
  before(async () => {
    dns = await TestDnsServer.start();
    resolver = resolverFor(dns);
  });
  after(() => dns.stop());

  test('answers A, AAAA, TXT and CAA records it was given', async () => {
    dns.setA('www.example.test', ['192.0.2.1', '192.0.2.2']);
    dns.setAAAA('www.example.test', ['2001:db8::1']);
    dns.setTxt('_acme-challenge.www.example.test', ['one', 'two']);
    dns.setCaa('example.test', [
      { flags: 0, tag: 'issue', value: 'ca.example; accounturi=https://ca/acct/1' },
      { flags: 128, tag: 'tbs', value: 'x' },
    ]);
    assert.deepEqual((await resolver.resolve4('www.example.test')).sort(), ['192.0.2.1', '192.0.2.2']);
    assert.deepEqual(await resolver.resolve6('WWW.Example.Test'), ['2001:db8::1']);
    assert.deepEqual((await resolver.resolveTxt('_acme-challenge.www.example.test')).sort(), [
      ['one'],
      ['two'],
    ]);
    const caa = await resolver.resolveCaa('example.test');
    assert.deepEqual(
      caa.map((c) => [c.critical, c.issue ?? (c as unknown as Record<string, string>).tbs]),
      [
        [0, 'ca.example; accounturi=https://ca/acct/1'],
        [128, 'x'],
      ],
    );
  });

  test('splits long TXT values into 255-octet character-strings', async () => {
    const long = 'a'.repeat(300) + 'b'.repeat(300);
    dns.setTxt('long.example.test', [long]);
    const [record] = await resolver.resolveTxt('long.example.test');
    assert.deepEqual(
      record!.map((s) => s.length),
      [255, 255, 90],
    );
    assert.equal(record!.join(''), long);
  });

  test('a large answer is truncated over UDP and fetched again over TCP', async () => {
    const values = Array.from({ length: 20 }, (_, i) => `${i}-${'x'.repeat(200)}`);
    dns.setTxt('big.example.test', values);
    const got = await resolver.resolveTxt('big.example.test');
    assert.equal(got.length, 20);
  });

  test('NXDOMAIN for an unknown name, NODATA for a name with other records or an empty non-terminal', async () => {
    dns.setA('host.sub.example.test', ['192.0.2.9']);
    assert.equal(await code(resolver.resolveTxt('nothing.example.test')), 'ENOTFOUND');
    assert.equal(await code(resolver.resolveTxt('host.sub.example.test')), 'ENODATA');
    assert.equal(await code(resolver.resolveTxt('sub.example.test')), 'ENODATA');
    assert.equal(await code(resolver.resolveTxt('example.test')), 'ENODATA');
  });

  test('CNAMEs are chased in the answer', async () => {
    dns.setCname('_acme-challenge.alias.example.test', 'delegated.other.test');
    dns.setTxt('delegated.other.test', ['delegated value']);
    assert.deepEqual(await resolver.resolveTxt('_acme-challenge.alias.example.test'), [['delegated value']]);
    assert.deepEqual(await resolver.resolveCname('_acme-challenge.alias.example.test'), [
      'delegated.other.test',
    ]);
  });

  test('failWith answers SERVFAIL or REFUSED; removeTxt and clear remove records', async () => {
    dns.failWith('broken.example.test', 'SERVFAIL');
    dns.failWith('refused.example.test', 'REFUSED');
    const once = resolverFor(dns, 1);
    assert.equal(await code(once.resolveCaa('broken.example.test')), 'ESERVFAIL');
    assert.equal(await code(once.resolveTxt('refused.example.test')), 'EREFUSED');
    dns.setTxt('t.example.test', ['a', 'b']);
    dns.removeTxt('t.example.test', 'a');
    assert.deepEqual(await resolver.resolveTxt('t.example.test'), [['b']]);
    dns.removeTxt('t.example.test');
    assert.equal(await code(resolver.resolveTxt('t.example.test')), 'ENOTFOUND');
    dns.clear();
    assert.equal(await code(resolver.resolve4('www.example.test')), 'ENOTFOUND');
    assert.equal(await code(once.resolveCaa('broken.example.test')), 'ENOTFOUND');
  });

  test('garbage and truncated packets get FORMERR or nothing, and the server keeps answering', async () => {
    const socket = dgram.createSocket('udp4');
    const replies: Buffer[] = [];
    socket.on('message', (m) => replies.push(m));
    const garbage = Buffer.concat([
      Buffer.from([0x12, 0x34, 0x28, 0x00]),
      Buffer.alloc(8, 0xff),
      randomBytes(40),
    ]);
    for (const packet of [Buffer.from([1, 2, 3]), randomBytes(64), garbage]) {
      await new Promise<void>((resolve) => socket.send(packet, dns.port, dns.host, () => resolve()));
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
    socket.close();
    for (const r of replies) assert.equal(r.readUInt16BE(2) & 0x0f, 1, 'FORMERR');
    dns.setTxt('alive.example.test', ['yes']);
    assert.deepEqual(await resolver.resolveTxt('alive.example.test'), [['yes']]);
  });

  test('SOA at the zone apex (last two labels)', async () => {
    dns.setA('www.example.test', ['192.0.2.1']);
    const soa = await resolver.resolveSoa('example.test');
    assert.equal(soa.nsname, 'ns.example.test');
    assert.equal(await code(resolver.resolveSoa('www.example.test')), 'ENODATA');
  });
});

describe('TestDnsServer RFC 2136 updates with knsupdate', () => {
  const tsig = { name: 'akamu-test-key', algorithm: 'hmac-sha256' as const, secret: randomBytes(32) };
  let dns: TestDnsServer;
  let dir: string;
  before(async () => {
    dns = await TestDnsServer.start({ tsig });
    dir = mkdtempSync(path.join(tmpdir(), 'akamu-dns-'));
  });
  after(async () => {
    await dns.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  async function nsupdate(lines: string[], key = tsig.secret) {
    const file = path.join(dir, `update-${randomBytes(4).toString('hex')}.txt`);
    writeFileSync(
      file,
      [`server ${dns.host} ${dns.port}`, 'zone example.test', ...lines, 'send', ''].join('\n'),
    );
    return runTool(
      'knsupdate',
      ['-t', '5', '-y', `hmac-sha256:${tsig.name}:${key.toString('base64')}`, file],
      {
        timeoutMs: 30_000,
      },
    );
  }

  test('adds and deletes TXT records with a valid TSIG; a bad key is refused', async (t) => {
    if (!requireTool('knsupdate')) return t.skip('knsupdate (Debian knot-dnsutils) is not installed');
    const resolver = resolverFor(dns);
    const long = 'z'.repeat(300);
    const add = await nsupdate([
      'update add _acme-challenge.example.test. 60 TXT "first"',
      'update add _acme-challenge.example.test. 60 TXT "second"',
      `update add long.example.test. 60 TXT "${long.slice(0, 200)}" "${long.slice(200)}"`,
    ]);
    assert.equal(add.code, 0, describeResult(add));
    assert.deepEqual((await resolver.resolveTxt('_acme-challenge.example.test')).sort(), [
      ['first'],
      ['second'],
    ]);
    assert.equal((await resolver.resolveTxt('long.example.test'))[0]!.join(''), long);

    const del = await nsupdate(['update delete _acme-challenge.example.test. TXT "first"']);
    assert.equal(del.code, 0, describeResult(del));
    assert.deepEqual(await resolver.resolveTxt('_acme-challenge.example.test'), [['second']]);

    const delSet = await nsupdate(['update delete _acme-challenge.example.test. TXT']);
    assert.equal(delSet.code, 0, describeResult(delSet));
    assert.equal(await code(resolver.resolveTxt('_acme-challenge.example.test')), 'ENOTFOUND');

    const forged = await nsupdate(['update add evil.example.test. 60 TXT "x"'], randomBytes(32));
    assert.notEqual(forged.code, 0, describeResult(forged));
    assert.equal(await code(resolver.resolveTxt('evil.example.test')), 'ENOTFOUND');
  });

  test('kdig queries over TCP are answered authoritatively', async (t) => {
    if (!requireTool('kdig')) return t.skip('kdig (Debian knot-dnsutils) is not installed');
    dns.setTxt('tcp.example.test', ['over tcp']);
    const r = await runTool(
      'kdig',
      ['+tcp', '-p', String(dns.port), '@127.0.0.1', 'tcp.example.test', 'TXT'],
      {
        timeoutMs: 30_000,
      },
    );
    assert.equal(r.code, 0, describeResult(r));
    assert.match(r.stdout, /flags: qr aa/i);
    assert.match(r.stdout, /"over tcp"/);
  });
});
