// `delete` end to end on a storage holding several backups: executeDelete on MemoryStorage (every mode, --confirm,
// dry run byte-identical, sentinel-first batches, permanence). bin/wal-g on a FILE storage (exit codes, one-line
// errors, WAL-G's log lines) is tested in test/integration/delete-cli.test.ts.
import { test, describe, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryStorage } from '../../src/storage/drivers/memory.ts';
import type { Storage } from '../../src/storage/types.ts';
import { log } from '../../src/core/log.ts';
import { executeDelete } from '../../src/commands/pg/delete.ts';
import { DeleteRefusedError, BackupNotFoundError } from '../../src/backup/retention.ts';
import { UsageError } from '../../src/core/errors.ts';
import { listBackups } from '../../src/backup/sentinel.ts';
import { SENTINEL_SUFFIX, WAL_PATH, metadataKey } from '../../src/backup/layout.ts';
import { B, BACKUPS, LEFTOVERS, populate, snapshot, wal } from '../helpers/catalog-fixture.ts';
import { LOG_LINE } from '../helpers/cli.ts';

const dirs: string[] = [];
process.on('exit', () => { for (const d of dirs) rmSync(d, { recursive: true, force: true }); });
function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), 'walg-delete-'));
  dirs.push(d);
  return d;
}

// Library calls log through the process logger: send it to a file so tests can read what WAL-G would print.
const logFile = join(tmp(), 'log.txt');
before(() => log.configure('NORMAL', logFile));
let logStart = 0;
function logSince(): string {
  const all = readFileSync(logFile, 'utf8');
  const out = all.slice(logStart);
  logStart = all.length;
  return out;
}

async function fixture(leftovers = false): Promise<MemoryStorage> {
  const s = new MemoryStorage();
  await populate(s, { leftovers });
  return s;
}
const names = async (s: Storage) => (await listBackups(s)).map((b) => b.name);
const has = async (s: Storage, key: string) => s.exists(key);
const walKey = (tl: number, seg: number) => `${WAL_PATH}${wal(tl, seg)}.lz4`;
const ALL = BACKUPS.map((b) => b.name);
const without = (...gone: string[]) => ALL.filter((n) => !gone.includes(n));

/** The permanent backup, its metadata and the WAL it needs are all still there. */
async function assertPermanentSurvives(s: Storage): Promise<void> {
  assert.ok((await names(s)).includes(B.P), 'permanent backup still listed');
  assert.ok(await has(s, metadataKey(B.P)));
  for (const seg of [0x02, 0x03]) assert.ok(await has(s, walKey(1, seg)), `WAL ${seg} of the permanent backup kept`);
}

describe('delete on a MemoryStorage holding several backups (--confirm)', () => {
  test('retain 3: older chains and their WAL go; the permanent backup and its WAL stay', async () => {
    const s = await fixture();
    logSince();
    const plan = await executeDelete(s, 'retain', ['3'], { confirm: true });
    assert.deepEqual(await names(s), [B.P, B.F3, B.D3a, B.D3b]);
    assert.ok(!(await has(s, walKey(1, 0x10))) && !(await has(s, walKey(1, 0x01))));
    assert.ok(await has(s, walKey(1, 0x11)) && await has(s, walKey(2, 0x16)) && await has(s, `${WAL_PATH}00000002.history.lz4`));
    await assertPermanentSurvives(s);
    const out = logSince();
    assert.match(out, new RegExp(`^INFO: .* Object marked for deletion: basebackups_005/${B.F1}_backup_stop_sentinel.json storage=default$`, 'm'));
    assert.match(out, new RegExp(`^INFO: .* Objects deleted successfully: count=${plan.marked.length}$`, 'm'));
    for (const line of out.trim().split('\n')) assert.match(line, LOG_LINE);
  });

  test('retain FULL 2, retain FIND_FULL 4 and before FIND_FULL <delta> all cut at F2', async () => {
    for (const [mode, args] of [['retain', ['FULL', '2']], ['retain', ['FIND_FULL', '4']], ['before', ['FIND_FULL', B.D2b]]] as const) {
      const s = await fixture();
      await executeDelete(s, mode, [...args], { confirm: true });
      assert.deepEqual(await names(s), without(B.F1, B.D1a, B.D1b), `${mode} ${args.join(' ')}`);
      assert.ok(!(await has(s, walKey(1, 0x0a))) && await has(s, walKey(1, 0x0b)));
      await assertPermanentSurvives(s);
    }
  });

  test('retain --after <name> and --after <time>', async () => {
    const s = await fixture();
    await executeDelete(s, 'retain', ['2'], { confirm: true, after: B.F2 });
    assert.deepEqual(await names(s), without(B.F1, B.D1a, B.D1b));
    const t = await fixture();
    const f2Time = (await listBackups(t)).find((b) => b.name === B.F2)!.modified;
    await executeDelete(t, 'retain', ['1'], { confirm: true, after: new Date(f2Time.getTime() - 1).toISOString() });
    assert.deepEqual(await names(t), without(B.F1, B.D1a, B.D1b));
    await assertPermanentSurvives(t);
  });

  test('before <name> and before <time>', async () => {
    const s = await fixture();
    await executeDelete(s, 'before', [B.F3], { confirm: true });
    assert.deepEqual(await names(s), [B.P, B.F3, B.D3a, B.D3b]);
    const t = await fixture();
    const f3Time = (await listBackups(t)).find((b) => b.name === B.F3)!.modified;
    // MemoryStorage's clock may run a little ahead of the wall clock; pin "now" after it.
    await executeDelete(t, 'before', [new Date(f3Time.getTime() - 1).toISOString()], { confirm: true }, { now: new Date(f3Time.getTime() + 1000) });
    assert.deepEqual(await names(t), [B.P, B.F3, B.D3a, B.D3b]);
    await assertPermanentSurvives(t);
  });

  test('refusals change nothing: retain on a delta, before a delta, before FULL, future time, everything with permanent', async () => {
    const s = await fixture();
    const snap = await snapshot(s);
    await assert.rejects(executeDelete(s, 'retain', ['2'], { confirm: true }), DeleteRefusedError);
    await assert.rejects(executeDelete(s, 'before', [B.D2a], { confirm: true }), DeleteRefusedError);
    await assert.rejects(executeDelete(s, 'before', ['FULL', B.F2], { confirm: true }), UsageError);
    await assert.rejects(executeDelete(s, 'before', ['2999-01-01T00:00:00Z'], { confirm: true }), /cannot delete before future date/);
    await assert.rejects(executeDelete(s, 'everything', [], { confirm: true }), /Found permanent backups=\[base_000000010000000000000002\]/);
    await assert.rejects(executeDelete(s, 'target', [B.P], { confirm: true }), /Unable to delete permanent backup/);
    await assert.rejects(executeDelete(s, 'target', ['base_0000000100000000000000EE'], { confirm: true }), BackupNotFoundError);
    assert.deepEqual(await snapshot(s), snap);
  });

  test('everything FORCE empties the storage', async () => {
    const s = await fixture(true);
    await executeDelete(s, 'everything', ['FORCE'], { confirm: true });
    assert.equal((await snapshot(s)).size, 0);
  });

  test('target: a full with its deltas, a delta with its dependants, FIND_FULL, user data — never WAL', async () => {
    const cases: Array<[string[], { targetUserData?: string }, string[]]> = [
      [[B.F2], {}, [B.F2, B.D2a, B.D2b]],
      [[B.D1a], {}, [B.D1a, B.D1b]],
      [['FIND_FULL', B.D3a], {}, [B.F3, B.D3a, B.D3b]],
      [[], { targetUserData: '{"x":[3],"y":4}' }, [B.F2, B.D2a, B.D2b]],
    ];
    for (const [args, opts, gone] of cases) {
      const s = await fixture();
      const walBefore = (await snapshot(s)).size;
      await executeDelete(s, 'target', args, { confirm: true, ...opts });
      assert.deepEqual(await names(s), without(...gone), args.join(' '));
      for (const g of gone) assert.ok(!(await has(s, metadataKey(g))), `${g} folder removed`);
      assert.equal((await snapshot(s)).size, walBefore - gone.length * 3, 'only backup objects were deleted');
      await assertPermanentSurvives(s);
    }
  });

  test('garbage, garbage ARCHIVES, garbage BACKUPS with a leftover folder without sentinel', async () => {
    const [oldLeftover, newLeftover] = LEFTOVERS as [string, string];
    const all = await fixture(true);
    await executeDelete(all, 'garbage', [], { confirm: true });
    assert.ok(!(await has(all, oldLeftover)) && !(await has(all, walKey(1, 0x01))) && !(await has(all, walKey(1, 0x04))));
    assert.ok(await has(all, newLeftover), 'a newer folder (maybe a running backup-push) is kept');
    assert.deepEqual(await names(all), ALL);
    await assertPermanentSurvives(all);

    const archives = await fixture(true);
    await executeDelete(archives, 'garbage', ['ARCHIVES'], { confirm: true });
    assert.ok(await has(archives, oldLeftover));
    assert.ok(!(await has(archives, walKey(1, 0x04))));

    const backups = await fixture(true);
    await executeDelete(backups, 'garbage', ['BACKUPS'], { confirm: true });
    assert.ok(!(await has(backups, oldLeftover)));
    assert.ok(await has(backups, walKey(1, 0x04)));
    await assertPermanentSurvives(backups);
  });

  test('dry run (no --confirm) changes nothing, byte for byte, and logs what it would delete', async () => {
    for (const [mode, args] of [['retain', ['3']], ['before', [B.F2]], ['everything', ['FORCE']], ['target', [B.F2]], ['garbage', []]] as const) {
      const s = await fixture(true);
      const snap = await snapshot(s);
      logSince();
      const plan = await executeDelete(s, mode, [...args], {});
      assert.ok(plan.marked.length > 0);
      assert.deepEqual(await snapshot(s), snap, `${mode} dry run left the storage as it was`);
      const out = logSince();
      assert.match(out, /Object marked for deletion: /);
      assert.match(out, new RegExp(`Dry run: objects would be deleted count=${plan.marked.length}, Run with --confirm to execute`));
    }
  });

  test('nothing to delete: "No backup found for deletion" / "No objects matched the deletion criteria."', async () => {
    const s = await fixture();
    logSince();
    const plan = await executeDelete(s, 'retain', ['50'], { confirm: true });
    assert.equal(plan.evaluate, false);
    assert.match(logSince(), /INFO: .* No backup found for deletion\n/);
    await executeDelete(s, 'before', [B.P], { confirm: true }); // removes WAL 0x01, older than everything
    assert.match(logSince(), /Objects deleted successfully: count=1\n/);
    await executeDelete(s, 'before', [B.P], { confirm: true });
    assert.match(logSince(), /No objects matched the deletion criteria\.\n$/);
  });

  test('--confirm deletes every sentinel before any other object, in batches', async () => {
    const s = await fixture();
    const calls: string[][] = [];
    const spy: Storage = Object.assign(Object.create(s) as Storage, {
      delete: async (keys: readonly string[]) => { calls.push([...keys]); return s.delete(keys); },
    });
    const plan = await executeDelete(spy, 'retain', ['3'], { confirm: true }, { batchSize: 4 });
    const flat = calls.flat();
    assert.equal(flat.length, plan.marked.length);
    assert.ok(calls.every((c) => c.length <= 4));
    const sentinels = flat.filter((k) => k.endsWith(SENTINEL_SUFFIX));
    assert.equal(sentinels.length, 6);
    assert.deepEqual(flat.slice(0, 6), sentinels, 'the first deletes are the sentinels');
  });

  test('--use-sentinel-time reads start times from metadata.json; here they agree with the name order', async () => {
    const s = await fixture();
    const byName = await executeDelete(s, 'retain', ['3'], {});
    logSince();
    const byStart = await executeDelete(s, 'retain', ['3'], { useSentinelTime: true });
    assert.doesNotMatch(logSince(), /WARNING/, 'every backup has a start time: no fallback');
    assert.deepEqual(byStart.marked.map((m) => m.key), byName.marked.map((m) => m.key));
  });
});
