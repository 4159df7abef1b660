// Redis pure parts (issue 19): the sentinel as WAL-G v3.0.9 writes it (field order, omitempty, zero times, decode
// defaults), INFO parsing, the restore version rule, the manifest parser, the purge planner, and the flavour switch.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeRedisSentinel, encodeRedisSentinel, parseServerData } from '../../src/redis/sentinel.ts';
import type { RedisSentinel } from '../../src/redis/sentinel.ts';
import { restoreCompatible } from '../../src/redis/server.ts';
import { manifestFiles } from '../../src/redis/aof-push.ts';
import { planRedisPurge } from '../../src/redis/retention.ts';
import { redisFlavorArgs } from '../../src/cli/flavor-argv.ts';

test('the sentinel is written in WAL-G order with its omitempty rules', () => {
  // Captured from WAL-G v3.0.9 wal-g-redis backup-push --type aof.
  const walg = '{"BackupName":"aof_20261203T155651Z","StartLocalTime":"2026-12-03T15:56:51.288211Z","FinishLocalTime":"2026-12-03T15:56:51.305003Z","Permanent":false,"DataSize":277,"BackupSize":436,"BackupType":"aof","Version":"7.0.15","UsedMemory":1108784,"UsedMemoryRss":7213056,"MaxDBNumber":3,"TSStartTime":"0001-01-01T00:00:00Z","TSFinishTime":"0001-01-01T00:00:00Z"}';
  const s = decodeRedisSentinel(walg, 'aof_20261203T155651Z');
  assert.equal(encodeRedisSentinel(s), walg);
  const rdb: RedisSentinel = { BackupName: 'stream_x', StartLocalTime: '2026-12-03T15:56:45.948888Z', FinishLocalTime: '2026-12-03T15:56:50.156177Z', Permanent: true, MaxDBNumber: 0, UserData: { a: 1 } };
  assert.equal(encodeRedisSentinel(rdb), '{"BackupName":"stream_x","StartLocalTime":"2026-12-03T15:56:45.948888Z","FinishLocalTime":"2026-12-03T15:56:50.156177Z","UserData":{"a":1},"Permanent":true,"MaxDBNumber":0,"TSStartTime":"0001-01-01T00:00:00Z","TSFinishTime":"0001-01-01T00:00:00Z"}');
  // compat: fetchSentinel fills an empty name and type.
  const bare = decodeRedisSentinel('{"permanent":true}', 'stream_y');
  assert.equal(bare.BackupName, 'stream_y');
  assert.equal(bare.BackupType, 'rdb');
  assert.equal(bare.Permanent, true);
  assert.throws(() => decodeRedisSentinel('[1]', 'z'), /not a JSON object/);
});

test('INFO memory and keyspace give the sentinel figures', () => {
  const d = parseServerData('# Memory\r\nused_memory:1014120\r\nused_memory_human:990K\r\nused_memory_rss:7081984\r\n', '# Keyspace\r\ndb0:keys=1,expires=0\r\ndb3:keys=1,expires=0\r\n');
  assert.deepEqual(d, { usedMemory: 1014120, usedMemoryRss: 7081984, maxDbNumber: 3 });
  assert.deepEqual(parseServerData('', ''), { usedMemory: 0, usedMemoryRss: 0, maxDbNumber: 0 });
});

test('an AOF backup restores onto the same or a newer major.minor', () => {
  assert.equal(restoreCompatible('7.0.15', '7.0'), true);
  assert.equal(restoreCompatible('7.0.15', '7.2.4'), true);
  assert.equal(restoreCompatible('7.0.15', '8'), true);
  assert.equal(restoreCompatible('7.2.1', '7.0.15'), false);
  assert.equal(restoreCompatible('7.0.15', '6.2'), false);
  assert.throws(() => restoreCompatible('7.0', 'x.y'), /restore version error/);
});

test('the manifest names the files of the set', () => {
  assert.deepEqual(manifestFiles('file appendonly.aof.1.base.rdb seq 1 type b\nfile appendonly.aof.1.incr.aof seq 1 type i\n', 'm'),
    ['appendonly.aof.1.base.rdb', 'appendonly.aof.1.incr.aof']);
  assert.throws(() => manifestFiles('', 'm'), /no records in manifest file m/);
  assert.throws(() => manifestFiles('file x seq 1\n', 'm'), /unexpected line format/);
});

test('purge: permanent kept and not counted, then the count, then strictly after the time', () => {
  const b = (name: string, minute: number, permanent = false) => ({
    name, sentinel: { BackupName: name, StartLocalTime: `2026-12-03T10:${String(minute).padStart(2, '0')}:00Z`, FinishLocalTime: `2026-12-03T10:${String(minute).padStart(2, '0')}:30Z`, Permanent: permanent, MaxDBNumber: 0 },
  });
  const all = [b('a', 1), b('b', 2, true), b('c', 3), b('d', 4), b('e', 5)];
  assert.deepEqual(planRedisPurge(all, {}), { purge: [], retain: ['e', 'd', 'c', 'b', 'a'] });
  assert.deepEqual(planRedisPurge(all, { retainCount: 2 }), { purge: ['c', 'a'], retain: ['e', 'd', 'b'] });
  assert.deepEqual(planRedisPurge(all, { retainCount: 1, retainAfter: new Date('2026-12-03T10:02:30Z') }), { purge: ['a'], retain: ['e', 'd', 'c', 'b'] });
  // Strictly after: a backup that started at the time itself goes.
  assert.deepEqual(planRedisPurge(all, { retainAfter: new Date('2026-12-03T10:04:00Z') }), { purge: ['d', 'c', 'a'], retain: ['e', 'b'] });
});

test('wal-g redis and wal-g-redis select the Redis tree', () => {
  assert.deepEqual(redisFlavorArgs(['redis', 'backup-list'], 'wal-g', '/usr/bin/wal-g'), ['backup-list']);
  assert.deepEqual(redisFlavorArgs(['backup-list'], 'wal-g-redis', '/usr/bin/node'), ['backup-list']);
  assert.equal(redisFlavorArgs(['backup-list'], 'wal-g', '/usr/bin/wal-g'), undefined);
});
