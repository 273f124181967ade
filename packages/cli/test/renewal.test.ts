import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { requireTool } from '../../../test/helpers/akamu-process.ts';
import { decideRenewal } from '../src/lib/renewal.ts';

const DAY = 86_400_000;

/** The renewal rule of `certificate renew` and the daemon, on a real 90-day certificate. */
describe('decideRenewal', { skip: !requireTool('openssl') && 'openssl is not installed' }, () => {
  let dir: string;
  let cert: X509Certificate;
  let notBefore: number;
  let notAfter: number;
  before(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'akamu-renewal-'));
    // biome-ignore format: flags read as pairs
    execFileSync('openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', path.join(dir, 'k.pem'),
      '-out', path.join(dir, 'c.pem'), '-days', '90', '-subj', '/CN=renewal.test',
    ], { stdio: 'ignore' });
    cert = new X509Certificate(readFileSync(path.join(dir, 'c.pem')));
    notBefore = Date.parse(cert.validFrom);
    notAfter = Date.parse(cert.validTo);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('without ARI: due at two-thirds of the lifetime', () => {
    const twoThirds = notBefore + ((notAfter - notBefore) * 2) / 3;
    const early = decideRenewal({ cert, now: new Date(twoThirds - 1000) });
    assert.equal(early.due, false);
    assert.equal(early.basis, 'lifetime');
    assert.equal(early.at.getTime(), twoThirds);
    assert.equal(decideRenewal({ cert, now: new Date(twoThirds) }).due, true);
  });

  it('with ARI: due once the suggested window starts, whatever the lifetime says', () => {
    const window = { start: new Date(notBefore + 10 * DAY), end: new Date(notBefore + 11 * DAY) };
    const before = decideRenewal({ cert, now: new Date(notBefore + 9 * DAY), ari: window });
    assert.deepEqual([before.due, before.basis, before.at], [false, 'ari', window.start]);
    assert.equal(decideRenewal({ cert, now: new Date(notBefore + 10 * DAY + 1), ari: window }).due, true);
    // A late window keeps the certificate even past two-thirds of its lifetime.
    const late = { start: new Date(notAfter - 5 * DAY), end: new Date(notAfter - 4 * DAY) };
    assert.equal(decideRenewal({ cert, now: new Date(notAfter - 10 * DAY), ari: late }).due, false);
  });

  it('renew_before brings the date forward; longer than the lifetime means due now', () => {
    const r = decideRenewal({ cert, now: new Date(notBefore + DAY), renewBeforeMs: 80 * DAY });
    assert.deepEqual([r.due, r.basis], [false, 'renew_before']);
    assert.equal(r.at.getTime(), notAfter - 80 * DAY);
    const forced = decideRenewal({ cert, now: new Date(notBefore + 1000), renewBeforeMs: 3650 * DAY });
    assert.deepEqual([forced.due, forced.basis], [true, 'renew_before']);
    // A later renew_before does not delay the lifetime rule.
    assert.equal(decideRenewal({ cert, now: new Date(notBefore), renewBeforeMs: DAY }).basis, 'lifetime');
  });
});
