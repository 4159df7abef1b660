// backup-list and backup-mark through bin/wal-g on a FILE storage holding the shared multi-backup fixture: empty
// storage, orderings, missing metadata.json, --json/--pretty, marking with ancestors and -i refusals. The exact
// renderings and the library-level marking are in test/unit/backup-list-mark.test.ts.

import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { FileStorage } from '../../src/storage/drivers/fs.ts';
import type { Storage } from '../../src/storage/types.ts';
import { readAll } from '../../src/storage/body.ts';
import { decodeMetadata } from '../../src/backup/sentinel.ts';
import { metadataKey } from '../../src/backup/layout.ts';
import { B, BACKUPS, populate, writeBackup } from '../helpers/catalog-fixture.ts';
import { walg, baseEnv, LOG_LINE } from '../helpers/cli.ts';
import { tempDir } from '../helpers/tmp.ts';

const tmp = (): string => tempDir('walg-list-');
const text = async (s: Storage, key: string) => (await readAll(await s.get(key))).toString('utf8');
const meta = async (s: Storage, name: string) => decodeMetadata(await text(s, metadataKey(name)));


describe('backup-list through bin/wal-g', () => {
  test('empty storage: "No backups found" logged, exit 0; with --json only "[]" and nothing logged about it', async () => {
    const env = baseEnv({ WALG_FILE_PREFIX: join(tmp(), 'empty') });
    const plain = await walg(['backup-list'], env);
    assert.equal(plain.code, 0, plain.stderr);
    assert.equal(plain.stdout.toString(), '');
    assert.match(plain.stderr, /^INFO: .* No backups found$/m);
    for (const l of plain.stderr.trim().split('\n')) assert.match(l, LOG_LINE);
    const json = await walg(['backup-list', '--json', '--detail'], env);
    assert.equal(json.code, 0, json.stderr);
    assert.equal(json.stdout.toString(), '[]\n');
    assert.doesNotMatch(json.stderr, /No backups found/);
  });

  test('plain lists by sentinel time; --detail orders by start time; missing metadata.json falls back to the sentinel', async () => {
    const root = join(tmp(), 'store');
    const fs = new FileStorage(root);
    // F2 is uploaded after F1 but its backup started earlier (start times come from the index argument).
    await writeBackup(fs, BACKUPS[1]!, 5);
    await new Promise((r) => setTimeout(r, 20));
    await writeBackup(fs, BACKUPS[4]!, 1);
    await new Promise((r) => setTimeout(r, 20));
    await writeBackup(fs, { ...BACKUPS[7]!, noMetadata: true }, 7);
    const env = baseEnv({ WALG_FILE_PREFIX: root });
    const plain = await walg(['backup-list'], env);
    assert.equal(plain.code, 0, plain.stderr);
    assert.match(plain.stderr, /List backups from storages: \[default\]/);
    const col = (out: Buffer) => out.toString().trim().split('\n').slice(1).map((l) => l.split(' ')[0]);
    assert.deepEqual(col(plain.stdout), [B.F1, B.F2, B.F3]);
    const detail = await walg(['backup-list', '--detail'], env);
    assert.equal(detail.code, 0, detail.stderr);
    assert.deepEqual(col(detail.stdout), [B.F2, B.F1, B.F3]);
    assert.match(detail.stderr, new RegExp(`WARNING: .* Backup ${B.F3} has no metadata.json`));
    const json = JSON.parse((await walg(['backup-list', '--json', '--detail'], env)).stdout.toString()) as Array<Record<string, unknown>>;
    assert.deepEqual(json.map((o) => o.backup_name), [B.F2, B.F1, B.F3]);
    assert.equal(json[0]!.user_data && (json[0]!.user_data as { y: number }).y, 4);
    const pretty = await walg(['backup-list', '--pretty'], env);
    assert.match(pretty.stdout.toString(), /^\| # \| BACKUP NAME +\| MODIFIED +\| WAL FILE NAME +\| STORAGE NAME \|$/m);
  });
});

describe('backup-mark', () => {
  test('CLI: backup-mark with ancestors, -i refused with exit 1, already-permanent warning', async () => {
    const root = join(tmp(), 'mark');
    const fs = new FileStorage(root);
    await populate(fs);
    const env = baseEnv({ WALG_FILE_PREFIX: root });
    const ok = await walg(['backup-mark', B.D3b], env);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stderr, new RegExp(`Retrieved backups to be marked, marking: \\[${B.F3} ${B.D3a} ${B.D3b}\\]`));
    const json = JSON.parse((await walg(['backup-list', '--detail', '--json'], env)).stdout.toString()) as Array<{ backup_name: string; is_permanent: boolean }>;
    assert.deepEqual(json.filter((o) => o.is_permanent).map((o) => o.backup_name), [B.P, B.F3, B.D3a, B.D3b]);
    const refused = await walg(['backup-mark', '-i', B.F3], env);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, new RegExp(`^ERROR: .* Can't mark backup '${B.F3}' as impermanent\\. There is permanent increment backup that depends on this backup\\.$`, 'm'));
    const again = await walg(['backup-mark', B.P], env);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stderr, new RegExp(`^WARNING: .* Backup ${B.P} is already marked as permanent, ignoring\\.\\.\\.$`, 'm'));
    const un = await walg(['backup-mark', '--impermanent', B.D3b], env);
    assert.equal(un.code, 0, un.stderr);
    assert.equal((await meta(fs, B.D3b)).is_permanent, false);
  });
});
