// The Redis/Valkey backup sentinel (basebackups_005/<name>_backup_stop_sentinel.json), read and written exactly as
// WAL-G v3.0.9's archive.Backup: field order, omitempty rules (time.Time fields are always written, the zero time
// as 0001-01-01T00:00:00Z), Go local times, case-insensitive keys on read. Its Permanent is the permanence flag
// (there is no metadata.json). Also the server facts the sentinel records, parsed from INFO.

import { CorruptObjectError } from '../core/errors.ts';
import { GO_ZERO_TIME } from '../core/time.ts';
import { readAll } from '../storage/body.ts';
import type { Storage } from '../storage/types.ts';
import { lowerKeys, parseJsonObject, stringifyGo } from '../backup/json.ts';
import { sentinelKey } from '../backup/layout.ts';

/** compat: archive.RDBBackupType / AOFBackupType / TSBackupType. */
export const RDB_BACKUP_TYPE = 'rdb';
export const AOF_BACKUP_TYPE = 'aof';
export const TS_BACKUP_TYPE = 'ts';

/** compat: RDB backups are named stream_<UTC time> (internal.StreamPrefix), AOF ones aof_<UTC time>. */
export const RDB_PREFIX = 'stream_';
export const AOF_PREFIX = 'aof_';

/** archive.Backup. Times are Go RFC3339Nano strings as stored. */
export interface RedisSentinel {
  BackupName?: string;
  StartLocalTime: string;
  FinishLocalTime: string;
  UserData?: unknown;
  Permanent: boolean;
  DataSize?: number;
  BackupSize?: number;
  BackupType?: string;
  Version?: string;
  UsedMemory?: number;
  UsedMemoryRss?: number;
  MaxDBNumber: number;
  HasTS?: boolean;
  TSBackupID?: string;
  TSBackupPath?: string;
  TSDataSize?: number;
  TSFileCount?: number;
  TSStartTime?: string;
  TSFinishTime?: string;
}

const empty = (v: unknown) => v === undefined || v === null || v === '' || v === 0 || v === false;

/** The sentinel as an object in WAL-G's field order with its omitempty rules (for the file and for --json). */
export function sentinelObject(s: RedisSentinel): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  const opt = (k: keyof RedisSentinel) => { if (!empty(s[k])) o[k] = s[k]; };
  opt('BackupName');
  o.StartLocalTime = s.StartLocalTime || GO_ZERO_TIME;
  o.FinishLocalTime = s.FinishLocalTime || GO_ZERO_TIME;
  if (s.UserData !== undefined && s.UserData !== null) o.UserData = s.UserData;
  o.Permanent = s.Permanent;
  opt('DataSize'); opt('BackupSize'); opt('BackupType'); opt('Version'); opt('UsedMemory'); opt('UsedMemoryRss');
  o.MaxDBNumber = s.MaxDBNumber;
  opt('HasTS'); opt('TSBackupID'); opt('TSBackupPath'); opt('TSDataSize'); opt('TSFileCount');
  o.TSStartTime = s.TSStartTime || GO_ZERO_TIME;
  o.TSFinishTime = s.TSFinishTime || GO_ZERO_TIME;
  return o;
}

/** Serialises a sentinel as WAL-G writes it. */
export function encodeRedisSentinel(s: RedisSentinel): string {
  return stringifyGo(sentinelObject(s));
}

const str = (v: unknown) => (v === undefined || v === null ? undefined : String(v));
function num(v: unknown): number | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'number' || typeof v === 'bigint') return Number(v);
  throw new TypeError('expected a number');
}

/**
 * Parses sentinel JSON (keys case-insensitive, as Go's encoding/json). compat: an empty BackupName becomes the
 * backup's name and an empty BackupType "rdb" (archive.fetchSentinel). Throws CorruptObjectError.
 */
export function decodeRedisSentinel(text: string, backup: string, name = 'sentinel'): RedisSentinel {
  const o = lowerKeys(parseJsonObject(text, name));
  try {
    return {
      BackupName: str(o.backupname) || backup,
      StartLocalTime: str(o.startlocaltime) ?? GO_ZERO_TIME,
      FinishLocalTime: str(o.finishlocaltime) ?? GO_ZERO_TIME,
      UserData: o.userdata ?? undefined,
      Permanent: o.permanent === true,
      DataSize: num(o.datasize),
      BackupSize: num(o.backupsize),
      BackupType: str(o.backuptype) || RDB_BACKUP_TYPE,
      Version: str(o.version),
      UsedMemory: num(o.usedmemory),
      UsedMemoryRss: num(o.usedmemoryrss),
      MaxDBNumber: num(o.maxdbnumber) ?? 0,
      HasTS: o.hasts === true,
      TSBackupID: str(o.tsbackupid),
      TSBackupPath: str(o.tsbackuppath),
      TSDataSize: num(o.tsdatasize),
      TSFileCount: num(o.tsfilecount),
      TSStartTime: str(o.tsstarttime),
      TSFinishTime: str(o.tsfinishtime),
    };
  } catch (err) {
    throw new CorruptObjectError(`${name}: unexpected field types`, { cause: err });
  }
}

/** Reads a backup's sentinel. Throws ObjectNotFoundError when it does not exist. */
export async function readRedisSentinel(storage: Storage, backup: string, signal?: AbortSignal): Promise<RedisSentinel> {
  const key = sentinelKey(backup);
  return decodeRedisSentinel((await readAll(await storage.get(key, { signal }))).toString('utf8'), backup, key);
}

/** Writes a backup's sentinel: the object whose presence makes a backup listed, so it is written last. */
export async function writeRedisSentinel(storage: Storage, backup: string, s: RedisSentinel, signal?: AbortSignal): Promise<void> {
  await storage.put(sentinelKey(backup), Buffer.from(encodeRedisSentinel(s)), { signal });
}

/** compat: client.ServerData — what INFO memory and INFO keyspace say. */
export interface ServerData { usedMemory: number; usedMemoryRss: number; maxDbNumber: number }

/**
 * compat: ServerDataGetter — used_memory and used_memory_rss from INFO memory, the highest N of the dbN lines of
 * INFO keyspace (0 when there is none).
 */
export function parseServerData(memory: string, keyspace: string): ServerData {
  const out: ServerData = { usedMemory: 0, usedMemoryRss: 0, maxDbNumber: 0 };
  for (const line of memory.replace(/\r/g, '').split('\n')) {
    const m = /^(used_memory|used_memory_rss):(\d+)$/.exec(line);
    if (m && m[1] === 'used_memory') out.usedMemory = Number(m[2]);
    if (m && m[1] === 'used_memory_rss') out.usedMemoryRss = Number(m[2]);
  }
  for (const line of keyspace.replace(/\r/g, '').split('\n')) {
    const m = /^db(\d+):/.exec(line);
    if (m && Number(m[1]) > out.maxDbNumber) out.maxDbNumber = Number(m[1]);
  }
  return out;
}
