// PostgreSQL's retention rules, the ones that know WAL (compat: internal/databases/postgres/delete.go): objects sort
// by the timeline and segment in their names (or by backup start time with --use-sentinel-time), and a permanent
// backup keeps the WAL segments from its start to its finish LSN. Binds them to the generic planners of
// src/backup/retention-plan.ts for `wal-g delete retain|before|everything|target|garbage`.

import { WAL_PATH } from '../../backup/layout.ts';
import * as plan from '../../backup/retention-plan.ts';
import type { ArchiveProtection, DeleteModifier, DeletePlan, Less, RetentionBackup, RetentionInput, RetentionRules } from '../../backup/retention.ts';
import { DEFAULT_WAL_SEGMENT_SIZE, formatWalName, tryParseWalName } from '../wal-name.ts';

/** The PostgreSQL planner input: the generic snapshot plus the cluster's WAL segment size. */
export interface PgRetentionInput extends RetentionInput {
  /** WAL segment size in bytes (WALG_PG_WAL_SIZE); 16 MiB by default. */
  segmentSize?: number;
}

const HEX24 = /[0-9A-F]{24}/;
const BACKUP_NAME_IN = /base_[0-9A-F]{24}(_D_[0-9A-F]{24})?(_[0-9A-F]{8})?/;

/** Timeline and segment of the first 24-hex run in an object name, or undefined (then nothing compares less). */
function timelineAndSegment(name: string, segmentSize: number): { tl: number; seg: number } | undefined {
  const m = HEX24.exec(name);
  if (!m) return undefined;
  const p = tryParseWalName(m[0], segmentSize);
  return p ? { tl: p.timeline, seg: p.segNo } : undefined;
}

/**
 * compat: WAL-G's timelineAndSegmentNoLess and makeLessFunc — "less" on object names: by timeline then segment,
 * or by backup start time (--use-sentinel-time).
 */
function makeLess(segmentSize: number, startTimes?: ReadonlyMap<string, number>): Less {
  const pos = (n: string) => timelineAndSegment(n, segmentSize);
  const tlSegLess: Less = (a, b) => {
    const x = pos(a); const y = pos(b);
    return !!x && !!y && (x.tl < y.tl || (x.tl === y.tl && x.seg < y.seg));
  };
  if (!startTimes) return tlSegLess;
  // compat: non-backup objects (WAL) compare by segment number only, ignoring the timeline.
  const segLess: Less = (a, b) => { const x = pos(a); const y = pos(b); return !!x && !!y && x.seg < y.seg; };
  return (a, b) => {
    const na = BACKUP_NAME_IN.exec(a)?.[0];
    const nb = BACKUP_NAME_IN.exec(b)?.[0];
    if (!na || !nb) return segLess(a, b);
    const ta = startTimes.get(na); const tb = startTimes.get(nb);
    return ta !== undefined && tb !== undefined && ta < tb;
  };
}

/** The WAL the kept backups need: per timeline, [first, last] segment numbers. */
function walProtection(kept: ReadonlySet<string>, byName: ReadonlyMap<string, RetentionBackup>, segmentSize: number): ArchiveProtection {
  const seg = BigInt(segmentSize);
  const walRanges: Array<{ tl: number; first: number; last: number }> = [];
  for (const name of kept) {
    const b = byName.get(name);
    const fromName = timelineAndSegment(name, segmentSize);
    if (!fromName) continue; // not a PG name: nothing to map to WAL (WAL-G logs and ignores it too)
    // compat: WAL-G keeps segments (start_lsn-1)/size ..= (finish_lsn-1)/size on the timeline from the name.
    // The name's own segment is included as well (remote backups name the start without the -1).
    let first = fromName.seg;
    let last = fromName.seg;
    if (b && b.startLsn > 0n) first = Math.min(first, Number((b.startLsn - 1n) / seg));
    if (b && b.finishLsn > 0n) last = Math.max(last, Number((b.finishLsn - 1n) / seg));
    walRanges.push({ tl: fromName.tl, first, last });
  }
  return {
    protects(key: string): boolean {
      if (!key.startsWith(WAL_PATH) || key.length < WAL_PATH.length + 24) return false;
      // compat: a WAL object is permanent when its first 24 characters name a protected segment (so .partial,
      // .backup and _delta objects of that segment are kept as well).
      const p = tryParseWalName(key.slice(WAL_PATH.length, WAL_PATH.length + 24), segmentSize);
      return !!p && walRanges.some((r) => r.tl === p.timeline && p.segNo >= r.first && p.segNo <= r.last);
    },
    describe(storageName: string): string[] {
      const wals: string[] = [];
      for (const r of walRanges) {
        if (r.last - r.first > 1000) { wals.push(`{${formatWalName(r.tl, r.first, segmentSize)}..${formatWalName(r.tl, r.last, segmentSize)} ${storageName}}:true`); continue; }
        for (let s = r.first; s <= r.last; s++) wals.push(`{${formatWalName(r.tl, s, segmentSize)} ${storageName}}:true`);
      }
      return [...new Set(wals)].sort();
    },
  };
}

/** PostgreSQL's RetentionRules for a WAL segment size (default 16 MiB). */
export function walRetentionRules(segmentSize = DEFAULT_WAL_SEGMENT_SIZE): RetentionRules {
  return {
    less: (startTimes) => makeLess(segmentSize, startTimes),
    protectArchive: (kept, byName) => walProtection(kept, byName, segmentSize),
  };
}

const rulesFor = (input: PgRetentionInput) => walRetentionRules(input.segmentSize ?? DEFAULT_WAL_SEGMENT_SIZE);

/** `delete retain [FULL|FIND_FULL] N [--after name|time]`: keeps the newest N (and everything after --after). */
export function planRetain(input: PgRetentionInput, opts: { count: number; modifier: DeleteModifier; after?: string; storageName?: string }): DeletePlan {
  return plan.planRetain(input, opts, rulesFor(input));
}

/** `delete before [FIND_FULL] name|time`: deletes everything older than the named backup (or the first at/after time). */
export function planBefore(input: PgRetentionInput, opts: { target: string; modifier: DeleteModifier; storageName?: string }): DeletePlan {
  return plan.planBefore(input, opts, rulesFor(input));
}

/** `delete everything [FORCE]`: every object in the storage; refused while permanent backups exist unless FORCE. */
export function planEverything(input: PgRetentionInput, opts: { force: boolean; storageName?: string }): DeletePlan {
  return plan.planEverything(input, opts, rulesFor(input));
}

/** `delete target [FIND_FULL] name|LATEST` or `--target-user-data`: the backup and its dependants, never WAL. */
export function planTarget(input: PgRetentionInput, opts: { name?: string; userData?: unknown; findFull: boolean; storageName?: string }): DeletePlan {
  return plan.planTarget(input, opts, rulesFor(input));
}

/** `delete garbage [ARCHIVES|BACKUPS] [--without-backup-check]`: outdated WAL and leftovers of failed backups. */
export function planGarbage(input: PgRetentionInput, opts: { scope: 'ALL' | 'ARCHIVES' | 'BACKUPS'; withoutBackupCheck?: boolean; storageName?: string }): DeletePlan {
  return plan.planGarbage(input, opts, rulesFor(input));
}
