// WAL file names: parse/format for several segment sizes, successor/predecessor across log-id boundaries,
// history/partial/backup detection, marker keys, and WALG_PG_WAL_SIZE validation.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  DEFAULT_WAL_SEGMENT_SIZE, compareWalSegments, formatWalName, historyFileName, isBackupHistoryName, isHistoryFileName,
  isPartialName, isWalSegmentName, nextWalName, parseWalName, previousWalName, segmentsPerLogId, timelineOfHistoryFile,
  tryParseWalName, walNameWithoutExtension, walSegmentSizeFromConfig, NotWalNameError,
} from '../../src/pg/wal-name.ts';
import { loadConfig } from '../../src/config/load.ts';

const MiB = 1024 * 1024;

test('parse and format 16 MiB segment names', () => {
  assert.equal(segmentsPerLogId(), 256);
  assert.deepEqual(parseWalName('000000010000000000000003'), { timeline: 1, segNo: 3 });
  assert.deepEqual(parseWalName('0000000A00000002000000FF'), { timeline: 10, segNo: 2 * 256 + 255 });
  assert.equal(formatWalName(10, 2 * 256 + 255), '0000000A00000002000000FF');
  assert.equal(formatWalName(0xffffffff, 0xffffffff * 256 + 255), 'FFFFFFFFFFFFFFFF000000FF');
  // compat: WAL-G's parser (strconv.ParseUint base 16) accepts lower case too.
  assert.deepEqual(parseWalName('0000000a00000002000000ff'), { timeline: 10, segNo: 767 });
});

test('segment part must fit the segment size', () => {
  assert.throws(() => parseWalName('000000010000000000000100'), NotWalNameError);
  // With 1 MiB segments there are 4096 per log id.
  assert.deepEqual(parseWalName('000000010000000000000100', 1 * MiB), { timeline: 1, segNo: 256 });
  assert.throws(() => parseWalName('000000010000000000001000', 1 * MiB), NotWalNameError);
  // With 1 GiB segments only 4.
  assert.deepEqual(parseWalName('000000010000000100000003', 1024 * MiB), { timeline: 1, segNo: 7 });
  assert.throws(() => parseWalName('000000010000000000000004', 1024 * MiB), NotWalNameError);
});

test('non-segment names are rejected', () => {
  for (const n of ['00000001000000000000000', '0000000100000000000000001', '00000002.history', 'RECOVERYXLOG',
    '000000010000000000000003.partial', '00000001000000000000000G']) {
    assert.equal(isWalSegmentName(n), false, n);
    assert.equal(tryParseWalName(n), undefined, n);
    assert.throws(() => parseWalName(n), NotWalNameError, n);
  }
  assert.equal(isWalSegmentName('000000010000000000000003'), true);
});

test('next and previous names cross log-id boundaries', () => {
  assert.equal(nextWalName('000000010000000000000003'), '000000010000000000000004');
  assert.equal(nextWalName('0000000100000000000000FF'), '000000010000000100000000');
  assert.equal(previousWalName('000000010000000100000000'), '0000000100000000000000FF');
  assert.equal(nextWalName('000000010000000000000FFF', 1 * MiB), '000000010000000100000000');
  assert.equal(nextWalName('000000020000000000000001', 64 * MiB), '000000020000000000000002');
  assert.equal(nextWalName('00000002000000000000003F', 64 * MiB), '000000020000000100000000');
  assert.throws(() => previousWalName('000000010000000000000000'), NotWalNameError);
  assert.throws(() => nextWalName('00000002.history'), NotWalNameError);
});

test('ordering by timeline, then segment', () => {
  const a = parseWalName('000000010000000000000009');
  const b = parseWalName('00000002000000000000000A');
  const c = parseWalName('000000020000000000000001');
  assert.ok(compareWalSegments(a, b) < 0);
  assert.ok(compareWalSegments(c, a) > 0, 'a higher timeline is newer even with a lower segment');
  assert.ok(compareWalSegments(c, b) < 0);
  assert.equal(compareWalSegments(b, parseWalName('00000002000000000000000A')), 0);
});

test('history, partial and backup names', () => {
  assert.equal(historyFileName(2), '00000002.history');
  assert.equal(historyFileName(0x1a), '0000001A.history');
  assert.equal(isHistoryFileName('0000001A.history'), true);
  assert.equal(isHistoryFileName('0000001A.history.lz4'), false);
  assert.equal(timelineOfHistoryFile('0000001A.history'), 26);
  assert.equal(timelineOfHistoryFile('000000010000000000000001'), undefined);
  assert.equal(isPartialName('000000010000000000000005.partial'), true);
  assert.equal(isPartialName('00000002.partial'), false);
  assert.equal(isBackupHistoryName('000000010000000000000002.00000028.backup'), true);
  assert.equal(isBackupHistoryName('000000010000000000000002.backup'), false);
});

test('marker key drops the last extension only (compat: asm.GetOnlyWalName)', () => {
  assert.equal(walNameWithoutExtension('pg_wal/000000010000000000000003'), '000000010000000000000003');
  assert.equal(walNameWithoutExtension('000000010000000000000003.ready'), '000000010000000000000003');
  assert.equal(walNameWithoutExtension('/x/000000010000000000000005.partial'), '000000010000000000000005');
  assert.equal(walNameWithoutExtension('00000002.history.ready'), '00000002.history');
  assert.equal(walNameWithoutExtension('00000002.history'), '00000002');
});

test('WALG_PG_WAL_SIZE: default 16 MiB, powers of two 1..1024 only', async () => {
  const cfg = (v?: string) => loadConfig({ env: v === undefined ? {} : { WALG_PG_WAL_SIZE: v } });
  assert.equal(walSegmentSizeFromConfig(await cfg()), DEFAULT_WAL_SEGMENT_SIZE);
  assert.equal(walSegmentSizeFromConfig(await cfg('64')), 64 * MiB);
  assert.equal(walSegmentSizeFromConfig(await cfg('1')), MiB);
  for (const bad of ['0', '3', '2048', '-16']) {
    const c = await cfg(bad);
    assert.throws(() => walSegmentSizeFromConfig(c), /WALG_PG_WAL_SIZE must be a power of two/);
  }
});
