// PostgreSQL WAL file names: `TTTTTTTTXXXXXXXXYYYYYYYY` segments (timeline, log id, segment within the log id),
// `%08X.history` timeline history files, and the `.partial` / `.backup` variants, for any WAL segment size.
// compat: mirrors WAL-G's timeline.go (ParseWALFilename, formatWALFileName, GetNextWalFilename) and asm's GetOnlyWalName.

import { basename, extname } from 'node:path';
import { ConfigError } from '../core/errors.ts';
import type { Config } from '../config/load.ts';

/** Default WAL segment size (16 MiB), used when WALG_PG_WAL_SIZE is unset. */
export const DEFAULT_WAL_SEGMENT_SIZE = 16 * 1024 * 1024;

/** A WAL segment's position: timeline id and absolute segment number (segment index since LSN 0). */
export interface WalSegment {
  timeline: number;
  segNo: number;
}

/** Thrown by parseWalName for names that are not 24-hex-digit WAL segment names. */
export class NotWalNameError extends Error {
  constructor(name: string, why = 'not a WAL segment name') {
    super(`'${name}' is ${why}`);
    this.name = 'NotWalNameError';
  }
}

const HEX24 = /^[0-9A-Fa-f]{24}$/;
const HISTORY = /^([0-9A-Fa-f]{8})\.history$/;
const BACKUP_LABEL = /^[0-9A-F]{24}\.[0-9A-F]{8}\.backup$/;

/**
 * WAL segment size in bytes from WALG_PG_WAL_SIZE (MiB, default 16). Throws ConfigError unless it is a power of
 * two between 1 and 1024 MiB, the sizes initdb --wal-segsize accepts (WAL-G itself would divide by zero on 0).
 */
export function walSegmentSizeFromConfig(config: Config): number {
  const mib = config.getInt('WALG_PG_WAL_SIZE');
  if (mib < 1 || mib > 1024 || (mib & (mib - 1)) !== 0) {
    throw new ConfigError(`WALG_PG_WAL_SIZE must be a power of two between 1 and 1024 (MiB), got ${mib}`);
  }
  return mib * 1024 * 1024;
}

/** Segments per 4 GiB "log id" (XLogSegmentsPerXLogId in xlog_internal.h). */
export function segmentsPerLogId(segmentSize = DEFAULT_WAL_SEGMENT_SIZE): number {
  return 0x1_0000_0000 / segmentSize;
}

/** True for a 24-hex-digit WAL segment file name (upper or lower case, as WAL-G's parser accepts). */
export function isWalSegmentName(name: string): boolean {
  return HEX24.test(name);
}

/**
 * Parses a 24-hex-digit segment name. Throws NotWalNameError for other names and for a segment part that does
 * not fit the segment size (e.g. `...000000FF` is valid for 16 MiB segments, `...00000100` is not).
 */
export function parseWalName(name: string, segmentSize = DEFAULT_WAL_SEGMENT_SIZE): WalSegment {
  if (!HEX24.test(name)) throw new NotWalNameError(name);
  const timeline = Number.parseInt(name.slice(0, 8), 16);
  const logId = Number.parseInt(name.slice(8, 16), 16);
  const seg = Number.parseInt(name.slice(16, 24), 16);
  const perId = segmentsPerLogId(segmentSize);
  if (seg >= perId) throw new NotWalNameError(name, `not a valid WAL name for ${segmentSize / 1048576} MiB segments`);
  // At most 2^32 * 4096 < 2^53: exact in a double.
  return { timeline, segNo: logId * perId + seg };
}

/** Parses a segment name, or returns undefined when it is not one. */
export function tryParseWalName(name: string, segmentSize = DEFAULT_WAL_SEGMENT_SIZE): WalSegment | undefined {
  try { return parseWalName(name, segmentSize); } catch { return undefined; }
}

const hex8 = (n: number) => n.toString(16).toUpperCase().padStart(8, '0');

/** Formats a segment name (upper-case hex, as Postgres writes it). */
export function formatWalName(timeline: number, segNo: number, segmentSize = DEFAULT_WAL_SEGMENT_SIZE): string {
  const perId = segmentsPerLogId(segmentSize);
  return hex8(timeline) + hex8(Math.floor(segNo / perId)) + hex8(segNo % perId);
}

/** The name of the following segment on the same timeline. Throws NotWalNameError for a non-segment name. */
export function nextWalName(name: string, segmentSize = DEFAULT_WAL_SEGMENT_SIZE): string {
  const { timeline, segNo } = parseWalName(name, segmentSize);
  return formatWalName(timeline, segNo + 1, segmentSize);
}

/** The name of the preceding segment on the same timeline. Throws for segment 0 or a non-segment name. */
export function previousWalName(name: string, segmentSize = DEFAULT_WAL_SEGMENT_SIZE): string {
  const { timeline, segNo } = parseWalName(name, segmentSize);
  if (segNo === 0) throw new NotWalNameError(name, 'the first segment and has no predecessor');
  return formatWalName(timeline, segNo - 1, segmentSize);
}

/** Orders two segment positions: negative when a is older (lower timeline, or same timeline and lower segment). */
export function compareWalSegments(a: WalSegment, b: WalSegment): number {
  return a.timeline !== b.timeline ? a.timeline - b.timeline : a.segNo - b.segNo;
}

/** `%08X.history`, the timeline history file of a timeline. */
export function historyFileName(timeline: number): string {
  return `${hex8(timeline)}.history`;
}

/** True for a timeline history file name such as `00000002.history`. */
export function isHistoryFileName(name: string): boolean {
  return HISTORY.test(name);
}

/** The timeline of a history file name, or undefined. */
export function timelineOfHistoryFile(name: string): number | undefined {
  const m = HISTORY.exec(name);
  return m ? Number.parseInt(m[1]!, 16) : undefined;
}

/** True for `<segment>.partial`, the last, incomplete segment of an old timeline after a promotion. */
export function isPartialName(name: string): boolean {
  return name.endsWith('.partial') && HEX24.test(name.slice(0, -'.partial'.length));
}

/** True for a backup history file `<segment>.<8 hex offset>.backup` written by pg_backup_stop(). */
export function isBackupHistoryName(name: string): boolean {
  return BACKUP_LABEL.test(name);
}

/**
 * compat: WAL-G's asm.GetOnlyWalName — the base name without its last extension. Archive-status markers are
 * keyed by it, so `X.partial` and `X` share a marker, and `00000002.history` is keyed `00000002`.
 */
export function walNameWithoutExtension(filePath: string): string {
  const b = basename(filePath);
  return b.slice(0, b.length - extname(b).length);
}

/**
 * compat: utility.StripWalFileName — the first run of 24 upper-case hex digits in a backup (or sentinel) name, i.e.
 * its start WAL segment; 24 'Z's when there is none. backup-list's wal_file_name and the `_D_<parent>` part of a
 * delta backup's name both come from it.
 */
export function stripWalFileName(name: string): string {
  return /[0-9A-F]{24}/.exec(name)?.[0] ?? 'Z'.repeat(24);
}
