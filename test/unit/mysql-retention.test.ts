// Unit tests: the MySQL delete planner — retain/before/everything/target, permanent backups kept, binlogs deleted
// only when no kept backup replays them.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { planMysqlBefore, planMysqlEverything, planMysqlRetain, planMysqlTarget } from '../../src/mysql/retention.ts';
import type { MysqlRetentionBackup, MysqlRetentionInput } from '../../src/mysql/retention.ts';
import { DeleteRefusedError, BackupNotFoundError } from '../../src/backup/retention.ts';

const at = (h: number, m = 0) => new Date(Date.UTC(2024, 4, 1, h, m, 0));
const name = (h: number) => `stream_20240501T${String(h).padStart(2, '0')}0000Z`;

/** Backups at 01:00 … 04:00, each with a binlog uploaded 10 minutes before it (its BinLogStart) and one after. */
function fixture(permanent: number[] = []): MysqlRetentionInput {
  const backups: MysqlRetentionBackup[] = [1, 2, 3, 4].map((h) => ({ name: name(h), modified: at(h, 1), permanent: permanent.includes(h), binlogSince: at(h - 1, 50) }));
  const objects = [
    ...[1, 2, 3, 4].flatMap((h) => [
      { key: `basebackups_005/${name(h)}_backup_stop_sentinel.json`, lastModified: at(h, 1) },
      { key: `basebackups_005/${name(h)}/stream.lz4`, lastModified: at(h, 1) },
    ]),
    ...[1, 2, 3, 4, 5].map((h) => ({ key: `binlog_005/mysql-bin.00000${h}.lz4`, lastModified: at(h - 1, 50) })),
    { key: 'binlog_sentinel_005.json', lastModified: at(0) },
  ];
  return { backups, objects, now: at(12) };
}
const keys = (p: { marked: Array<{ key: string }> }) => p.marked.map((m) => m.key);

describe('mysql delete planner', () => {
  it('retain N: older backups and the binlogs before the kept backups\' BinLogStart', () => {
    const p = planMysqlRetain(fixture(), { count: 2, modifier: 'NONE' });
    assert.equal(p.target, name(3));
    assert.deepEqual(keys(p), [
      `basebackups_005/${name(1)}_backup_stop_sentinel.json`, `basebackups_005/${name(1)}/stream.lz4`,
      `basebackups_005/${name(2)}_backup_stop_sentinel.json`, `basebackups_005/${name(2)}/stream.lz4`,
      'binlog_005/mysql-bin.000001.lz4', 'binlog_005/mysql-bin.000002.lz4',
    ]);
    assert.deepEqual(p.deletedBackups.sort(), [name(1), name(2)]);
  });

  it('retain keeps permanent backups (their binlogs are not kept for them)', () => {
    const p = planMysqlRetain(fixture([1]), { count: 1, modifier: 'NONE' });
    assert.deepEqual(p.deletedBackups.sort(), [name(2), name(3)]);
    assert.ok(!keys(p).some((k) => k.includes(name(1))));
    assert.ok(keys(p).includes('binlog_005/mysql-bin.000001.lz4'));
    assert.ok(!keys(p).includes('binlog_005/mysql-bin.000004.lz4'), 'the kept backup\'s BinLogStart stays');
    assert.ok(!keys(p).includes('binlog_sentinel_005.json'));
  });

  it('retain more than there are: nothing to do', () => {
    const p = planMysqlRetain(fixture(), { count: 5, modifier: 'FULL' });
    assert.equal(p.evaluate, false);
    assert.deepEqual(p.marked, []);
  });

  it('before a name or a time', () => {
    assert.equal(planMysqlBefore(fixture(), { target: name(2), modifier: 'NONE' }).target, name(2));
    const p = planMysqlBefore(fixture(), { target: '2024-05-01T02:30:00Z', modifier: 'FIND_FULL' });
    assert.equal(p.target, name(3), 'the first backup at or after the time');
    assert.throws(() => planMysqlBefore(fixture(), { target: '2999-01-01T00:00:00Z', modifier: 'NONE' }), /future/);
    assert.throws(() => planMysqlBefore(fixture(), { target: name(2), modifier: 'FULL' }), DeleteRefusedError);
  });

  it('everything refuses with permanent backups unless FORCE', () => {
    assert.throws(() => planMysqlEverything(fixture([2]), { force: false }), /Found permanent backups=\[stream_20240501T020000Z\]/);
    assert.equal(planMysqlEverything(fixture([2]), { force: true }).marked.length, fixture().objects.length);
  });

  it('target deletes one backup, never binlogs, never a permanent one', () => {
    assert.deepEqual(keys(planMysqlTarget(fixture(), { name: name(2) })), [
      `basebackups_005/${name(2)}_backup_stop_sentinel.json`, `basebackups_005/${name(2)}/stream.lz4`,
    ]);
    assert.equal(planMysqlTarget(fixture(), { name: 'LATEST' }).target, name(4));
    assert.throws(() => planMysqlTarget(fixture([2]), { name: name(2) }), /Unable to delete permanent backup/);
    assert.throws(() => planMysqlTarget(fixture(), { name: 'stream_nope' }), BackupNotFoundError);
  });
});
