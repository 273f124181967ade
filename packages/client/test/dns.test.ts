/**
 * DNS challenge helpers and solvers against a real DNS server (test/support/dns-server.ts, RFC 2136
 * UPDATE with TSIG) and, for TSIG interoperability, Knot's knsupdate.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { Resolver } from 'node:dns/promises';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { requireTool } from '../../../test/helpers/akamu-process.ts';
import { TestDnsServer } from '../../../test/support/dns-server.ts';
import {
  buildUpdate,
  CLASS,
  encodeTxt,
  OPCODE,
  parseMessage,
  parseServer,
  signTsig,
  TYPE,
  verifyTsig,
} from '../src/dns/wire.ts';
import {
  ChallengeSolverError,
  DnsHookSolver,
  dns01RecordName,
  dns01TxtValue,
  dnsPersist01Record,
  Rfc2136Solver,
  type TsigKey,
} from '../src/index.ts';

const CHALLENGE = {
  type: 'dns-01',
  url: 'https://ca.example/chall/1',
  status: 'pending',
  token: 'tok',
} as const;
const TSIG: TsigKey = {
  name: 'acme-key',
  algorithm: 'hmac-sha256',
  secret: Buffer.from('s3cr3t-shared-between-ns-and-us'),
};
const hasKnsupdate = requireTool('knsupdate');

test('dns01RecordName and dns01TxtValue (RFC 8555 §8.4)', () => {
  assert.equal(dns01RecordName({ type: 'dns', value: 'www.example.com' }), '_acme-challenge.www.example.com');
  assert.equal(dns01RecordName({ type: 'dns', value: '*.example.com' }), '_acme-challenge.example.com');
  assert.equal(dns01RecordName('example.com.'), '_acme-challenge.example.com');
  assert.throws(() => dns01RecordName({ type: 'ip', value: '192.0.2.1' }), TypeError);
  const keyAuthorization = 'token.thumbprint';
  assert.equal(
    dns01TxtValue(keyAuthorization),
    createHash('sha256').update(keyAuthorization).digest('base64url'),
  );
});

test('Rfc2136Solver server addresses: host:port, [v6]:port, bare v6, bare host', () => {
  assert.deepEqual(parseServer('127.0.0.1:5353'), { host: '127.0.0.1', port: 5353 });
  assert.deepEqual(parseServer('[2001:db8::53]:5353'), { host: '2001:db8::53', port: 5353 });
  assert.deepEqual(parseServer('2001:db8::53'), { host: '2001:db8::53', port: 53 });
  assert.deepEqual(parseServer('ns1.example.net'), { host: 'ns1.example.net', port: 53 });
  for (const bad of ['', ':53', 'ns1:0', 'ns1:65536', 'ns1:x'])
    assert.throws(() => parseServer(bad), TypeError, bad);
  assert.throws(
    () =>
      new Rfc2136Solver({
        server: 'ns1:53',
        tsig: { name: 'k', algorithm: 'hmac-md5' as never, secret: Buffer.from('x') },
      }),
    TypeError,
  );
  assert.throws(
    () =>
      new Rfc2136Solver({
        server: 'ns1:53',
        tsig: { name: 'k', algorithm: 'hmac-sha256', secret: Buffer.alloc(0) },
      }),
    TypeError,
  );
});

test('dnsPersist01Record: _validation-persist.<name> with an RFC 8659 issue-value', () => {
  const accountUrl = 'https://ca.example/acme/acct/42';
  assert.deepEqual(
    dnsPersist01Record({ domain: 'example.com', issuerDomainName: 'CA.Example', accountUrl }),
    {
      name: '_validation-persist.example.com',
      value: 'ca.example; accounturi=https://ca.example/acme/acct/42',
    },
  );
  assert.deepEqual(
    dnsPersist01Record({
      domain: { type: 'dns', value: '*.example.com' },
      issuerDomainName: 'ca.example',
      accountUrl,
      wildcard: true,
      persistUntil: new Date('2027-01-01T00:00:00Z'),
    }),
    {
      name: '_validation-persist.example.com',
      value:
        'ca.example; accounturi=https://ca.example/acme/acct/42; policy=wildcard; persistUntil=1798761600',
    },
  );
  assert.equal(
    dnsPersist01Record({
      domain: 'a.test',
      issuerDomainName: 'ca.example',
      accountUrl,
      persistUntil: 1798761600,
    }).value,
    'ca.example; accounturi=https://ca.example/acme/acct/42; persistUntil=1798761600',
  );
  assert.throws(
    () => dnsPersist01Record({ domain: 'a.test', issuerDomainName: 'bad name', accountUrl }),
    TypeError,
  );
  assert.throws(
    () => dnsPersist01Record({ domain: 'a.test', issuerDomainName: 'ca.example', accountUrl: 'a;b' }),
    TypeError,
  );
});

describe('Rfc2136Solver against a DNS server that requires TSIG', () => {
  let dns: TestDnsServer;
  let resolver: Resolver;
  before(async () => {
    dns = await TestDnsServer.start({
      tsig: { name: TSIG.name, algorithm: 'hmac-sha256', secret: TSIG.secret },
    });
    resolver = new Resolver({ timeout: 2000, tries: 2 });
    resolver.setServers([`${dns.host}:${dns.port}`]);
  });
  after(() => dns?.stop());

  test('present adds the TXT record (zone found by SOA) and waits until the server answers it; cleanup removes only it', async () => {
    const solver = new Rfc2136Solver({ server: `${dns.host}:${dns.port}`, tsig: TSIG });
    const base = { type: 'dns', value: 'www.example.test' };
    const wildcard = { type: 'dns', value: '*.www.example.test' };
    assert.equal(await solver.findZone('_acme-challenge.www.example.test'), 'example.test');
    await solver.present(base, CHALLENGE, 'tok1.thumb');
    await solver.present(wildcard, CHALLENGE, 'tok2.thumb');
    const name = '_acme-challenge.www.example.test';
    const values = (await resolver.resolveTxt(name)).map((chunks) => chunks.join('')).sort();
    assert.deepEqual(values, [dns01TxtValue('tok1.thumb'), dns01TxtValue('tok2.thumb')].sort());
    await solver.cleanup(base, CHALLENGE, 'tok1.thumb');
    assert.deepEqual(
      (await resolver.resolveTxt(name)).map((c) => c.join('')),
      [dns01TxtValue('tok2.thumb')],
    );
    await solver.cleanup(wildcard, CHALLENGE, 'tok2.thumb');
    await assert.rejects(resolver.resolveTxt(name), { code: 'ENOTFOUND' });
  });

  test('an explicit zone, and a record presented twice survives one cleanup', async () => {
    const solver = new Rfc2136Solver({
      server: `${dns.host}:${dns.port}`,
      tsig: { ...TSIG, name: 'ACME-KEY.' },
      zone: 'example.test',
      ttl: 5,
    });
    const id = { type: 'dns', value: 'shared.example.test' };
    await solver.present(id, CHALLENGE, 'tok.shared');
    await solver.present(id, CHALLENGE, 'tok.shared');
    await solver.cleanup(id, CHALLENGE, 'tok.shared');
    assert.deepEqual(await solver.lookupTxt('_acme-challenge.shared.example.test'), [
      dns01TxtValue('tok.shared'),
    ]);
    await solver.cleanup(id, CHALLENGE, 'tok.shared');
    assert.deepEqual(await solver.lookupTxt('_acme-challenge.shared.example.test'), []);
  });

  test('a wrong TSIG secret or no TSIG is refused with ChallengeSolverError', async () => {
    const id = { type: 'dns', value: 'denied.example.test' };
    const wrong = new Rfc2136Solver({
      server: `${dns.host}:${dns.port}`,
      tsig: { ...TSIG, secret: Buffer.from('wrong') },
    });
    await assert.rejects(wrong.present(id, CHALLENGE, 'x'), (error: unknown) => {
      assert.ok(error instanceof ChallengeSolverError);
      assert.equal(error.code, 'ERR_ACME_SOLVER');
      assert.match(error.message, /NOTAUTH \(TSIG BADSIG\)/);
      return true;
    });
    const unsigned = new Rfc2136Solver({ server: `${dns.host}:${dns.port}` });
    await assert.rejects(unsigned.present(id, CHALLENGE, 'x'), /refused: REFUSED/);
    assert.deepEqual(await unsigned.lookupTxt('_acme-challenge.denied.example.test'), []);
  });

  test('answers too large for UDP are fetched again over TCP', async () => {
    const long = Array.from({ length: 6 }, (_, i) => `${i}`.repeat(200));
    dns.setTxt('_acme-challenge.big.example.test', long);
    const solver = new Rfc2136Solver({ server: `${dns.host}:${dns.port}` });
    assert.deepEqual((await solver.lookupTxt('_acme-challenge.big.example.test')).sort(), long);
    dns.removeTxt('_acme-challenge.big.example.test');
  });

  test('a record that never becomes visible fails present with the last lookup error', async () => {
    // The server accepts the update but answers every query for the name with SERVFAIL.
    dns.failWith('_acme-challenge.hidden.example.test', 'SERVFAIL');
    const solver = new Rfc2136Solver({
      server: `${dns.host}:${dns.port}`,
      tsig: TSIG,
      zone: 'example.test',
      propagationTimeoutMs: 300,
    });
    await assert.rejects(
      solver.present({ type: 'dns', value: 'hidden.example.test' }, CHALLENGE, 'tok.hidden'),
      (error: unknown) => {
        assert.ok(error instanceof ChallengeSolverError);
        assert.match(error.message, /not visible at .* after 300 ms \(.*SERVFAIL\)/);
        return true;
      },
    );
    dns.clear();
  });

  test('present fails when the server does not answer, after its timeout', async () => {
    const silent = createSocket('udp4');
    await new Promise<void>((resolve) => silent.bind(0, '127.0.0.1', resolve));
    try {
      const solver = new Rfc2136Solver({
        server: `127.0.0.1:${silent.address().port}`,
        zone: 'example.test',
        timeoutMs: 200,
      });
      await assert.rejects(
        solver.present({ type: 'dns', value: 'x.example.test' }, CHALLENGE, 'k'),
        /no answer from 127\.0\.0\.1:\d+ over UDP in 200 ms/,
      );
    } finally {
      silent.close();
    }
  });
});

describe('DnsHookSolver', { skip: hasKnsupdate ? false : 'knsupdate is not installed' }, () => {
  let dns: TestDnsServer;
  let dir: string;
  let resolver: Resolver;
  // The hook scripts an operator would write: knsupdate with a TSIG key, arguments and ACME_* logged.
  const hook = (action: 'add' | 'delete') => `#!/bin/sh
set -e
printf '%s|%s|%s|%s|%s|%s|%s|%s\\n' "$1" "$2" "$3" "$ACME_ACTION" "$ACME_DOMAIN" "$ACME_IDENTIFIER" "$ACME_TXT_NAME" "$ACME_TXT_VALUE" >> "$HOOK_LOG"
printf 'server %s %s\\nkey hmac-sha256:%s:%s\\nzone example.test.\\nupdate ${action} %s. 60 TXT "%s"\\nsend\\n' \\
  "$DNS_HOST" "$DNS_PORT" "$TSIG_NAME" "$TSIG_SECRET" "$ACME_TXT_NAME" "$ACME_TXT_VALUE" | knsupdate
`;

  before(async () => {
    dns = await TestDnsServer.start({
      tsig: { name: TSIG.name, algorithm: 'hmac-sha256', secret: TSIG.secret },
    });
    resolver = new Resolver({ timeout: 2000, tries: 2 });
    resolver.setServers([`${dns.host}:${dns.port}`]);
    dir = await mkdtemp(join(tmpdir(), 'akamu-hooks-'));
    for (const [file, text] of [
      ['deploy.sh', hook('add')],
      ['clean.sh', hook('delete')],
      ['fail.sh', '#!/bin/sh\necho "zone example.test is read-only" >&2\nexit 3\n'],
      ['slow.sh', '#!/bin/sh\nsleep 30\n'],
    ] as const) {
      await writeFile(join(dir, file), text);
      await chmod(join(dir, file), 0o755);
    }
  });
  after(async () => {
    await dns?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('deploy and clean hooks get the documented arguments and ACME_* environment, and drive the DNS server', async () => {
    const log = join(dir, 'hooks.log');
    const solver = new DnsHookSolver({
      deploy: join(dir, 'deploy.sh'),
      clean: join(dir, 'clean.sh'),
      timeoutMs: 10_000,
      env: {
        HOOK_LOG: log,
        DNS_HOST: dns.host,
        DNS_PORT: String(dns.port),
        TSIG_NAME: TSIG.name,
        TSIG_SECRET: TSIG.secret.toString('base64'),
      },
    });
    const id = { type: 'dns', value: '*.hooked.example.test' };
    const value = dns01TxtValue('tok.hook');
    await solver.present(id, CHALLENGE, 'tok.hook');
    assert.deepEqual(await resolver.resolveTxt('_acme-challenge.hooked.example.test'), [[value]]);
    await solver.cleanup(id, CHALLENGE, 'tok.hook');
    await assert.rejects(resolver.resolveTxt('_acme-challenge.hooked.example.test'), { code: 'ENOTFOUND' });
    const lines = (await readFile(log, 'utf8')).trim().split('\n');
    const fields = (action: string) =>
      [
        'hooked.example.test',
        '_acme-challenge.hooked.example.test',
        value,
        action,
        'hooked.example.test',
        '*.hooked.example.test',
        '_acme-challenge.hooked.example.test',
        value,
      ].join('|');
    assert.deepEqual(lines, [fields('deploy'), fields('clean')]);
  });

  test('a failing hook rejects with its exit status and stderr; a hung hook is killed at timeoutMs', async () => {
    const failing = new DnsHookSolver({ deploy: join(dir, 'fail.sh'), clean: join(dir, 'fail.sh') });
    await assert.rejects(
      failing.present({ type: 'dns', value: 'a.example.test' }, CHALLENGE, 'k'),
      (error: unknown) => {
        assert.ok(error instanceof ChallengeSolverError);
        assert.match(
          error.message,
          /deploy hook .*fail\.sh exited with status 3: zone example\.test is read-only/,
        );
        return true;
      },
    );
    const slow = new DnsHookSolver({
      deploy: join(dir, 'slow.sh'),
      clean: join(dir, 'slow.sh'),
      timeoutMs: 300,
    });
    await assert.rejects(
      slow.present({ type: 'dns', value: 'a.example.test' }, CHALLENGE, 'k'),
      /timed out after 300 ms/,
    );
    const missing = new DnsHookSolver({ deploy: join(dir, 'nope.sh'), clean: join(dir, 'nope.sh') });
    await assert.rejects(
      missing.present({ type: 'dns', value: 'a.example.test' }, CHALLENGE, 'k'),
      ChallengeSolverError,
    );
  });
});

describe('TSIG interoperability with knsupdate (Knot DNS)', {
  skip: hasKnsupdate ? false : 'knsupdate is not installed',
}, () => {
  /** Runs knsupdate against a UDP listener that verifies its TSIG and answers, signed with `answerKey`. */
  async function exchangeWithKnsupdate(answerKey: TsigKey, key: TsigKey = TSIG) {
    const socket = createSocket('udp4');
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
    const seen: ReturnType<typeof verifyTsig>[] = [];
    socket.on('message', (msg, peer) => {
      const check = verifyTsig(msg, key);
      seen.push(check);
      const request = parseMessage(msg);
      // NOERROR answer: same ID, QR set, opcode UPDATE, the zone section echoed (RFC 2136 §3.8).
      const zone = request.questions[0]!;
      const answer = buildUpdate(zone.name, [], request.id);
      answer.writeUInt16BE(0x8000 | (OPCODE.UPDATE << 11), 2);
      socket.send(signTsig(answer, answerKey, { requestMac: check.mac }).message, peer.port, peer.address);
    });
    const script = [
      `server 127.0.0.1 ${socket.address().port}`,
      `key ${key.algorithm}:${key.name}:${key.secret.toString('base64')}`,
      'zone example.test.',
      'update add _acme-challenge.knot.example.test. 60 TXT "hello"',
      'send',
      '',
    ].join('\n');
    const result = await new Promise<{ code: number; stderr: string }>((resolve) => {
      const child = execFile(
        'knsupdate',
        ['-t', '2', '-r', '0'],
        { timeout: 10_000 },
        (error, _stdout, stderr) =>
          resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stderr }),
      );
      child.stdin?.end(script);
    });
    socket.close();
    return { seen, ...result };
  }

  test('our verifier accepts knsupdate TSIG signatures, and knsupdate accepts our signed answers (hmac-sha256, hmac-sha512)', async () => {
    for (const algorithm of ['hmac-sha256', 'hmac-sha512'] as const) {
      const key = { ...TSIG, algorithm };
      const { seen, code, stderr } = await exchangeWithKnsupdate(key, key);
      assert.ok(seen.length >= 1, algorithm);
      assert.equal(seen[0]!.valid, true, `${algorithm}: ${seen[0]!.reason}`);
      assert.equal(seen[0]!.mac?.length, algorithm === 'hmac-sha256' ? 32 : 64);
      assert.equal(code, 0, `${algorithm}: ${stderr}`);
    }
  });

  test('knsupdate rejects an answer signed with another secret', async () => {
    const { seen, code, stderr } = await exchangeWithKnsupdate({
      ...TSIG,
      secret: Buffer.from('not the shared secret'),
    });
    assert.equal(seen[0]!.valid, true);
    assert.notEqual(code, 0);
    assert.match(stderr, /BADSIG|TSIG|signature/i);
  });

  test('the message we sign carries the update as RFC 2136 lays it out', () => {
    const update = buildUpdate('example.test', [
      {
        name: '_acme-challenge.a.example.test',
        type: TYPE.TXT,
        class: CLASS.IN,
        ttl: 60,
        data: encodeTxt('v'),
      },
    ]);
    const { message, mac } = signTsig(update, TSIG);
    const parsed = parseMessage(message);
    assert.equal(parsed.opcode, OPCODE.UPDATE);
    assert.deepEqual(parsed.questions, [{ name: 'example.test', type: TYPE.SOA, class: CLASS.IN }]);
    assert.equal(parsed.authorities.length, 1);
    assert.equal(parsed.additionals.at(-1)!.type, TYPE.TSIG);
    const check = verifyTsig(message, TSIG);
    assert.equal(check.valid, true);
    assert.deepEqual(check.mac, mac);
    // RFC 8945 §5.2.3: a signature outside the fudge window (300 s) is refused.
    assert.equal(verifyTsig(message, TSIG, undefined, Date.now() + 301_000).valid, false);
    assert.match(String(verifyTsig(message, TSIG, undefined, Date.now() + 301_000).reason), /fudge/);
    assert.equal(verifyTsig(message, { ...TSIG, name: 'other-key' }).valid, false);
    assert.equal(verifyTsig(message, { ...TSIG, algorithm: 'hmac-sha512' }).valid, false);
    const tampered = Buffer.from(message);
    tampered[tampered.indexOf('v', 12, 'latin1')] = 0x77;
    assert.equal(verifyTsig(tampered, TSIG).valid, false);
  });
});
