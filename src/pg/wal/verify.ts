// wal-verify (WAL-G's wal_verify_handler.go, integrity_check_runner.go, timeline_check_runner.go): walks the archive
// backwards from the cluster's current segment, across timeline switches, to the start of the earliest usable
// backup, classifying every segment; and compares the cluster's timeline with the highest one in storage.

import { stringifyGo } from '../../backup/json.ts';
import { UsageError, WalgError, describeError } from '../../core/errors.ts';
import { log } from '../../core/log.ts';
import type { Storage } from '../../storage/types.ts';
import { formatLsn, parseLsn } from '../lsn.ts';
import type { WalReadOptions } from './fetch.ts';
import { formatWalName, tryParseWalName } from '../wal-name.ts';
import type { WalSegment } from '../wal-name.ts';
import {
  backupStartSegment, goPrettyTable, listWalFolder, loadBackupDetails, readTimelineHistory, segNoOfLsn, trimFileExtension,
} from './show.ts';
import type { BackupDetail, HistoryRecord } from './show.ts';

/** The checks, in the order their results are printed. */
export const WAL_VERIFY_CHECKS = ['integrity', 'timeline'] as const;
export type WalVerifyCheck = (typeof WAL_VERIFY_CHECKS)[number];

/** compat: WalVerifyCheckStatus strings. */
export type CheckStatus = 'OK' | 'WARNING' | 'FAILURE';

/** compat: ScannedSegmentStatus strings. */
export type SegmentStatus = 'MISSING_LOST' | 'MISSING_UPLOADING' | 'MISSING_DELAYED' | 'FOUND';

/** A run of consecutive scanned segments on one timeline with one status (compat: IntegrityScanSegmentSequence). */
export interface IntegritySequence {
  timelineId: number;
  startSegment: string;
  endSegment: string;
  segmentsCount: number;
  status: SegmentStatus;
}

/** Result of the integrity check; details is null when nothing was scanned (compat: a nil slice). */
export interface IntegrityResult { status: CheckStatus; details: IntegritySequence[] | null }

/** Result of the timeline check. */
export interface TimelineResult { status: CheckStatus; details: { currentTimelineId: number; highestStorageTimelineId: number } }

/** Results of the checks that were run. */
export interface WalVerifyResults { integrity?: IntegrityResult; timeline?: TimelineResult }

/** One segment the integrity scan visited. */
export interface ScannedSegment extends WalSegment { status: SegmentStatus }

/** How the integrity scan walks the archive. */
export interface IntegrityScanInput {
  /** The cluster's current segment (not checked itself: it is still being written). */
  current: WalSegment;
  /** Segment number where the walk ends (inclusive): the start of the earliest backup, or 1. */
  stopSegNo: number;
  /** Archived segments, as segmentKey() strings. */
  archived: ReadonlySet<string>;
  /** Timeline switches of the current timeline's history, by the segment number of the switch LSN. */
  switches: ReadonlyMap<number, HistoryRecord>;
  /** WALG_UPLOAD_CONCURRENCY: size of the "probably still uploading" window. */
  uploadingRange: number;
  /** WALG_INTEGRITY_MAX_DELAYED_WALS: size of the "probably delayed" window. */
  delayedRange: number;
  segmentSize: number;
}

/** Key of a segment in IntegrityScanInput.archived. */
export function segmentKey(timeline: number, segNo: number): string {
  return `${timeline}:${segNo}`;
}

/** The archived segments among `wal_005/` object names, as segmentKey() strings (compat: getSegmentsFromFiles). */
export function archivedSegments(names: readonly string[], segmentSize: number): Set<string> {
  const out = new Set<string>();
  for (const n of names) {
    const s = tryParseWalName(trimFileExtension(n), segmentSize);
    if (s) out.add(segmentKey(s.timeline, s.segNo));
  }
  return out;
}

/** compat: createTimelineSwitchMap — history records keyed by the segment number of their switch LSN. */
export function timelineSwitchMap(history: readonly HistoryRecord[] | undefined, segmentSize: number): Map<number, HistoryRecord> {
  const m = new Map<number, HistoryRecord>();
  for (const r of history ?? []) m.set(segNoOfLsn(r.lsn, segmentSize), r);
  return m;
}

/**
 * compat: WalSegmentRunner + WalSegmentScanner + runWalIntegrityScan. Walks from the segment before `current`
 * down to `stopSegNo`, switching to the parent timeline below each switch segment of the history (unless the
 * segment below exists on the current timeline: such a record is not from our history). In order:
 * up to `delayedRange` segments until the first archived one (missing = MISSING_DELAYED), then `uploadingRange`
 * segments (missing = MISSING_UPLOADING), then the rest (missing = MISSING_LOST). Returns the visited segments in
 * walk order (newest first).
 */
export function scanIntegrity(input: IntegrityScanInput): ScannedSegment[] {
  const out: ScannedSegment[] = [];
  let cur: WalSegment = { ...input.current };
  const nextSegment = (): WalSegment => {
    const next = { timeline: cur.timeline, segNo: cur.segNo - 1 };
    const rec = input.switches.get(cur.segNo);
    if (rec) {
      log.debug(`found timeline switch at LSN ${formatLsn(rec.lsn)}`);
      if (input.archived.has(segmentKey(next.timeline, next.segNo))) {
        log.warn(`timeline switch at LSN ${formatLsn(rec.lsn)} is not from our history. Skipping it`);
        return next;
      }
      next.timeline = rec.timeline;
    }
    return next;
  };
  /** One Scan() call; returns when its limit is used up, the stop segment is reached, or (if asked) a segment is found. */
  const scan = (limit: number | undefined, stopOnFound: boolean, missing: SegmentStatus): void => {
    for (let i = 0; limit === undefined || i < limit; i++) {
      if (cur.segNo <= input.stopSegNo) return;
      cur = nextSegment();
      const found = input.archived.has(segmentKey(cur.timeline, cur.segNo));
      out.push({ ...cur, status: found ? 'FOUND' : missing });
      if (found && stopOnFound) return;
    }
  };
  scan(input.delayedRange, true, 'MISSING_DELAYED');
  scan(input.uploadingRange, false, 'MISSING_UPLOADING');
  scan(undefined, false, 'MISSING_LOST');
  return out;
}

/** compat: collapseSegmentsByStatusAndTimeline — ascending runs of one timeline and status; null when empty. */
export function collapseSegments(scanned: readonly ScannedSegment[], segmentSize: number): IntegritySequence[] | null {
  if (scanned.length === 0) return null;
  const sorted = [...scanned].sort((a, b) => a.segNo - b.segNo);
  const out: IntegritySequence[] = [];
  let run: ScannedSegment[] = [sorted[0]!];
  const flush = () => {
    const first = run[0]!;
    const last = run[run.length - 1]!;
    out.push({
      timelineId: first.timeline,
      startSegment: formatWalName(first.timeline, first.segNo, segmentSize),
      endSegment: formatWalName(first.timeline, last.segNo, segmentSize),
      segmentsCount: run.length,
      status: first.status,
    });
  };
  for (const s of sorted.slice(1)) {
    const head = run[0]!;
    if (s.status !== head.status || s.timeline !== head.timeline) {
      flush();
      run = [s];
    } else run.push(s);
  }
  flush();
  return out;
}

/**
 * compat: newWalIntegrityCheckResult — FAILURE on a MISSING_LOST run, except that without any backup the lost
 * runs below the oldest archived segment only warn (the true start of the archive is unknown); WARNING for
 * delayed or uploading segments; else OK.
 */
export function integrityStatus(seqs: readonly IntegritySequence[] | null, noBackupsFound: boolean): CheckStatus {
  let status: CheckStatus = 'OK';
  let prevFound = false;
  for (const s of seqs ?? []) {
    if (s.status === 'FOUND') prevFound = true;
    else if (s.status === 'MISSING_LOST') {
      if (noBackupsFound && !prevFound) status = 'WARNING';
      else return 'FAILURE';
    } else status = 'WARNING';
  }
  return status;
}

/**
 * compat: checkBackupIsCorrect — whether a backup can start the integrity range: not permanent (unless it was
 * named explicitly), and, when the current timeline has a history, its start lies on the current timeline's
 * ancestry: not before its own timeline began, and before its timeline's switch when that is not the current one.
 */
export function checkBackupIsCorrect(
  b: BackupDetail, start: WalSegment, currentTimeline: number, switchSegNoByTimeline: ReadonlyMap<number, number>, allowPermanent: boolean,
): boolean {
  if (b.metadata.is_permanent && !allowPermanent) {
    log.warn(`checkBackupIsCorrect: ${b.name}: backup is permanent, it is not eligible to be selected as the earliest backup for wal-verify.`);
    return false;
  }
  if (switchSegNoByTimeline.size === 0) return true;
  if (start.timeline > 1) {
    const began = switchSegNoByTimeline.get(start.timeline - 1);
    if (began !== undefined && start.segNo < began) {
      log.warn(`checkBackupIsCorrect: ${b.name}: backup start segment number ${start.segNo} is less than the backup timeline start segment number ${began}.`);
      return false;
    }
  }
  if (start.timeline === currentTimeline) return true;
  const ended = switchSegNoByTimeline.get(start.timeline);
  if (ended === undefined) {
    log.warn(`checkBackupIsCorrect: ${b.name}: backup timeline ${start.timeline} is not present in .history file and is not current.`);
    return false;
  }
  if (start.segNo >= ended) {
    log.warn(`checkBackupIsCorrect: ${b.name}: backup start segment number ${start.segNo} should be less than the backup timeline end segment number ${ended}.`);
    return false;
  }
  return true;
}

function switchSegNos(switches: ReadonlyMap<number, HistoryRecord>, segmentSize: number): Map<number, number> {
  const m = new Map<number, number>();
  for (const r of switches.values()) m.set(r.timeline, segNoOfLsn(r.lsn, segmentSize));
  return m;
}

/**
 * compat: findEarliestBackup — the correct backup with the lowest start segment number (the first one met wins a
 * tie). Backups whose name holds no WAL file name are skipped. Throws WalgError when there is none.
 */
export function findEarliestBackup(
  backups: readonly BackupDetail[], currentTimeline: number, switches: ReadonlyMap<number, HistoryRecord>, segmentSize: number,
): { backup: BackupDetail; segNo: number } {
  const bySwitch = switchSegNos(switches, segmentSize);
  let best: { backup: BackupDetail; segNo: number } | undefined;
  for (const b of backups) {
    const start = backupStartSegment(b, segmentSize);
    if (!start) continue;
    if (!checkBackupIsCorrect(b, start, currentTimeline, bySwitch, false)) continue;
    if (!best || best.segNo > start.segNo) best = { backup: b, segNo: start.segNo };
  }
  if (!best) throw new WalgError('Could not find any correct backup in storage');
  return best;
}

/** compat: tryFindHighestTimelineID — the highest timeline among segment and `.history` names; others are logged. */
export function highestTimeline(names: readonly string[], segmentSize: number): number {
  let highest = 0;
  for (const n of names) {
    const base = trimFileExtension(n);
    let tli = tryParseWalName(base, segmentSize)?.timeline;
    if (tli === undefined) {
      const m = /^([0-9a-fA-F]+)\.history(\.\w+)?$/.exec(base);
      const v = m && m[1]!.length <= 8 ? Number.parseInt(m[1]!, 16) : undefined;
      if (v !== undefined && Number.isFinite(v)) tli = v;
    }
    if (tli === undefined) {
      log.warn(`Could not parse the timeline Id from ${n}. Skipping...`);
      continue;
    }
    if (tli > highest) highest = tli;
  }
  return highest;
}

/** compat: newTimelineCheckResult — WARNING when storage has no timeline at all, else OK only on equality. */
export function timelineCheck(currentTimeline: number, highest: number): TimelineResult {
  const status: CheckStatus = highest === 0 ? 'WARNING' : currentTimeline === highest ? 'OK' : 'FAILURE';
  return { status, details: { currentTimelineId: currentTimeline, highestStorageTimelineId: highest } };
}

/** Options of walVerify. */
export interface WalVerifyOptions extends WalReadOptions {
  checks: readonly WalVerifyCheck[];
  /** The cluster's current segment (from the database, or --timeline/--lsn). */
  current: WalSegment;
  /** --backup-name: start the integrity range at this backup instead of the earliest correct one. */
  backupName?: string;
  segmentSize: number;
  /** WALG_UPLOAD_CONCURRENCY. */
  uploadConcurrency: number;
  /** WALG_INTEGRITY_MAX_DELAYED_WALS. */
  maxDelayedSegments: number;
  /** Parallel metadata.json reads. */
  concurrency?: number;
}

/** Where the integrity walk stops, and whether that is only a guess because no usable backup exists. */
async function integrityStop(storage: Storage, opts: WalVerifyOptions, switches: Map<number, HistoryRecord>): Promise<{ stop: number; noBackups: boolean }> {
  const tli = opts.current.timeline;
  if (opts.backupName === undefined) {
    try {
      const backups = await loadBackupDetails(storage, { signal: opts.signal, concurrency: opts.concurrency });
      if (backups.length === 0) throw new WalgError('No backups found');
      const { backup, segNo } = findEarliestBackup(backups, tli, switches, opts.segmentSize);
      log.info(`Detected earliest available backup: ${backup.name}`);
      return { stop: segNo, noBackups: false };
    } catch (err) {
      log.warn(`Failed to detect earliest backup WAL segment no: '${describeError(err)}',will scan until the 0000000X0000000000000001 segment.`);
      return { stop: 1, noBackups: true };
    }
  }
  const fail = (msg: string) => new WalgError(`Failed to find specified backup start segment: ${msg}`);
  const backups = await loadBackupDetails(storage, { signal: opts.signal, concurrency: opts.concurrency });
  if (backups.length === 0) throw fail('No backups found');
  const b = backups.find((x) => x.name === opts.backupName);
  if (!b) throw fail(`Backup with specified name ${JSON.stringify(opts.backupName)} was not found`);
  const start = backupStartSegment(b, opts.segmentSize);
  if (!start || !checkBackupIsCorrect(b, start, tli, switchSegNos(switches, opts.segmentSize), true)) {
    throw fail(`Backup with specified name ${JSON.stringify(b.name)} is incorrect`);
  }
  log.info(`Detected correct backup with specified name: ${b.name}`);
  return { stop: start.segNo, noBackups: false };
}

/**
 * Runs the requested checks against `wal_005/` (listed once for both). Never fails because of what it finds
 * (that is in the result); throws only when storage or a history file cannot be read, or --backup-name names no
 * usable backup.
 */
export async function walVerify(storage: Storage, opts: WalVerifyOptions): Promise<WalVerifyResults> {
  const names = await listWalFolder(storage, opts.signal);
  const results: WalVerifyResults = {};
  for (const check of WAL_VERIFY_CHECKS) {
    if (!opts.checks.includes(check)) continue;
    log.info(`Building check runner: ${check}`);
    if (check === 'timeline') {
      log.info(`Running the check: ${check}`);
      results.timeline = timelineCheck(opts.current.timeline, highestTimeline(names, opts.segmentSize));
      continue;
    }
    let switches: Map<number, HistoryRecord>;
    let stop: { stop: number; noBackups: boolean };
    try {
      switches = timelineSwitchMap(await readTimelineHistory(storage, opts.current.timeline, opts), opts.segmentSize);
    } catch (err) {
      throw new WalgError(`Failed to build check runner ${check}: Failed to initialize timeline history map`, { cause: err });
    }
    try {
      stop = await integrityStop(storage, opts, switches);
    } catch (err) {
      throw new WalgError(`Failed to build check runner ${check}`, { cause: err });
    }
    log.info(`Running the check: ${check}`);
    const scanned = scanIntegrity({
      current: opts.current, stopSegNo: stop.stop, archived: archivedSegments(names, opts.segmentSize), switches,
      uploadingRange: opts.uploadConcurrency, delayedRange: opts.maxDelayedSegments, segmentSize: opts.segmentSize,
    });
    const details = collapseSegments(scanned, opts.segmentSize);
    results.integrity = { status: integrityStatus(details, stop.noBackups), details };
  }
  return results;
}

/** compat: `wal-verify --json` — json.Marshal of the result map: keys sorted, no trailing newline. */
export function renderWalVerifyJson(r: WalVerifyResults): string {
  const o: Record<string, unknown> = {};
  if (r.integrity) {
    o.integrity = {
      status: r.integrity.status,
      details: r.integrity.details?.map((s) => ({
        timeline_id: s.timelineId, start_segment: s.startSegment, end_segment: s.endSegment, segments_count: s.segmentsCount, status: s.status,
      })) ?? null,
    };
  }
  if (r.timeline) {
    o.timeline = {
      status: r.timeline.status,
      details: { current_timeline_id: r.timeline.details.currentTimelineId, highest_storage_timeline_id: r.timeline.details.highestStorageTimelineId },
    };
  }
  return stringifyGo(o);
}

/**
 * compat: wal-verify's plain output — per check a status line, a details line, then the details: a go-pretty
 * table for integrity (the status column is a Go enum of an integer kind, so it is right-aligned), two lines for
 * timeline. WAL-G prints the checks in map order; here integrity always comes first.
 */
export function renderWalVerifyTable(r: WalVerifyResults): string {
  let out = '';
  const head = (check: string, status: string) => `[wal-verify] ${check} check status: ${status}\n[wal-verify] ${check} check details:\n`;
  if (r.integrity) {
    out += head('integrity', r.integrity.status);
    out += goPrettyTable(['TLI', 'Start', 'End', 'Segments count', 'Status'], (r.integrity.details ?? []).map((s) =>
      [s.timelineId, s.startSegment, s.endSegment, s.segmentsCount, { num: s.status }]));
  }
  if (r.timeline) {
    out += head('timeline', r.timeline.status);
    out += `Highest timeline found in storage: ${r.timeline.details.highestStorageTimelineId}\n`;
    out += `Current cluster timeline: ${r.timeline.details.currentTimelineId}\n`;
  }
  return out;
}

/**
 * The segment holding the byte before `lsn` on `timeline` (compat: --timeline/--lsn give NewWalSegmentNo(lsn - 1)).
 * Throws UsageError for a malformed LSN.
 */
export function segmentFromLsn(timeline: number, lsnText: string, segmentSize: number): WalSegment {
  let lsn: bigint;
  try { lsn = parseLsn(lsnText); } catch (err) { throw new UsageError(`failed to parse LSN '${lsnText}'`, { cause: err }); }
  return { timeline, segNo: lsn > 0n ? segNoOfLsn(lsn - 1n, segmentSize) : 0 };
}

/** compat: buildGetCurrentLsn — the receive position on a standby, the write position on a primary. */
export function currentLsnQuery(version: number): string {
  if (version >= 100000) {
    return 'SELECT CASE WHEN pg_catalog.pg_is_in_recovery() THEN pg_catalog.pg_last_wal_receive_lsn() ELSE pg_catalog.pg_current_wal_lsn() END::text AS lsn';
  }
  return 'SELECT CASE WHEN pg_catalog.pg_is_in_recovery() THEN pg_catalog.pg_last_xlog_receive_location() ELSE pg_catalog.pg_current_xlog_location() END::text AS lsn';
}

/**
 * compat: QueryCurrentWalSegment — connects with the PG* settings (node-postgres, loaded on first use), reads the
 * current LSN and the checkpoint timeline, and returns the segment of the byte before that LSN. Throws when the
 * connection or a query fails, or the server's WAL segment size differs from WALG_PG_WAL_SIZE.
 */
export async function queryCurrentWalSegment(segmentSize: number, env: NodeJS.ProcessEnv = process.env): Promise<WalSegment> {
  const { connectFailureText, connectSettings, PostgresError } = await import('../postgres-client.ts');
  const s = connectSettings(env);
  const pg = (await import('pg')).default;
  const client = new pg.Client({
    host: s.host, port: s.port, user: s.user, database: s.database, password: s.password, application_name: s.applicationName, ssl: s.ssl,
  });
  client.on('error', (err) => log.warn(`PostgreSQL connection error: ${err.message}`));
  try {
    await client.connect();
  } catch (err) {
    throw new PostgresError(`Failed to establish a connection to Postgres cluster ${connectFailureText(s, err)}`, { cause: err });
  }
  try {
    const one = async (sql: string, what: string): Promise<Record<string, unknown>> => {
      try {
        const row = (await client.query(sql)).rows[0] as Record<string, unknown> | undefined;
        if (!row) throw new Error('no row returned');
        return row;
      } catch (err) {
        throw new PostgresError(`${what}: ${describeError(err)}`, { cause: err });
      }
    };
    const version = Number((await one("select current_setting('server_version_num') as v", 'GetVersion: getting Postgres version failed')).v);
    const lsnText = (await one(currentLsnQuery(version), 'GetCurrentLsn: getting current LSN of the cluster failed')).lsn;
    if (typeof lsnText !== 'string') throw new PostgresError('GetCurrentLsn: getting current LSN of the cluster failed: the server reports no WAL position (a standby that receives no WAL stream?)');
    let timeline: number;
    if (version >= 90600) {
      const r = await one('select timeline_id::text as t, bytes_per_wal_segment::text as b from pg_catalog.pg_control_checkpoint(), pg_catalog.pg_control_init()',
        'Failed to get current timeline');
      if (Number(r.b) !== segmentSize) {
        throw new PostgresError('bytes_per_wal_segment of the server does not match expected value, you may need to set WALG_PG_WAL_SIZE');
      }
      timeline = Number(r.t);
    } else {
      const r = await one('SELECT SUBSTR(pg_catalog.pg_xlogfile_name(pg_catalog.pg_current_xlog_insert_location()), 1, 8) AS timeline', 'Failed to get current timeline');
      timeline = Number.parseInt(String(r.timeline), 16);
    }
    const seg = segmentFromLsn(timeline, lsnText, segmentSize);
    log.info(`Current WAL segment: ${formatWalName(seg.timeline, seg.segNo, segmentSize)}`);
    return seg;
  } finally {
    await client.end().catch((err: unknown) => log.warn(describeError(err)));
  }
}
