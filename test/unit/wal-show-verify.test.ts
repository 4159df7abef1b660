// wal-show and wal-verify on synthetic archives: two timelines with a history file (lz4, optionally encrypted), a
// `.partial` and a `.backup` file, backups on both timelines, a deleted segment; plus WAL-G's own wal-verify test
// vectors (wal_verify_handler_test.go) and the exact table/JSON output. CLI runs (exit codes, 0 on FAILURE) are in
// test/integration/wal-show-verify-cli.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryStorage } from '../../src/storage/drivers/memory.ts';
import { createLibsodiumCrypter } from '../../src/pipeline/crypt/libsodium.ts';
import { log } from '../../src/core/log.ts';
import { describeError } from '../../src/core/errors.ts';
import { formatWalName, historyFileName, parseWalName } from '../../src/pg/wal-name.ts';
import {
  goPrettyTable, parseTimelineHistory, renderWalShowJson, renderWalShowTable, segmentsByTimeline, walShow,
} from '../../src/pg/wal/show.ts';
import {
  renderWalVerifyJson, renderWalVerifyTable, scanIntegrity, segmentFromLsn, walVerify, archivedSegments, collapseSegments, integrityStatus,
} from '../../src/pg/wal/verify.ts';
import type { IntegritySequence, WalVerifyOptions } from '../../src/pg/wal/verify.ts';
import { validateArgs } from '../../src/commands/pg/wal-verify.ts';
import { archive, putBackup, putLz4 } from '../helpers/wal-archive.ts';

const SEG = 16 * 1024 * 1024;
const w = (tl: number, seg: number) => formatWalName(tl, seg);
log.discard();

test('history files and segment names parse as WAL-G does', () => {
  assert.deepEqual(parseTimelineHistory('1\t0/6000060\tno recovery target specified\n\n2\t1/A0\tbefore 2000-01-01 00:00:00+00\n# comment\n'), [
    { timeline: 1, lsn: 0x6000060n, comment: 'no recovery target specified' },
    { timeline: 2, lsn: 0x1000000a0n, comment: 'before 2000-01-01 00:00:00+00' },
  ]);
  assert.throws(() => parseTimelineHistory('1\tnot-an-lsn\tx\n'), /bad LSN/);
  const segs = segmentsByTimeline([`${w(1, 1)}.lz4`, w(1, 2), `${w(1, 3)}.partial.lz4`, `${w(1, 2)}.00000028.backup.br`,
    '00000002.history.lz4', 'garbage', `${w(3, 5)}.zst`, '0000000Y000000000000000K'], SEG);
  assert.deepEqual([...segs.entries()].map(([k, v]) => [k, [...v].sort()]), [[1, [1, 2]], [3, [5]]]);
});

test('wal-show: ranges, the missing segment by name, parents, switch points and backups per timeline', async () => {
  const s = new MemoryStorage();
  const crypter = createLibsodiumCrypter(Buffer.alloc(32, 3));
  await archive(s, { drop: [w(2, 10)], crypter });
  const infos = await walShow(s, { segmentSize: SEG, withBackups: true, crypter, decompressorCache: null });
  assert.equal(infos.length, 2);
  const [t1, t2] = infos as [typeof infos[0], typeof infos[0]];
  assert.deepEqual({ ...t1, backups: t1.backups?.map((b) => b.name) }, {
    id: 1, parentId: 0, switchPointLsn: 0n, startSegment: w(1, 1), endSegment: w(1, 5), segmentsCount: 5,
    missingSegments: [], backups: [`base_${w(1, 2)}`], segmentRangeSize: 5, status: 'OK',
  });
  assert.deepEqual({ ...t2, backups: t2.backups?.map((b) => b.name) }, {
    id: 2, parentId: 1, switchPointLsn: 0x6000060n, startSegment: w(2, 6), endSegment: w(2, 12), segmentsCount: 6,
    missingSegments: ['00000002000000000000000A'], backups: [`base_${w(2, 8)}`], segmentRangeSize: 7, status: 'LOST_SEGMENTS',
  });

  // compat: json.Marshal of []TimelineInfo — field order, LSN as a number, backups = BackupDetail, no newline.
  const json = renderWalShowJson(infos);
  assert.ok(!json.endsWith('\n'));
  const parsed = JSON.parse(json) as Array<Record<string, unknown>>;
  assert.deepEqual(Object.keys(parsed[1]!), ['id', 'parent_id', 'switch_point_lsn', 'start_segment', 'end_segment', 'segments_count',
    'missing_segments', 'backups', 'segment_range_size', 'status']);
  assert.equal(parsed[1]!.switch_point_lsn, 100663392);
  assert.deepEqual(parsed[1]!.missing_segments, ['00000002000000000000000A']);
  const b = (parsed[1]!.backups as Array<Record<string, unknown>>)[0]!;
  assert.deepEqual(Object.keys(b), ['backup_name', 'time', 'wal_file_name', 'storage_name', 'start_time', 'finish_time', 'date_fmt',
    'hostname', 'data_dir', 'pg_version', 'start_lsn', 'finish_lsn', 'is_permanent', 'system_identifier', 'uncompressed_size', 'compressed_size']);
  assert.equal(b.wal_file_name, w(2, 8));
  assert.equal(b.start_time, '2024-05-01T10:00:00.123456Z');
  assert.match(json, /"system_identifier":7365432100000000001,/, 'uint64 stays exact');
  assert.equal(b.start_lsn, 0x8000028);

  // compat: the go-pretty table; numeric columns (the LSN type too) right-aligned.
  assert.equal(renderWalShowTable(infos, true), [
    '+-----+------------+-----------------+--------------------------+--------------------------+---------------+----------------+---------------+---------------+',
    '| TLI | PARENT TLI | SWITCHPOINT LSN | START SEGMENT            | END SEGMENT              | SEGMENT RANGE | SEGMENTS COUNT | STATUS        | BACKUPS COUNT |',
    '+-----+------------+-----------------+--------------------------+--------------------------+---------------+----------------+---------------+---------------+',
    '|   1 |          0 |             0/0 | 000000010000000000000001 | 000000010000000000000005 |             5 |              5 | OK            |             1 |',
    '|   2 |          1 |       0/6000060 | 000000020000000000000006 | 00000002000000000000000C |             7 |              6 | LOST_SEGMENTS |             1 |',
    '+-----+------------+-----------------+--------------------------+--------------------------+---------------+----------------+---------------+---------------+',
    ''].join('\n'));

  const bare = await walShow(s, { segmentSize: SEG, withBackups: false, crypter, decompressorCache: null });
  assert.equal(bare[0]!.backups, undefined);
  assert.ok(!renderWalShowJson(bare).includes('backups'));
  assert.ok(!renderWalShowTable(bare, false).includes('BACKUPS COUNT'));
  assert.equal(renderWalShowJson(await walShow(new MemoryStorage(), { segmentSize: SEG, withBackups: true })), '[]');
});

/** walVerify options with WAL-G's test settings (uploading window 4, delayed window 3) unless overridden. */
function verifyOpts(current: string, extra: Partial<WalVerifyOptions> = {}): WalVerifyOptions {
  return {
    checks: ['integrity', 'timeline'], current: parseWalName(current), segmentSize: SEG, uploadConcurrency: 4, maxDelayedSegments: 3,
    decompressorCache: null, ...extra,
  };
}

const seq = (tl: number, from: number, to: number, status: IntegritySequence['status']): IntegritySequence =>
  ({ timelineId: tl, startSegment: w(tl, from), endSegment: w(tl, to), segmentsCount: to - from + 1, status });

test('wal-verify: OK on the complete archive, FAILURE naming the deleted segment, across the timeline switch', async () => {
  const full = new MemoryStorage();
  await archive(full);
  const ok = await walVerify(full, verifyOpts(w(2, 13), { uploadConcurrency: 1, maxDelayedSegments: 0 }));
  // The earliest correct backup is base_…1/02: the walk ends there, switching to timeline 1 below segment 6.
  assert.deepEqual(ok, {
    integrity: { status: 'OK', details: [seq(1, 2, 5, 'FOUND'), seq(2, 6, 12, 'FOUND')] },
    timeline: { status: 'OK', details: { currentTimelineId: 2, highestStorageTimelineId: 2 } },
  });

  const holed = new MemoryStorage();
  await archive(holed, { drop: [w(2, 10)] });
  const bad = await walVerify(holed, verifyOpts(w(2, 13), { uploadConcurrency: 1, maxDelayedSegments: 0 }));
  assert.equal(bad.integrity!.status, 'FAILURE');
  assert.deepEqual(bad.integrity!.details, [seq(1, 2, 5, 'FOUND'), seq(2, 6, 9, 'FOUND'), seq(2, 10, 10, 'MISSING_LOST'), seq(2, 11, 12, 'FOUND')]);
  const json = renderWalVerifyJson(bad);
  assert.equal(json, '{"integrity":{"status":"FAILURE","details":['
    + '{"timeline_id":1,"start_segment":"000000010000000000000002","end_segment":"000000010000000000000005","segments_count":4,"status":"FOUND"},'
    + '{"timeline_id":2,"start_segment":"000000020000000000000006","end_segment":"000000020000000000000009","segments_count":4,"status":"FOUND"},'
    + '{"timeline_id":2,"start_segment":"00000002000000000000000A","end_segment":"00000002000000000000000A","segments_count":1,"status":"MISSING_LOST"},'
    + '{"timeline_id":2,"start_segment":"00000002000000000000000B","end_segment":"00000002000000000000000C","segments_count":2,"status":"FOUND"}]},'
    + '"timeline":{"status":"OK","details":{"current_timeline_id":2,"highest_storage_timeline_id":2}}}');
  assert.equal(renderWalVerifyTable(bad), [
    '[wal-verify] integrity check status: FAILURE',
    '[wal-verify] integrity check details:',
    '+-----+--------------------------+--------------------------+----------------+--------------+',
    '| TLI | START                    | END                      | SEGMENTS COUNT |       STATUS |',
    '+-----+--------------------------+--------------------------+----------------+--------------+',
    '|   1 | 000000010000000000000002 | 000000010000000000000005 |              4 |        FOUND |',
    '|   2 | 000000020000000000000006 | 000000020000000000000009 |              4 |        FOUND |',
    '|   2 | 00000002000000000000000A | 00000002000000000000000A |              1 | MISSING_LOST |',
    '|   2 | 00000002000000000000000B | 00000002000000000000000C |              2 |        FOUND |',
    '+-----+--------------------------+--------------------------+----------------+--------------+',
    '[wal-verify] timeline check status: OK',
    '[wal-verify] timeline check details:',
    'Highest timeline found in storage: 2',
    'Current cluster timeline: 2',
    ''].join('\n'));

  // Inside the upload window the same hole is only "probably still uploading": WARNING.
  const recent = await walVerify(holed, verifyOpts(w(2, 13), { checks: ['integrity'], uploadConcurrency: 4, maxDelayedSegments: 0 }));
  assert.equal(recent.integrity!.status, 'WARNING');
  assert.deepEqual(recent.integrity!.details!.find((x) => x.startSegment === w(2, 10))?.status, 'MISSING_UPLOADING');
  assert.equal(recent.timeline, undefined, 'only the requested checks run');

  // --backup-name starts the range at that backup; an unknown name is an error.
  const named = await walVerify(holed, verifyOpts(w(2, 13), { backupName: `base_${w(2, 8)}`, checks: ['integrity'], uploadConcurrency: 1, maxDelayedSegments: 0 }));
  assert.deepEqual(named.integrity!.details![0], seq(2, 8, 9, 'FOUND'));
  await assert.rejects(walVerify(holed, verifyOpts(w(2, 13), { backupName: 'base_nope' })), (e: unknown) => describeError(e)
    === 'Failed to build check runner integrity: Failed to find specified backup start segment: Backup with specified name "base_nope" was not found');

  // Split brain: the cluster is still on timeline 1 while storage has timeline 2.
  const old = await walVerify(full, verifyOpts(w(1, 6), { checks: ['timeline'] }));
  assert.deepEqual(old.timeline, { status: 'FAILURE', details: { currentTimelineId: 1, highestStorageTimelineId: 2 } });
});

test('wal-verify matches WAL-G\'s own test vectors (uploading window 4, delayed window 3)', async () => {
  // WAL-G's tests put the switch point at 5 * WalSegmentSize + 100.
  const history = (tli: number, parent: number, lsn: string) => ({ tli, text: `${parent}\t${lsn}\tsome comment...\n\n` });
  const cases: Array<{ name: string; segs: string[]; current: string; expect: IntegritySequence[] | null; status: string; tl?: [string, number];
    history?: { tli: number; text: string }; backups?: Array<[string, boolean]>; backupName?: string }> = [
    {
      name: 'EmptyStorage', segs: [], current: '00000003000000000000000A', status: 'WARNING', tl: ['WARNING', 0],
      expect: [seq(3, 1, 2, 'MISSING_LOST'), seq(3, 3, 6, 'MISSING_UPLOADING'), seq(3, 7, 9, 'MISSING_DELAYED')],
    },
    {
      name: 'OnlyGarbageInStorage', segs: ['00000007000000000000000K', '0000000Y000000000000000K'], current: '00000003000000000000000A',
      status: 'WARNING', tl: ['WARNING', 0],
      expect: [seq(3, 1, 2, 'MISSING_LOST'), seq(3, 3, 6, 'MISSING_UPLOADING'), seq(3, 7, 9, 'MISSING_DELAYED')],
    },
    { name: 'SingleTimeline_Ok', segs: [1, 2, 3, 4].map((n) => w(5, n)), current: w(5, 5), status: 'OK', expect: [seq(5, 1, 4, 'FOUND')] },
    {
      name: 'SingleTimeline_SomeDelayed', segs: [1, 2, 3, 4].map((n) => w(5, n)), current: w(5, 8), status: 'WARNING',
      expect: [seq(5, 1, 4, 'FOUND'), seq(5, 5, 7, 'MISSING_DELAYED')],
    },
    {
      name: 'SingleTimeline_SomeUploading', segs: [1, 2, 3, 5, 7].map((n) => w(5, n)), current: w(5, 8), status: 'WARNING',
      expect: [seq(5, 1, 3, 'FOUND'), seq(5, 4, 4, 'MISSING_UPLOADING'), seq(5, 5, 5, 'FOUND'), seq(5, 6, 6, 'MISSING_UPLOADING'), seq(5, 7, 7, 'FOUND')],
    },
    {
      name: 'TwoTimelines_Ok', segs: [...[1, 2, 3, 4, 5, 6, 7, 8, 9].map((n) => w(5, n)), ...[5, 6, 7, 8].map((n) => w(6, n))],
      current: w(6, 9), status: 'OK', history: history(6, 5, '0/5000064'), expect: [seq(5, 1, 4, 'FOUND'), seq(6, 5, 8, 'FOUND')],
    },
    {
      name: 'TwoTimelines_SomeLost', segs: [...[1, 2, 4, 5, 6].map((n) => w(5, n)), ...[7, 8].map((n) => w(6, n))],
      current: w(6, 9), status: 'FAILURE', history: history(6, 5, '0/5000064'),
      expect: [seq(5, 1, 2, 'FOUND'), seq(5, 3, 3, 'MISSING_LOST'), seq(5, 4, 4, 'FOUND'), seq(6, 5, 6, 'MISSING_UPLOADING'), seq(6, 7, 8, 'FOUND')],
    },
    {
      name: 'HigherTimelineExists', segs: [...[1, 2, 3, 4].map((n) => w(5, n)), ...[3, 4].map((n) => w(7, n))],
      current: w(5, 5), status: 'OK', tl: ['FAILURE', 7], expect: [seq(5, 1, 4, 'FOUND')],
    },
    {
      name: 'WalkUntilFirstBackup', segs: [...[1, 2, 3, 4, 5, 6, 7, 8, 9].map((n) => w(5, n)), ...[5, 6, 7, 8].map((n) => w(6, n))],
      current: w(6, 9), status: 'OK', history: history(6, 5, '0/5000064'),
      backups: [[w(5, 5), false], [w(6, 7), false], [w(6, 6), false], [w(6, 2), false], [w(5, 3), true]],
      expect: [seq(6, 6, 8, 'FOUND')],
    },
    {
      name: 'ChooseBackupWithSpecificName', segs: [...[1, 2, 3, 4, 5, 6, 7, 8, 9].map((n) => w(5, n)), ...[5, 6, 7, 8].map((n) => w(6, n))],
      current: w(6, 9), status: 'OK', history: history(6, 5, '0/5000064'),
      backups: [[w(5, 5), false], [w(6, 7), true], [w(6, 6), false], [w(6, 2), false], [w(5, 3), true]], backupName: `base_${w(6, 7)}`,
      expect: [seq(6, 7, 8, 'FOUND')],
    },
  ];
  for (const c of cases) {
    const s = new MemoryStorage();
    for (const n of c.segs) await s.put(`wal_005/${n}`, Buffer.from('x'));
    if (c.history) await putLz4(s, `wal_005/${historyFileName(c.history.tli)}`, Buffer.from(c.history.text));
    for (const [n, permanent] of c.backups ?? []) await putBackup(s, `base_${n}`, '0/0', '0/0', permanent);
    const r = await walVerify(s, verifyOpts(c.current, { backupName: c.backupName }));
    assert.deepEqual(r.integrity, { status: c.status, details: c.expect }, c.name);
    const [tlStatus, highest] = c.tl ?? ['OK', parseWalName(c.current).timeline];
    assert.deepEqual(r.timeline, { status: tlStatus, details: { currentTimelineId: parseWalName(c.current).timeline, highestStorageTimelineId: highest } }, c.name);
  }
});

test('integrity scan pieces: nothing to scan gives null details; no-backup lost runs only warn below the first found', () => {
  const none = scanIntegrity({ current: { timeline: 1, segNo: 1 }, stopSegNo: 1, archived: new Set(), switches: new Map(), uploadingRange: 16, delayedRange: 0, segmentSize: SEG });
  assert.deepEqual(none, []);
  assert.equal(collapseSegments(none, SEG), null);
  assert.equal(renderWalVerifyJson({ integrity: { status: 'OK', details: null } }), '{"integrity":{"status":"OK","details":null}}');
  const archived = archivedSegments([w(1, 3), w(1, 4)], SEG);
  const scanned = scanIntegrity({ current: { timeline: 1, segNo: 5 }, stopSegNo: 1, archived, switches: new Map(), uploadingRange: 0, delayedRange: 0, segmentSize: SEG });
  const seqs = collapseSegments(scanned, SEG);
  assert.deepEqual(seqs, [seq(1, 1, 2, 'MISSING_LOST'), seq(1, 3, 4, 'FOUND')]);
  assert.equal(integrityStatus(seqs, true), 'WARNING', 'without backups the archive may simply start later');
  assert.equal(integrityStatus(seqs, false), 'FAILURE');
  assert.deepEqual(segmentFromLsn(2, '0/3000000', SEG), { timeline: 2, segNo: 2 }, 'the byte before the LSN');
  assert.deepEqual(segmentFromLsn(2, '0/3000001', SEG), { timeline: 2, segNo: 3 });
  assert.throws(() => segmentFromLsn(1, '3000000', SEG), /failed to parse LSN/);
  assert.equal(goPrettyTable(['A b'], []), '+-----+\n| A B |\n+-----+\n+-----+\n');
});

test('wal-verify argument rules', () => {
  assert.deepEqual(validateArgs(['timeline', 'integrity', 'timeline'], {}), ['integrity', 'timeline']);
  assert.throws(() => validateArgs([], {}), /at least one of the following checks should be specified: integrity, timeline/);
  assert.throws(() => validateArgs(['integrity', 'bogus'], {}), /invalid check specified: bogus/);
  assert.throws(() => validateArgs(['integrity'], { lsn: '0/1' }), /"--lsn" flag works only in conjunction with the "--timeline" flag/);
  assert.throws(() => validateArgs(['integrity'], { timeline: '1' }), /"--timeline" flag works only in conjunction with the "--lsn" flag/);
});
