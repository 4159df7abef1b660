// \`wal-g delete\` through the CLI on a FILE storage holding the catalog fixture: dry run, --confirm, refusals with
// their exit codes and ERROR lines, garbage and everything FORCE. The library-level delete tests are in
// test/unit/delete.test.ts.

import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { FileStorage } from '../../src/storage/drivers/fs.ts';
import {
  B, LEFTOVERS, allBackupsWithout, assertPermanentSurvives, backupNames, populate, snapshot, wal,
} from '../helpers/catalog-fixture.ts';
import { walg, baseEnv, LOG_LINE } from '../helpers/cli.ts';
import { tempDir } from '../helpers/tmp.ts';


describe('delete through bin/wal-g on a FILE storage', () => {
  async function store(leftovers = false): Promise<{ env: Record<string, string>; fs: FileStorage }> {
    const root = join(tempDir('walg-delete-'), 'store');
    const fs = new FileStorage(root);
    await populate(fs, { leftovers });
    return { fs, env: baseEnv({ WALG_FILE_PREFIX: root }) };
  }

  test('dry run: exit 0, every marked object logged, storage untouched', async () => {
    const { fs, env } = await store();
    const snap = await snapshot(fs);
    const r = await walg(['delete', 'retain', 'FULL', '2'], env);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /^INFO: .* Backup to delete will be searched in storages: \[default\]$/m);
    assert.match(r.stderr, new RegExp(`^INFO: .* Object marked for deletion: wal_005/${wal(1, 0x0a)}\\.lz4 storage=default$`, 'm'));
    assert.match(r.stderr, /Dry run: objects would be deleted count=\d+, Run with --confirm to execute/);
    for (const line of r.stderr.trim().split('\n')) assert.match(line, LOG_LINE);
    assert.deepEqual(await snapshot(fs), snap);
  });

  test('--confirm (before or after the mode) deletes; backup-list shows what is left', async () => {
    const { fs, env } = await store();
    const r = await walg(['delete', '--confirm', 'before', 'FIND_FULL', B.D3a], env);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(await backupNames(fs), [B.P, B.F3, B.D3a, B.D3b]);
    const t = await walg(['delete', 'target', B.D3a, '--confirm'], env);
    assert.equal(t.code, 0, t.stderr);
    const list = await walg(['backup-list'], env);
    assert.equal(list.code, 0, list.stderr);
    assert.deepEqual(list.stdout.toString().trim().split('\n').slice(1).map((l) => l.split(' ')[0]), [B.P, B.F3]);
    await assertPermanentSurvives(fs);
  });

  test('refusals exit 1 with one ERROR line and change nothing', async () => {
    const { fs, env } = await store();
    const snap = await snapshot(fs);
    const cases: Array<[string[], RegExp]> = [
      [['delete', 'retain', '2', '--confirm'], /is incremental and it's predecessors cannot be deleted\. Consider FIND_FULL option\.$/],
      [['delete', 'retain', '0'], /cannot retain less than one backup\. Check out delete everything$/],
      [['delete', 'before', 'FULL', B.F2], /unsupported moodifier for delete before command$/],
      [['delete', 'before', '2999-01-01T00:00:00Z'], /cannot delete before future date$/],
      [['delete', 'everything', '--confirm'], new RegExp(`Found permanent backups=\\[${B.P}\\]$`)],
      [['delete', 'target', B.P, '--confirm'], new RegExp(`Unable to delete permanent backup ${B.P}$`)],
      [['delete', 'target', 'base_0000000100000000000000EE', '--confirm'], /Backup 'base_0000000100000000000000EE' does not exist\.$/],
      [['delete', 'garbage', 'WAL'], /expected to get one of modifiers: \[ARCHIVES BACKUPS\] as first argument$/],
    ];
    for (const [args, message] of cases) {
      const r = await walg(args, env);
      assert.equal(r.code, 1, `${args.join(' ')}: ${r.stderr}`);
      const errors = r.stderr.split('\n').filter((l) => l.startsWith('ERROR: '));
      assert.equal(errors.length, 1, r.stderr);
      assert.match(errors[0]!, message);
    }
    assert.deepEqual(await snapshot(fs), snap);
  });

  test('"No backup found for deletion" exits 0', async () => {
    const { env } = await store();
    const r = await walg(['delete', 'retain', '30', '--confirm'], env);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /^INFO: .* No backup found for deletion$/m);
  });

  test('garbage --confirm and everything FORCE --confirm', async () => {
    const { fs, env } = await store(true);
    const g = await walg(['delete', 'garbage', '--confirm'], env);
    assert.equal(g.code, 0, g.stderr);
    assert.match(g.stderr, /Running in default mode\. Will remove outdated WAL files and leftover backup files\./);
    assert.ok(!(await fs.exists(LEFTOVERS[0]!)) && await fs.exists(LEFTOVERS[1]!));
    await assertPermanentSurvives(fs);
    const e = await walg(['delete', 'everything', 'FORCE', '--confirm'], env);
    assert.equal(e.code, 0, e.stderr);
    assert.equal((await snapshot(fs)).size, 0);
  });

  test('target --target-user-data', async () => {
    const { fs, env } = await store();
    const r = await walg(['delete', 'target', '--target-user-data', '{"y":4,"x":[3]}', '--confirm'], env);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /Selecting the backup with the specified user data\.\.\./);
    assert.deepEqual(await backupNames(fs), allBackupsWithout(B.F2, B.D2a, B.D2b));
  });
});
