// The replication client's pure parts (issue 16): message framing across chunk boundaries, server notices, the
// server version and size settings, pgpass matching, the BASE_BACKUP command of each version, and wal-restore's
// and wal-receive's timeline arithmetic (compat: WAL-G's FindLastCommonPoint / GetMissingWals).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MessageSplitter, frontend, noticeText, parseNotice, sizeSetting, versionNumber } from '../../src/pg/replication/wire.ts';
import { pgpassLookup } from '../../src/pg/replication/connection.ts';
import { baseBackupCommand } from '../../src/pg/replication/base-backup.ts';
import { checkSlotName, timelineOfLsn } from '../../src/pg/replication/wal-receive.ts';
import { lastCommonPoint, missingWals, parsePgControl } from '../../src/pg/wal/restore.ts';

test('MessageSplitter: messages split anywhere across chunks come out whole, in order', () => {
  const msgs = [frontend('d', Buffer.alloc(40000, 1)), frontend('c'), frontend('Z', Buffer.from('I')), frontend('d', Buffer.from('xy'))];
  const all = Buffer.concat(msgs);
  for (const step of [1, 3, 7, 4096, 65536]) {
    const s = new MessageSplitter();
    const out = [];
    for (let i = 0; i < all.length; i += step) out.push(...s.push(all.subarray(i, i + step)));
    assert.deepEqual(out.map((m) => [m.type, m.body.length]), [['d', 40000], ['c', 0], ['Z', 1], ['d', 2]], `step ${step}`);
    assert.equal(s.pendingBytes, 0);
  }
  assert.throws(() => new MessageSplitter().push(Buffer.from([0x64, 0, 0, 0, 1])), /invalid message length/);
});

test('server notices print as pgx prints them', () => {
  const body = Buffer.concat([Buffer.from('SFATAL\0VFATAL\0C28P01\0Mpassword authentication failed for user "x"\0\0')]);
  const n = parseNotice(body);
  assert.equal(noticeText(n), 'FATAL: password authentication failed for user "x" (SQLSTATE 28P01)');
});

test('server_version and size settings', () => {
  assert.equal(versionNumber('15.10 (Debian 15.10-0+deb12u1)'), 150010);
  assert.equal(versionNumber('9.6.24'), 90624);
  assert.equal(versionNumber('17beta1'), 170000);
  assert.equal(sizeSetting('16MB'), 16 << 20);
  assert.equal(sizeSetting('1GB'), 1 << 30);
  assert.equal(sizeSetting('8192'), 8192);
  assert.throws(() => sizeSetting('lots'));
});

test('pgpass: wildcards, escapes, the replication database, sockets as localhost', () => {
  const text = '# comment\nother:5432:*:u:nope\nlocalhost:5433:replication:u:sock\\:pw\n*:*:*:u:any\n';
  assert.equal(pgpassLookup(text, { host: '/run/postgresql', port: 5433 }, 'replication', 'u'), 'sock:pw');
  assert.equal(pgpassLookup(text, { host: 'db1', port: 5432 }, 'postgres', 'u'), 'any');
  assert.equal(pgpassLookup(text, { host: 'db1', port: 5432 }, 'postgres', 'v'), undefined);
});

test('BASE_BACKUP command: option list from 15, keywords before; label quoted; MAX_RATE bounds', () => {
  assert.equal(baseBackupCommand(150004, { maxRateKb: 100 }), "BASE_BACKUP (LABEL 'wal-g', CHECKPOINT 'fast', TABLESPACE_MAP true, MANIFEST 'no', VERIFY_CHECKSUMS false, MAX_RATE 100)");
  assert.equal(baseBackupCommand(140008, { verifyChecksums: true, label: "it's" }), "BASE_BACKUP LABEL 'it''s' FAST TABLESPACE_MAP");
  assert.equal(baseBackupCommand(130000, { maxRateKb: 10 }), "BASE_BACKUP LABEL 'wal-g' FAST TABLESPACE_MAP NOVERIFY_CHECKSUMS");
});

test('wal-receive: slot names and the timeline of an LSN', () => {
  assert.equal(checkSlotName('walg_1'), 'walg_1');
  assert.throws(() => checkSlotName('bad-name'), /only \[0-9A-Za-z_\]/);
  const history = '1\t0/3000060\tno recovery target specified\n2\t0/5000000\tbefore 2000-01-01\n';
  assert.equal(timelineOfLsn(history, 0x2000000n, 3), 1);
  assert.equal(timelineOfLsn(history, 0x3000060n, 3), 2);
  assert.equal(timelineOfLsn(history, 0x6000000n, 3), 3);
});

test('wal-restore: the last common point and the missing segments (compat: WAL-G)', () => {
  const r = (timeline: number, lsn: bigint) => ({ timeline, lsn, comment: '' });
  assert.deepEqual(lastCommonPoint([], [r(1, 0x4026378n)]), { lsn: 0x4026378n, timeline: 1 });
  assert.deepEqual(lastCommonPoint([r(1, 0x3000000n), r(2, 0x5000000n)], [r(1, 0x3000000n), r(2, 0x4800000n), r(3, 0x6000000n)]), { lsn: 0x4800000n, timeline: 2 });
  assert.throws(() => lastCommonPoint([r(1, 1n)], [r(1, 2n)]), /same timeline/);
  const seg = 16 << 20;
  // Source on timeline 2 from segment 4; it has 2/4 and 2/6 locally: 2/5 is missing, down to the common segment 4.
  const local = new Map([[2, new Set([4, 6])]]);
  assert.deepEqual(missingWals(4, 1, 2, new Map([[1, 1], [2, 4]]), local, seg), ['000000020000000000000005']);
  // Nothing local on the newest timeline: everything from the common point is missing.
  assert.deepEqual(missingWals(4, 1, 2, new Map([[1, 1], [2, 4]]), new Map(), seg), ['000000020000000000000004']);
});

test('wal-restore reads pg_control: system identifier, checkpoint, timeline (11+ layout and older)', () => {
  const b = Buffer.alloc(8192);
  b.writeBigUInt64LE(7715108384819252523n, 0);
  b.writeUInt32LE(1300, 8);
  b.writeBigUInt64LE(0x4000028n, 32);
  b.writeUInt32LE(2, 48);
  assert.deepEqual(parsePgControl(b), { systemIdentifier: 7715108384819252523n, checkpoint: 0x4000028n, timeline: 2 });
  b.writeUInt32LE(960, 8);
  b.writeUInt32LE(5, 56);
  assert.equal(parsePgControl(b).timeline, 5);
  assert.throws(() => parsePgControl(Buffer.alloc(10)), /too short/);
});
