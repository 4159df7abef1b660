// wal-restore <target-pgdata> <source-pgdata>: before pg_rewind makes a former primary (the target) follow the
// new one (the source), two sets of WAL must be local. (1) compat: WAL-G's HandleWALRestore — the source's pg_wal
// must hold every segment of its timelines from the point where the histories split up to its newest one, because
// pg_rewind copies the source's pg_wal into the target, which replays it on its first start. (2) Beyond WAL-G:
// pg_rewind reads the target's own WAL from the last checkpoint before the split to the target's end, and a busy
// former primary has often recycled the start of that range; those segments are fetched into the target's pg_wal.
// The last checkpoint before the split is at or after the start of the newest base backup taken before it, so
// that start bounds the range (without such a backup, every archived segment of the target's path below the split).

import { readFile, readdir, realpath, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { WalgError } from '../../core/errors.ts';
import { log } from '../../core/log.ts';
import type { Storage } from '../../storage/types.ts';
import { formatWalName, historyFileName, tryParseWalName } from '../wal-name.ts';
import { downloadWalFile } from './fetch.ts';
import type { WalReadOptions } from './fetch.ts';
import { listWalFolder, loadBackupDetails, parseTimelineHistory, segNoOfLsn, segmentsByTimeline } from './show.ts';
import type { HistoryRecord } from './show.ts';

/** What wal-restore reads of global/pg_control (compat: PgControlData). */
export interface PgControlFacts {
  systemIdentifier: bigint;
  /** Timeline of the latest checkpoint. */
  timeline: number;
  checkpoint: bigint;
}

/** The fields of pg_control that wal-restore needs (layout of PostgreSQL 9.6+; the timeline moved in 11). */
export function parsePgControl(b: Buffer): PgControlFacts {
  if (b.length < 60) throw new WalgError(`pg_control is too short (${b.length} bytes)`);
  const version = b.readUInt32LE(8);
  return {
    systemIdentifier: b.readBigUInt64LE(0),
    checkpoint: b.readBigUInt64LE(32),
    timeline: version < 1100 ? b.readUInt32LE(56) : b.readUInt32LE(48),
  };
}

/**
 * compat: FindLastCommonPoint — where two history lists part: the first switch point they disagree on (the
 * smaller of the two) with the target's timeline there, or the last one they share.
 */
export function lastCommonPoint(target: readonly HistoryRecord[], source: readonly HistoryRecord[]): { lsn: bigint; timeline: number } {
  if (target.length === source.length) throw new WalgError('Failed to find last common point: two clusters on the same timeline');
  let lsn = 1n;
  let timeline = 1;
  if (target.length === 0) ({ lsn, timeline } = source[0]!);
  if (source.length === 0) ({ lsn, timeline } = target[0]!);
  for (let i = 0; i < target.length && i < source.length; i++) {
    const t = target[i]!;
    const s = source[i]!;
    if (t.lsn === s.lsn) {
      lsn = t.lsn;
      timeline = t.timeline;
    } else {
      lsn = t.lsn < s.lsn ? t.lsn : s.lsn;
      timeline = t.timeline;
      break;
    }
  }
  return { lsn, timeline };
}

/**
 * compat: GetMissingWals — walking the source's timelines from the newest segment it has down to the common
 * point's segment, the names not present locally (newest first). `startSeg` maps a timeline to its first segment.
 */
export function missingWals(lastSeg: number, lastTl: number, currentTl: number, startSeg: Map<number, number>,
  local: Map<number, Set<number>>, segmentSize: number): string[] {
  const out: string[] = [];
  let seg = Math.max(...(local.get(currentTl) ?? new Set([lastSeg])));
  for (let tl = currentTl; tl >= lastTl; tl--) {
    const have = local.get(tl);
    for (; seg >= (startSeg.get(tl) ?? 1); seg--) {
      if (!have?.has(seg)) out.push(formatWalName(tl, seg, segmentSize));
      if (seg === lastSeg) return out;
    }
  }
  return out;
}

async function walDir(pgdata: string): Promise<string> {
  for (const d of ['pg_wal', 'pg_xlog']) {
    try { if ((await stat(join(pgdata, d))).isDirectory()) return join(pgdata, d); } catch { /* try the next */ }
  }
  throw new WalgError(`Failed to get WAL directory name: directory for WAL files doesn't exist in ${pgdata}`);
}

async function historyRecords(timeline: number, dir: string): Promise<HistoryRecord[]> {
  if (timeline === 1) return [];
  const name = historyFileName(timeline);
  try {
    return parseTimelineHistory(await readFile(join(dir, name), 'utf8'), name);
  } catch (err) {
    throw new WalgError(`Failed to get history data: ${(err as Error).message}`, { cause: err });
  }
}

/** Options of walRestore. */
export interface WalRestoreOptions extends WalReadOptions {
  storage: Storage;
  segmentSize: number;
}

/**
 * Fetches (1) into the source's pg_wal the segments pg_rewind will copy to the target, and (2) into the target's
 * pg_wal the segments pg_rewind will read there (see the header). Throws WalgError when the clusters differ or
 * share a timeline; a segment that cannot be fetched is logged and skipped (compat), so the result names what was
 * fetched.
 */
export async function walRestore(targetPgdata: string, sourcePgdata: string, opts: WalRestoreOptions): Promise<string[]> {
  const control = async (dir: string, which: string) => {
    try { return parsePgControl(await readFile(join(dir, 'global/pg_control'))); } catch (err) {
      throw new WalgError(`Failed to get pg data on ${which} cluster: ${(err as Error).message}`, { cause: err });
    }
  };
  const target = await control(targetPgdata, 'target');
  const source = await control(sourcePgdata, 'source');
  if (target.systemIdentifier !== source.systemIdentifier) throw new WalgError('System identifiers of target and source clusters are not equal');
  if (target.timeline === source.timeline) throw new WalgError('Latest checkpoint timelines of target and source clusters are equal');
  const targetWal = await walDir(targetPgdata);
  const sourceWal = await walDir(sourcePgdata);
  const targetHistory = await historyRecords(target.timeline, targetWal);
  const sourceHistory = await historyRecords(source.timeline, sourceWal);
  const common = lastCommonPoint(targetHistory, sourceHistory);
  // compat: timelineWithSegmentNoSliceToMap — a timeline starts at its parent's switch point segment; 1 at 1.
  const startSeg = new Map<number, number>([[1, 1]]);
  for (const r of sourceHistory) startSeg.set(r.timeline + 1, segNoOfLsn(r.lsn, opts.segmentSize));
  const local = new Map<number, Set<number>>();
  for (const n of await readdir(sourceWal)) {
    const s = tryParseWalName(n, opts.segmentSize);
    if (!s) continue;
    if (!local.has(s.timeline)) local.set(s.timeline, new Set());
    local.get(s.timeline)!.add(s.segNo);
  }
  const names = missingWals(segNoOfLsn(common.lsn, opts.segmentSize), common.timeline, source.timeline, startSeg, local, opts.segmentSize);
  if (!names.length) log.info('No WAL files to restore');
  else log.info(`WAL files to restore: [${names.join(' ')}]`);
  return [...await fetchInto(names, await realpath(sourceWal), opts),
    ...await fetchTargetWal(targetWal, targetHistory, target.timeline, common.lsn, opts)];
}

/** Downloads each name into `dest`; a failure is logged and skipped (compat). Returns the names fetched. */
async function fetchInto(names: readonly string[], dest: string, opts: WalRestoreOptions): Promise<string[]> {
  const fetched: string[] = [];
  for (const name of names) {
    try {
      await downloadWalFile(opts.storage, name, join(dest, name), opts);
      log.info(`Successfully download WAL file ${name}`);
      fetched.push(name);
    } catch (err) {
      log.error(`Failed to download WAL file ${name}: ${(err as Error).message}`);
    }
  }
  return fetched;
}

/** The timeline a segment is read from on a path described by `history` (a switch segment: the newer one). */
function timelineOfSegment(segNo: number, history: readonly HistoryRecord[], current: number, segmentSize: number): number {
  for (const r of history) if (segNo < segNoOfLsn(r.lsn, segmentSize)) return r.timeline;
  return current;
}

/** Part (2) of the header: the target's own segments pg_rewind reads, missing locally and present in storage. */
async function fetchTargetWal(dir: string, history: readonly HistoryRecord[], timeline: number, split: bigint, opts: WalRestoreOptions): Promise<string[]> {
  const archived = segmentsByTimeline(await listWalFolder(opts.storage, opts.signal), opts.segmentSize);
  const local = new Map<number, Set<number>>();
  let newest = segNoOfLsn(split, opts.segmentSize);
  for (const n of await readdir(dir)) {
    const s = tryParseWalName(n, opts.segmentSize);
    if (!s) continue;
    if (!local.has(s.timeline)) local.set(s.timeline, new Set());
    local.get(s.timeline)!.add(s.segNo);
    if (s.timeline === timeline && s.segNo > newest) newest = s.segNo;
  }
  let oldest: number | undefined;
  for (const b of await loadBackupDetails(opts.storage, { signal: opts.signal }).catch(() => [])) {
    const start = b.metadata.start_lsn;
    if (start <= split) {
      const seg = segNoOfLsn(start, opts.segmentSize);
      if (oldest === undefined || seg > oldest) oldest = seg;
    }
  }
  oldest ??= Math.min(...[...archived.values()].flatMap((set) => [...set]), newest);
  const names: string[] = [];
  for (let seg = oldest; seg <= newest; seg++) {
    const tl = timelineOfSegment(seg, history, timeline, opts.segmentSize);
    if (!local.get(tl)?.has(seg) && archived.get(tl)?.has(seg)) names.push(formatWalName(tl, seg, opts.segmentSize));
  }
  if (!names.length) return [];
  log.info(`Target WAL files to restore: [${names.join(' ')}]`);
  return fetchInto(names, await realpath(dir), opts);
}
