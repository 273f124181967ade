import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { describe, it } from 'node:test';
import { AcmeClient, generateKey } from '@akamu/client';
import { startAkamu } from '../../../test/helpers/akamu-process.ts';
import { EXIT } from '../src/lib/exit-codes.ts';
import { runCli, show } from './helpers/run-cli.ts';

describe('akamu db backup', () => {
  it('copies the SQLite database while the CA runs, and the copy holds its accounts', async (t) => {
    const dataDir = path.join(await mkdtemp(path.join(tmpdir(), 'akamu-db-')), 'data');
    const ca = await startAkamu({
      config: { data_dir: dataDir, database: { url: `sqlite:${path.join(dataDir, 'akamu.db')}` } },
    });
    t.after(() => ca.stop());
    const client = new AcmeClient({
      directoryUrl: ca.directoryUrl,
      accountKey: generateKey('ec:P-256'),
      caBundle: readFileSync(ca.rootCertPath, 'utf8'),
    });
    const { url } = await client.newAccount({});
    client.close();
    const out = path.join(path.dirname(dataDir), 'backup.db');
    const r = await runCli(['db', 'backup', '-c', ca.configFile, '-o', out, '--json']);
    assert.equal(r.code, EXIT.OK, show(r));
    assert.equal(r.json?.backup, out);
    const copy = new DatabaseSync(out, { readOnly: true });
    const row = copy
      .prepare('select count(*) as n from accounts where id = ?')
      .get(url.split('/').at(-1)!) as { n: number };
    copy.close();
    assert.equal(row.n, 1);
    const again = await runCli(['db', 'backup', '-c', ca.configFile, '-o', out]);
    assert.equal(again.code, EXIT.CONFIG, 'an existing file is never overwritten');
  });
});
