// The MySQL/MariaDB stream backup sentinel (basebackups_005/<name>_backup_stop_sentinel.json), read and written
// exactly as WAL-G's StreamSentinelDto (walg-format.md §6.1): field order, omitempty rules, Go time.Time values in
// the local zone, exact uint64 LSNs, case-insensitive keys on read. MySQL backups have no metadata.json: the
// sentinel's IsPermanent is the permanence flag (backup-mark rewrites the sentinel).

import { CorruptObjectError } from '../core/errors.ts';
import { readAll } from '../storage/body.ts';
import type { Storage } from '../storage/types.ts';
import { lowerKeys, parseJsonObject, stringifyGo, toBigInt } from '../backup/json.ts';
import { sentinelKey } from '../backup/layout.ts';

/** compat: sentinel Tool values. */
export const XTRABACKUP_TOOL = 'WALG_XTRABACKUP_TOOL';
export const UNSPECIFIED_TOOL = 'WALG_UNSPECIFIED_STREAM_BACKUP_TOOL';

/** compat: stream backups are named stream_<UTC YYYYMMDDTHHMMSSZ>. */
export const STREAM_PREFIX = 'stream_';
/** compat: len("stream_") + len("20060102T150405Z"). */
export const STREAM_BACKUP_NAME_LENGTH = 23;

/** StreamSentinelDto. Times are Go RFC3339Nano strings (local zone) as stored. */
export interface StreamSentinel {
  Tool?: string;
  BinLogStart?: string;
  BinLogEnd?: string;
  StartLocalTime: string;
  StopLocalTime: string;
  UncompressedSize?: number;
  CompressedSize?: number;
  Hostname?: string;
  ServerUUID?: string;
  ServerVersion?: string;
  ServerArch?: string;
  ServerOS?: string;
  IsPermanent: boolean;
  IsIncremental: boolean;
  UserData?: unknown;
  LSN: bigint | null;
  DeltaLSN?: bigint;
  DeltaFrom?: string;
  DeltaFullName?: string;
  /** A pointer in Go: written whenever set, 0 included (backup-push always sets it). */
  DeltaCount?: number;
}

/** Go's zero time.Time as JSON. */
export const GO_ZERO_TIME = '0001-01-01T00:00:00Z';

/** Go's time.Time JSON of a local time (moved down to src/core/time.ts; kept here for the MySQL modules). */
export { goLocalTime } from '../core/time.ts';

/** compat: backup name for a start time: stream_ + UTC "20060102T150405Z". */
export function streamBackupName(d: Date): string {
  return `${STREAM_PREFIX}${d.toISOString().slice(0, 19).replace(/[-:]/g, '')}Z`;
}

const empty = (v: unknown) => v === undefined || v === null || v === '' || v === 0;

/** Serialises a sentinel in WAL-G's field order with its omitempty rules. */
export function encodeStreamSentinel(s: StreamSentinel): string {
  const o: Record<string, unknown> = {};
  const opt = (k: keyof StreamSentinel) => { if (!empty(s[k])) o[k] = s[k]; };
  opt('Tool'); opt('BinLogStart'); opt('BinLogEnd');
  // compat: omitempty does not apply to struct-typed time.Time, so both times are always written.
  o.StartLocalTime = s.StartLocalTime || GO_ZERO_TIME;
  o.StopLocalTime = s.StopLocalTime || GO_ZERO_TIME;
  opt('UncompressedSize'); opt('CompressedSize'); opt('Hostname'); opt('ServerUUID'); opt('ServerVersion');
  opt('ServerArch'); opt('ServerOS');
  o.IsPermanent = s.IsPermanent;
  o.IsIncremental = s.IsIncremental;
  if (s.UserData !== undefined && s.UserData !== null) o.UserData = s.UserData;
  o.LSN = s.LSN ?? null;
  if (s.DeltaLSN !== undefined && s.DeltaLSN !== null) o.DeltaLSN = s.DeltaLSN;
  if (s.DeltaFrom !== undefined) o.DeltaFrom = s.DeltaFrom;
  if (s.DeltaFullName !== undefined) o.DeltaFullName = s.DeltaFullName;
  if (s.DeltaCount !== undefined) o.DeltaCount = s.DeltaCount;
  return stringifyGo(o);
}

const str = (v: unknown) => (v === undefined || v === null ? undefined : String(v));
function num(v: unknown): number | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'number' || typeof v === 'bigint') return Number(v);
  throw new TypeError('expected a number');
}

/** Parses sentinel JSON (keys case-insensitive, as Go's encoding/json). Throws CorruptObjectError. */
export function decodeStreamSentinel(text: string, name = 'sentinel'): StreamSentinel {
  const o = lowerKeys(parseJsonObject(text, name));
  try {
    return {
      Tool: str(o.tool),
      BinLogStart: str(o.binlogstart),
      BinLogEnd: str(o.binlogend),
      StartLocalTime: str(o.startlocaltime) ?? GO_ZERO_TIME,
      StopLocalTime: str(o.stoplocaltime) ?? GO_ZERO_TIME,
      UncompressedSize: num(o.uncompressedsize),
      CompressedSize: num(o.compressedsize),
      Hostname: str(o.hostname),
      ServerUUID: str(o.serveruuid),
      ServerVersion: str(o.serverversion),
      ServerArch: str(o.serverarch),
      ServerOS: str(o.serveros),
      IsPermanent: o.ispermanent === true,
      IsIncremental: o.isincremental === true,
      UserData: o.userdata ?? undefined,
      LSN: toBigInt(o.lsn) ?? null,
      DeltaLSN: toBigInt(o.deltalsn),
      DeltaFrom: str(o.deltafrom),
      DeltaFullName: str(o.deltafullname),
      DeltaCount: num(o.deltacount),
    };
  } catch (err) {
    throw new CorruptObjectError(`${name}: unexpected field types`, { cause: err });
  }
}

/** Reads a backup's sentinel. Throws ObjectNotFoundError when it does not exist. */
export async function readStreamSentinel(storage: Storage, backup: string, signal?: AbortSignal): Promise<StreamSentinel> {
  const key = sentinelKey(backup);
  return decodeStreamSentinel((await readAll(await storage.get(key, { signal }))).toString('utf8'), key);
}

/** Writes a backup's sentinel (the object whose presence makes a backup listed). */
export async function writeStreamSentinel(storage: Storage, backup: string, s: StreamSentinel, signal?: AbortSignal): Promise<void> {
  await storage.put(sentinelKey(backup), Buffer.from(encodeStreamSentinel(s)), { signal });
}
