// wal-show (WAL-G's wal_show_handler.go): the WAL segments in `wal_005/` grouped by timeline, with each timeline's
// range, the segments missing inside it, its parent and switch point from `<tli>.history`, and the backups taken on
// it. Also the pieces wal-verify shares: listing, segment parsing, history files, backup details, go-pretty tables.

import { sortKeysDeep, storedTime, stringifyGo } from '../../backup/json.ts';
import { metadataFromSentinel } from '../../backup/catalog.ts';
import { mapLimit } from '../../core/concurrency.ts';
import { BASEBACKUPS_PATH, WAL_PATH, backupNameFromSentinel } from '../../backup/layout.ts';
import { readMetadata, readSentinel } from '../../backup/sentinel.ts';
import type { ExtendedMetadata } from '../../backup/sentinel.ts';
// The same Go JSON times as backup-list prints.
import { jsonTime } from '../../core/time.ts';
import { ArchiveNonExistenceError, CorruptObjectError, WalgError } from '../../core/errors.ts';
import { log } from '../../core/log.ts';
import { readAll } from '../../storage/body.ts';
import type { Storage } from '../../storage/types.ts';
import { formatLsn, parseLsn } from '../lsn.ts';
import { openArchivedWal } from './fetch.ts';
import type { WalReadOptions } from './fetch.ts';
import { formatWalName, historyFileName, stripWalFileName, tryParseWalName } from '../wal-name.ts';
import type { WalSegment } from '../wal-name.ts';

/** compat: wal-show's timeline statuses. */
export const TIMELINE_OK = 'OK';
export const TIMELINE_LOST_SEGMENTS = 'LOST_SEGMENTS';

/** One row of a timeline history file: timeline `timeline` ended at `lsn` (where its child begins). */
export interface HistoryRecord {
  timeline: number;
  lsn: bigint;
  comment: string;
}

/** A backup with what wal-show and wal-verify need (compat: BackupDetail = BackupTime + ExtendedMetadataDto). */
export interface BackupDetail {
  name: string;
  /** LastModified of the sentinel. */
  modified: Date;
  /** The same in nanoseconds, when the storage reports them. */
  modifiedNs?: bigint;
  /** compat: utility.StripWalFileName of the sentinel name. */
  walFileName: string;
  storageName: string;
  metadata: ExtendedMetadata;
}

/** What wal-show reports for one timeline (compat: TimelineInfo). */
export interface TimelineInfo {
  id: number;
  parentId: number;
  switchPointLsn: bigint;
  startSegment: string;
  endSegment: string;
  segmentsCount: number;
  /** Missing segment names between start and end, newest first (the order WAL-G's backwards scan finds them). */
  missingSegments: string[];
  /** Backups taken within the range; undefined when backups were not looked up or none exist. */
  backups?: BackupDetail[];
  segmentRangeSize: number;
  status: string;
}

/** Options of walShow. */
export interface WalShowOptions extends WalReadOptions {
  segmentSize: number;
  /** Look up the backups of each timeline (false = --without-backups). */
  withBackups: boolean;
  /** Parallel metadata.json reads. */
  concurrency?: number;
}

/** Names of the objects directly in `wal_005/` (compat: getFolderFilenames, a non-recursive listing). */
export async function listWalFolder(storage: Storage, signal?: AbortSignal): Promise<string[]> {
  const prefix = WAL_PATH;
  const names: string[] = [];
  for await (const e of storage.list(prefix, { signal })) {
    if (e.type === 'obj') names.push(e.key.slice(e.key.lastIndexOf('/') + 1));
  }
  return names;
}

/** compat: utility.TrimFileExtension — the name without its last `.ext`. */
export function trimFileExtension(name: string): string {
  const dot = name.lastIndexOf('.');
  return dot < 0 ? name : name.slice(0, dot);
}

/**
 * compat: getSegmentsFromFiles — the WAL segments among object names (`<24 hex>.<ext>` or bare), grouped by
 * timeline. `.history`, `.partial`, `.backup` and foreign objects are skipped.
 */
export function segmentsByTimeline(names: readonly string[], segmentSize: number): Map<number, Set<number>> {
  const out = new Map<number, Set<number>>();
  for (const n of names) {
    const seg = tryParseWalName(trimFileExtension(n), segmentSize);
    if (!seg) continue;
    let set = out.get(seg.timeline);
    if (!set) out.set(seg.timeline, (set = new Set()));
    set.add(seg.segNo);
  }
  return out;
}

/** Segment number of an LSN (compat: NewWalSegmentNo). */
export function segNoOfLsn(lsn: bigint, segmentSize: number): number {
  return Number(lsn / BigInt(segmentSize));
}

const HISTORY_LINE = /^(\d+)\t(.+)\t(.+)$/;

/**
 * compat: parseHistoryFile — one `<tli>\t<X/Y>\t<comment>` record per line; empty and non-matching lines (such
 * as comments) are skipped. Throws CorruptObjectError for a matching line with a bad timeline or LSN.
 */
export function parseTimelineHistory(text: string, name = 'history file'): HistoryRecord[] {
  const out: HistoryRecord[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (line === '') continue;
    const m = HISTORY_LINE.exec(line);
    if (!m) continue;
    const timeline = Number(m[1]);
    if (!Number.isSafeInteger(timeline) || timeline > 0xffffffff) throw new CorruptObjectError(`${name}: bad timeline '${m[1]}'`);
    let lsn: bigint;
    try { lsn = parseLsn(m[2]!); } catch (err) { throw new CorruptObjectError(`${name}: bad LSN '${m[2]}'`, { cause: err }); }
    out.push({ timeline, lsn, comment: m[3]! });
  }
  return out;
}

/**
 * Reads and parses `wal_005/<tli>.history` (any compression, decrypted). Resolves to undefined when the timeline
 * has no history file (timeline 1, or one whose history was never archived); other failures throw.
 */
export async function readTimelineHistory(storage: Storage, timeline: number, opts: WalReadOptions = {}): Promise<HistoryRecord[] | undefined> {
  const name = historyFileName(timeline);
  let obj;
  try {
    obj = await openArchivedWal(storage, name, opts);
  } catch (err) {
    if (err instanceof ArchiveNonExistenceError) return undefined;
    throw new WalgError(`Error during .history file '${name}' downloading.`, { cause: err });
  }
  return parseTimelineHistory((await readAll(obj.stream)).toString('utf8'), name);
}

/**
 * The finished backups in `basebackups_005/` with their metadata.json (compat: GetBackups + GetBackupsDetails,
 * which lists sentinels in name order and returns the details in reverse). A backup without metadata.json is
 * described from its sentinel (WAL-G would fail the whole command).
 */
export async function loadBackupDetails(storage: Storage, opts: { signal?: AbortSignal; concurrency?: number } = {}): Promise<BackupDetail[]> {
  const refs: Array<{ name: string; modified: Date; modifiedNs?: bigint }> = [];
  for await (const e of storage.list(BASEBACKUPS_PATH, { signal: opts.signal })) {
    if (e.type !== 'obj') continue;
    const name = backupNameFromSentinel(e.key);
    if (name) refs.push({ name, modified: e.lastModified, modifiedNs: e.lastModifiedNs });
  }
  refs.sort((a, b) => (a.name < b.name ? 1 : a.name > b.name ? -1 : 0));
  return mapLimit(refs, opts.concurrency ?? 10, async (r) => {
    let metadata = await readMetadata(storage, r.name);
    if (!metadata) {
      log.warn(`Backup ${r.name} has no metadata.json; using the details its sentinel holds`);
      const s = await readSentinel(storage, r.name);
      metadata = metadataFromSentinel(s, s.IsPermanent);
    }
    return { name: r.name, modified: r.modified, modifiedNs: r.modifiedNs, walFileName: stripWalFileName(r.name), storageName: storage.name, metadata };
  });
}

/** Timeline and start segment of a backup from its name, or undefined for a name without a WAL file name. */
export function backupStartSegment(b: BackupDetail, segmentSize: number): WalSegment | undefined {
  return tryParseWalName(b.walFileName, segmentSize);
}

/**
 * compat: getBackupsInRange — backups on `info`'s timeline whose start and finish segments (from the metadata
 * LSNs) lie within the timeline's segment range, compared as names like WAL-G does.
 */
export function backupsInRange(info: TimelineInfo, backups: readonly BackupDetail[], segmentSize: number): BackupDetail[] {
  const out: BackupDetail[] = [];
  for (const b of backups) {
    const seg = backupStartSegment(b, segmentSize);
    if (!seg) {
      log.warn(`Backup ${b.name}: no WAL file name in its name; not assigned to a timeline`);
      continue;
    }
    const start = formatWalName(seg.timeline, segNoOfLsn(b.metadata.start_lsn, segmentSize), segmentSize);
    const end = formatWalName(seg.timeline, segNoOfLsn(b.metadata.finish_lsn, segmentSize), segmentSize);
    if (seg.timeline === info.id && start >= info.startSegment && end <= info.endSegment) out.push(b);
  }
  return out;
}

/**
 * Builds the TimelineInfo of one timeline's segment numbers (compat: NewTimelineInfo): missing segments are those
 * absent between the lowest and highest archived one; the parent and switch point come from the last record of
 * the timeline's own history file.
 */
export function timelineInfo(timeline: number, segNos: ReadonlySet<number>, history: readonly HistoryRecord[] | undefined, segmentSize: number): TimelineInfo {
  let min = Infinity;
  let max = -Infinity;
  for (const n of segNos) { if (n < min) min = n; if (n > max) max = n; }
  const missing: string[] = [];
  for (let n = max - 1; n > min; n--) if (!segNos.has(n)) missing.push(formatWalName(timeline, n, segmentSize));
  const last = history && history.length > 0 ? history[history.length - 1] : undefined;
  return {
    id: timeline,
    parentId: last?.timeline ?? 0,
    switchPointLsn: last?.lsn ?? 0n,
    startSegment: formatWalName(timeline, min, segmentSize),
    endSegment: formatWalName(timeline, max, segmentSize),
    segmentsCount: segNos.size,
    missingSegments: missing,
    segmentRangeSize: max - min + 1,
    status: missing.length > 0 ? TIMELINE_LOST_SEGMENTS : TIMELINE_OK,
  };
}

/** wal-show: one TimelineInfo per timeline found in `wal_005/`, ordered by timeline id. */
export async function walShow(storage: Storage, opts: WalShowOptions): Promise<TimelineInfo[]> {
  const names = await listWalFolder(storage, opts.signal);
  const byTimeline = segmentsByTimeline(names, opts.segmentSize);
  const infos: TimelineInfo[] = [];
  for (const [tli, segNos] of byTimeline) {
    const history = await readTimelineHistory(storage, tli, opts);
    infos.push(timelineInfo(tli, segNos, history, opts.segmentSize));
  }
  if (opts.withBackups) {
    const backups = await loadBackupDetails(storage, { signal: opts.signal, concurrency: opts.concurrency });
    if (backups.length === 0) log.info('No backups found in storage.');
    else for (const info of infos) info.backups = backupsInRange(info, backups, opts.segmentSize);
  }
  return infos.sort((a, b) => a.id - b.id);
}

/** A BackupDetail as Go marshals it: BackupTime fields, then ExtendedMetadataDto fields (as backup-list --json --detail). */
export function backupDetailJson(b: BackupDetail): Record<string, unknown> {
  const m = b.metadata;
  const o: Record<string, unknown> = {
    backup_name: b.name, time: storedTime(b.modified, b.modifiedNs), wal_file_name: b.walFileName, storage_name: b.storageName,
    start_time: jsonTime(m.start_time), finish_time: jsonTime(m.finish_time), date_fmt: m.date_fmt,
    hostname: m.hostname, data_dir: m.data_dir, pg_version: m.pg_version, start_lsn: m.start_lsn, finish_lsn: m.finish_lsn,
    is_permanent: m.is_permanent, system_identifier: m.system_identifier ?? null,
    uncompressed_size: m.uncompressed_size, compressed_size: m.compressed_size,
  };
  if (m.user_data !== undefined && m.user_data !== null) o.user_data = sortKeysDeep(m.user_data);
  return o;
}

/**
 * compat: `wal-show --detailed-json` — json.Marshal of []TimelineInfo: switch_point_lsn as a number, backups
 * omitted when empty, and no trailing newline.
 */
export function renderWalShowJson(infos: readonly TimelineInfo[]): string {
  return stringifyGo(infos.map((i) => {
    const o: Record<string, unknown> = {
      id: i.id, parent_id: i.parentId, switch_point_lsn: i.switchPointLsn, start_segment: i.startSegment,
      end_segment: i.endSegment, segments_count: i.segmentsCount, missing_segments: i.missingSegments,
    };
    if (i.backups && i.backups.length > 0) o.backups = i.backups.map(backupDetailJson);
    o.segment_range_size = i.segmentRangeSize;
    o.status = i.status;
    return o;
  }));
}

/** A table cell: strings are text; numbers, bigints and `{ num }` (a Go number type with a String method) are numeric. */
export type TableCell = string | number | bigint | { num: string };

/**
 * compat: a go-pretty v6 table with the default style (as WAL-G renders directly, without printlist's index
 * column): headers upper-cased; a column whose every cell is of a Go number kind is right-aligned, header too;
 * '+-|' borders; a rule under the header even with no rows. Ends with the newline go-pretty's mirror adds.
 */
export function goPrettyTable(headers: readonly string[], rows: ReadonlyArray<readonly TableCell[]>): string {
  const text = (c: TableCell | undefined) => (c === undefined ? '' : typeof c === 'object' ? c.num : String(c));
  const numericCell = (c: TableCell | undefined) => c !== undefined && typeof c !== 'string';
  const clean = (s: string) => s.replaceAll('\t', '    ').replaceAll('\r', '');
  const right = headers.map((_, i) => rows.every((r) => numericCell(r[i])));
  const head = headers.map((h) => h.toUpperCase());
  const body = rows.map((r) => headers.map((_, i) => clean(text(r[i]))));
  const len = (s: string) => [...s].length;
  const widths = head.map((h, i) => Math.max(len(h), ...body.map((r) => len(r[i]!))));
  const pad = (s: string, i: number) => {
    const fill = ' '.repeat(widths[i]! - len(s));
    return right[i] ? fill + s : s + fill;
  };
  const rule = `+${widths.map((w) => '-'.repeat(w + 2)).join('+')}+`;
  const line = (vals: string[]) => `| ${vals.map(pad).join(' | ')} |`;
  return [rule, line(head), rule, ...body.map(line), rule].join('\n') + '\n';
}

/** compat: wal-show's default table; the "Backups count" column only when backups were looked up. */
export function renderWalShowTable(infos: readonly TimelineInfo[], includeBackups: boolean): string {
  const headers = ['TLI', 'Parent TLI', 'Switchpoint LSN', 'Start segment', 'End segment', 'Segment range', 'Segments count', 'Status'];
  if (includeBackups) headers.push('Backups count');
  return goPrettyTable(headers, infos.map((i) => {
    // compat: the LSN type is a uint64 whose String() prints X/Y, so go-pretty right-aligns the X/Y text.
    const row: TableCell[] = [i.id, i.parentId, { num: formatLsn(i.switchPointLsn) }, i.startSegment, i.endSegment,
      i.segmentRangeSize, i.segmentsCount, i.status];
    if (includeBackups) row.push(i.backups?.length ?? 0);
    return row;
  }));
}
