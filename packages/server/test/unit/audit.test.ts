import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { AuditFile } from '../../src/audit/audit-file.ts';
import { changedKeys, configLoadedEvent, redactConfig } from '../../src/audit/config-event.ts';
import { parseConfig } from '../../src/config.ts';
import { AUDIT_EVENT_TYPES, type AuditRecord, auditEvent } from '../../src/core/audit.ts';

const doc = readFileSync(new URL('../../../../docs/operations.md', import.meta.url), 'utf8');

const record = (over: Partial<AuditRecord> = {}): AuditRecord => ({
  id: 'a'.repeat(24),
  ...auditEvent({ actor: 'system', source: null }, 1, 'config.loaded', { type: 'config', id: 'akamu' }),
  ...over,
});

describe('audit', () => {
  it('docs/operations.md lists every event type in its catalogue, and no unknown one', () => {
    const audit = doc.split(/^## /m).find((s) => s.startsWith('Audit'))!;
    for (const type of AUDIT_EVENT_TYPES)
      assert.match(audit, new RegExp(`^\\| \`${type.replace('.', '\\.')}\` \\|`, 'm'), type);
    const documented = [...audit.matchAll(/^\| `([a-z_]+\.[a-z_*]+)` \|/gm)].map((m) => m[1]!);
    assert.deepEqual(
      documented.filter((t) => t !== 'operator.*' && !(AUDIT_EVENT_TYPES as readonly string[]).includes(t)),
      [],
    );
  });

  it('redacts secrets and URL passwords from the configuration it records', () => {
    const config = parseConfig({
      database: { url: 'postgres://akamu:s3cret@db.internal:5432/akamu' },
      eab: {
        keys: { k1: { hmac_key: Buffer.alloc(32, 1).toString('base64url') } },
        master_secret: Buffer.alloc(32, 2).toString('base64url'),
      },
    });
    const redacted = redactConfig(config) as typeof config;
    const text = JSON.stringify(redacted);
    assert.ok(!text.includes('s3cret'));
    assert.ok(!text.includes(Buffer.alloc(32, 1).toString('base64url')));
    assert.ok(!text.includes(Buffer.alloc(32, 2).toString('base64url')));
    assert.equal(redacted.eab.keys.k1!.hmac_key, '[redacted]');
    assert.equal(redacted.database.url, 'postgres://akamu:redacted@db.internal:5432/akamu');
    assert.equal(redacted.server.port, config.server.port, 'everything else is kept');
  });

  it('names the keys that changed since the previous start', () => {
    assert.deepEqual(changedKeys({ a: { b: 1, c: [1] }, d: 'x' }, { a: { b: 2, c: [1] }, e: true }), [
      'a.b',
      'd',
      'e',
    ]);
    const ctx = { actor: 'node:n1', source: null };
    const first = configLoadedEvent(parseConfig({}), undefined, ctx, 5);
    assert.equal(first.details?.changed, null);
    const same = configLoadedEvent(parseConfig({}), first, ctx, 6);
    assert.deepEqual(same.details?.changed, []);
    assert.equal(same.details?.digest, first.details?.digest);
    const moved = configLoadedEvent(
      parseConfig({ server: { port: 9443 }, va: { concurrency: 4 } }),
      first,
      ctx,
      7,
    );
    assert.deepEqual(moved.details?.changed, ['server.port', 'va.concurrency']);
  });

  it('the JSON-lines file: created 0600, one line per event, appended after what is there', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'akamu-audit-file-'));
    try {
      const file = path.join(dir, 'audit.jsonl');
      const errors: unknown[] = [];
      const a = new AuditFile(file, (e) => errors.push(e));
      a.append([
        record({ id: '1'.repeat(24) }),
        record({ id: '2'.repeat(24), details: { x: 'line\nbreak' } }),
      ]);
      a.close();
      assert.equal(statSync(file).mode & 0o777, 0o600);
      const b = new AuditFile(file, (e) => errors.push(e));
      b.append([record({ id: '3'.repeat(24) })]);
      b.close();
      b.append([record({ id: '4'.repeat(24) })]); // closed: ignored
      const lines = readFileSync(file, 'utf8').split('\n');
      assert.equal(lines.pop(), '');
      assert.deepEqual(
        lines.map((l) => (JSON.parse(l) as AuditRecord).id),
        ['1', '2', '3'].map((c) => c.repeat(24)),
      );
      assert.equal((JSON.parse(lines[1]!) as AuditRecord).details?.x, 'line\nbreak');
      assert.deepEqual(errors, []);
      // Not a regular file: refused at start.
      assert.throws(() => new AuditFile(dir, () => {}), /EISDIR|not a regular file/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
