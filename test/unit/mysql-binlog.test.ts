// Unit tests: binlog names and order, the head of a binlog file (first event time, MariaDB GTID_LIST, MySQL
// PREVIOUS_GTIDS), GTID containment, the binlogs binlog-push selects, and the binlogs fetch/replay take for
// --since/--until (upload order, since-time of a backup, --until-binlog-last-modified-time).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  MariadbGtidSet, MysqlGtidSet, binlogNameOfObject, binlogNum, binlogPrefix, parseBinlogHead,
} from '../../src/mysql/binlog.ts';
import { binlogSinceTime, binlogsCoveringInterval, fetchBinlogs, MAX_TIME } from '../../src/mysql/binlog-storage.ts';
import type { ArchivedBinlog } from '../../src/mysql/binlog-storage.ts';
import { selectBinlogsToPush } from '../../src/mysql/binlog-push.ts';
import { MemoryStorage } from '../../src/storage/drivers/memory.ts';
import type { StreamSentinel } from '../../src/mysql/sentinel.ts';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A binlog event: 19-byte header + body (+ CRC32 placeholder when checksummed). */
function event(ts: number, type: number, body: Buffer, checksum: boolean): Buffer {
  const size = 19 + body.length + (checksum ? 4 : 0);
  const h = Buffer.alloc(19);
  h.writeUInt32LE(ts, 0); h[4] = type; h.writeUInt32LE(1, 5); h.writeUInt32LE(size, 9);
  return Buffer.concat([h, body, checksum ? Buffer.alloc(4) : Buffer.alloc(0)]);
}
function fde(ts: number, checksum: boolean): Buffer {
  // binlog version, server version (50), create timestamp, header length, post-header lengths, checksum alg.
  const body = Buffer.concat([Buffer.from([4, 0]), Buffer.alloc(50), Buffer.alloc(4), Buffer.from([19]), Buffer.alloc(20), Buffer.from([checksum ? 1 : 0])]);
  return event(ts, 15, body, checksum);
}
const MAGIC = Buffer.from([0xfe, 0x62, 0x69, 0x6e]);

describe('binlog names', () => {
  it('orders by the number after the last dot', () => {
    assert.equal(binlogNum('mysql-bin.000123'), 123);
    assert.ok(binlogNum('host.bin.1000000') > binlogNum('host.bin.999999'));
    assert.equal(binlogPrefix('host.bin.000001'), 'host.bin');
    assert.throws(() => binlogNum('nodot'));
  });
  it('strips only codec extensions from object names', () => {
    assert.equal(binlogNameOfObject('binlog_005/mysql-bin.000007.lz4'), 'mysql-bin.000007');
    assert.equal(binlogNameOfObject('binlog_005/mysql-bin.000007.zst'), 'mysql-bin.000007');
    assert.equal(binlogNameOfObject('binlog_005/mysql-bin.000007'), 'mysql-bin.000007', 'none compression keeps the number');
  });
});

describe('binlog head', () => {
  it('reads the first event time and a MariaDB GTID list (checksummed)', () => {
    const list = Buffer.alloc(4 + 32);
    list.writeUInt32LE(2, 0);
    list.writeUInt32LE(0, 4); list.writeUInt32LE(1, 8); list.writeBigUInt64LE(56n, 12);
    list.writeUInt32LE(3, 20); list.writeUInt32LE(2, 24); list.writeBigUInt64LE(7n, 28);
    const head = parseBinlogHead(Buffer.concat([MAGIC, fde(1_700_000_000, true), event(1_700_000_000, 163, list, true)]));
    assert.equal(head.startTime.getTime(), 1_700_000_000_000);
    assert.equal(head.previousGtids?.toString(), '0-1-56,3-2-7');
  });
  it('reads MySQL PREVIOUS_GTIDS', () => {
    const uuid = Buffer.from('3e11fa4771ca11e19e33c80aa9429562', 'hex');
    const body = Buffer.alloc(8 + 16 + 8 + 16);
    body.writeBigUInt64LE(1n, 0); uuid.copy(body, 8); body.writeBigUInt64LE(1n, 24);
    body.writeBigUInt64LE(1n, 32); body.writeBigUInt64LE(6n, 40);
    const head = parseBinlogHead(Buffer.concat([MAGIC, fde(5, false), event(5, 35, body, false)]));
    assert.equal(head.previousGtids?.toString(), '3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5');
  });
  it('rejects what is not a binlog', () => {
    assert.throws(() => parseBinlogHead(Buffer.from('hello world, not a binlog')), /not a valid binlog/);
  });
});

describe('GTID sets', () => {
  it('MariaDB containment is per domain by sequence number', () => {
    const cur = MariadbGtidSet.parse('0-1-100,1-2-5');
    assert.ok(cur.contains(MariadbGtidSet.parse('0-1-99')));
    assert.ok(cur.contains(MariadbGtidSet.parse('')));
    assert.ok(!cur.contains(MariadbGtidSet.parse('0-1-101')));
    assert.ok(!cur.contains(MariadbGtidSet.parse('2-1-1')));
  });
  it('MySQL containment is by intervals', () => {
    const u = '3E11FA47-71CA-11E1-9E33-C80AA9429562';
    const cur = MysqlGtidSet.parse(`${u}:1-10:20-30`);
    assert.ok(cur.contains(MysqlGtidSet.parse(`${u}:2-9`)));
    assert.ok(cur.contains(MysqlGtidSet.parse(`${u.toLowerCase()}:20-30:5`)));
    assert.ok(!cur.contains(MysqlGtidSet.parse(`${u}:9-21`)));
    assert.equal(cur.toString(), '3e11fa47-71ca-11e1-9e33-c80aa9429562:1-10:20-30');
  });
});

describe('binlog-push selection', () => {
  const index = ['mysql-bin.000001', 'mysql-bin.000002', 'mysql-bin.000003', 'mysql-bin.000004'];
  it('uploads closed binlogs after the cache, never the current one', () => {
    assert.deepEqual(selectBinlogsToPush(index, undefined, { LastArchivedBinlog: '' }).toPush, index.slice(0, 3));
    assert.deepEqual(selectBinlogsToPush(index, undefined, { LastArchivedBinlog: 'mysql-bin.000002' }).toPush, ['mysql-bin.000003']);
    assert.deepEqual(selectBinlogsToPush(index, 'mysql-bin.000003', { LastArchivedBinlog: '' }).toPush, index.slice(0, 2), '--until stops before it');
    assert.deepEqual(selectBinlogsToPush(index, 'mysql-bin.000009', { LastArchivedBinlog: '' }).toPush, index.slice(0, 3), '--until beyond the current one');
  });
  it('forgets a cache from another prefix or from before RESET MASTER', () => {
    const other = selectBinlogsToPush(index, undefined, { LastArchivedBinlog: 'host-bin.000003' });
    assert.equal(other.reset, true);
    assert.deepEqual(other.toPush, index.slice(0, 3));
    assert.equal(selectBinlogsToPush(index, undefined, { LastArchivedBinlog: 'mysql-bin.000010' }).reset, true);
  });
});

describe('binlog selection for --since / --until', () => {
  const t = (s: number) => new Date(Date.UTC(2024, 0, 1, 0, 0, s));
  const b = (name: string, s: number): ArchivedBinlog => ({ key: `binlog_005/${name}.lz4`, name, size: 1, lastModified: t(s) });
  // Uploaded out of name order on purpose: upload order is what counts.
  const all = [b('mysql-bin.000001', 10), b('mysql-bin.000003', 20), b('mysql-bin.000002', 30), b('mysql-bin.000004', 40)];
  const sentinel = (start?: string): StreamSentinel => ({ BinLogStart: start, StartLocalTime: '', StopLocalTime: '', IsPermanent: false, IsIncremental: false, LSN: null });

  it('since-time: the earlier of the sentinel and its BinLogStart upload', () => {
    assert.deepEqual(binlogSinceTime(t(25), sentinel('mysql-bin.000001'), all), t(10));
    assert.deepEqual(binlogSinceTime(t(25), sentinel(), all), t(25));
    assert.deepEqual(binlogSinceTime(t(25), { ...sentinel(), StopLocalTime: '2024-01-01T00:00:22Z' }, all), t(22), 'a re-written sentinel does not move it');
  });
  it('covers the interval in upload order, the start inclusive only the first time', () => {
    assert.deepEqual(binlogsCoveringInterval(all, t(20), true, MAX_TIME).map((x) => x.name), ['mysql-bin.000003', 'mysql-bin.000002', 'mysql-bin.000004']);
    assert.deepEqual(binlogsCoveringInterval(all, t(20), false, MAX_TIME).map((x) => x.name), ['mysql-bin.000002', 'mysql-bin.000004']);
    assert.deepEqual(binlogsCoveringInterval(all, t(0), true, t(30)).map((x) => x.name), ['mysql-bin.000001', 'mysql-bin.000003', 'mysql-bin.000002'], '--until-binlog-last-modified-time');
  });

  it('fetch stops after the first binlog that starts after --until', async () => {
    const storage = new MemoryStorage();
    const file = (ts: number) => Buffer.concat([MAGIC, fde(ts, false)]);
    await storage.put('binlog_005/mysql-bin.000001', file(100));
    await storage.put('binlog_005/mysql-bin.000002', file(200));
    await storage.put('binlog_005/mysql-bin.000003', file(300));
    const dir = mkdtempSync(join(tmpdir(), 'walg-binlog-unit-'));
    try {
      const seen: string[] = [];
      const taken = await fetchBinlogs({ storage, dstDir: dir, start: new Date(0), end: new Date(150_000), endBinlog: MAX_TIME, handle: async (p, x) => { seen.push(x.name); assert.ok(readFileSync(p).subarray(0, 4).equals(MAGIC)); } });
      assert.deepEqual(seen, ['mysql-bin.000001', 'mysql-bin.000002']);
      assert.equal(taken.length, 2);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
