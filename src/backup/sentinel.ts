// The PostgreSQL backup sentinel (<name>_backup_stop_sentinel.json) and metadata.json, read and written exactly as
// WAL-G does (walg-format.md §1.5, §1.6): field order, omitempty rules, exact uint64, case-insensitive keys on read.

import { CorruptObjectError, WalgError } from '../core/errors.ts';
import { readAll } from '../storage/body.ts';
import type { Storage } from '../storage/types.ts';
import { parseJsonExact, parseJsonObject, stringifyGo, toBigInt, lowerKeys } from './json.ts';
import { BASEBACKUPS_PATH, metadataKey, sentinelKey, backupNameFromSentinel } from './layout.ts';

/** Go RFC3339Nano datetime format WAL-G stores as DateFmt (informational). */
export const DATE_FMT = '%Y-%m-%dT%H:%M:%S.%fZ';

/** Tablespace spec (walg-format.md §5.4); kept as parsed JSON, written back unchanged. */
export type TablespaceSpec = Record<string, unknown>;

/** Sentinel V2 contents. uint64 values are bigint. */
export interface BackupSentinel {
  LSN: bigint;
  DeltaLSN?: bigint;
  DeltaFrom?: string;
  DeltaFullName?: string;
  DeltaCount?: number;
  PgVersion: number;
  FinishLSN: bigint;
  SystemIdentifier?: bigint;
  UncompressedSize: number;
  CompressedSize: number;
  DataCatalogSize?: number;
  Spec?: TablespaceSpec;
  UserData?: unknown;
  FilesMetadataDisabled?: boolean;
  ChkpNum?: number | null;
  DeltaChkpNum?: number;
  Version: number;
  StartTime: string;
  FinishTime: string;
  DateFmt: string;
  Hostname: string;
  DataDir: string;
  IsPermanent: boolean;
}

/** metadata.json ("extended metadata"); its is_permanent is the authoritative permanence flag. */
export interface ExtendedMetadata {
  start_time: string;
  finish_time: string;
  date_fmt: string;
  hostname: string;
  data_dir: string;
  pg_version: number;
  start_lsn: bigint;
  finish_lsn: bigint;
  is_permanent: boolean;
  system_identifier: bigint | null;
  uncompressed_size: number;
  compressed_size: number;
  user_data?: unknown;
}

const isEmpty = (v: unknown) => v === undefined || v === null || v === '' || v === 0 || v === 0n || v === false;

/** Serialises a sentinel in WAL-G's field order with its omitempty rules. */
export function encodeSentinel(s: BackupSentinel): string {
  const o: Record<string, unknown> = {};
  // 'nil': a Go *string with omitempty, left out only when absent (a catchup backup's "DeltaFrom":"" is kept).
  const put = (k: keyof BackupSentinel, omitEmpty: boolean | 'nil') => {
    const v = s[k];
    if (omitEmpty === 'nil' ? v === undefined || v === null : omitEmpty && isEmpty(v)) return;
    o[k] = v === undefined ? null : v;
  };
  put('LSN', false); put('DeltaLSN', true); put('DeltaFrom', 'nil'); put('DeltaFullName', 'nil'); put('DeltaCount', true);
  put('PgVersion', false); put('FinishLSN', false); put('SystemIdentifier', true);
  put('UncompressedSize', false); put('CompressedSize', false); put('DataCatalogSize', true);
  if (s.Spec !== undefined && s.Spec !== null) o.Spec = s.Spec;
  if (s.UserData !== undefined && s.UserData !== null) o.UserData = s.UserData;
  put('FilesMetadataDisabled', true);
  o.ChkpNum = s.ChkpNum ?? null; // compat: not omitempty, so "ChkpNum": null is normal
  put('DeltaChkpNum', true);
  put('Version', false); put('StartTime', false); put('FinishTime', false); put('DateFmt', false);
  put('Hostname', false); put('DataDir', false); put('IsPermanent', false);
  return stringifyGo(o);
}

function num(v: unknown): number | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'bigint') return Number(v);
  if (typeof v === 'number') return v;
  throw new TypeError('expected a number');
}
function str(v: unknown): string | undefined { return v === undefined || v === null ? undefined : String(v); }

/** Parses sentinel JSON (case-insensitive keys, `Spec` or WAL-E `spec`, old `DeltaFromLSN`). */
export function decodeSentinel(text: string, name = 'sentinel'): BackupSentinel {
  const o = lowerKeys(parseJsonObject(text, name));
  try {
    return {
      LSN: toBigInt(o.lsn) ?? 0n,
      DeltaLSN: toBigInt(o.deltalsn ?? o.deltafromlsn),
      DeltaFrom: str(o.deltafrom),
      DeltaFullName: str(o.deltafullname),
      DeltaCount: num(o.deltacount),
      PgVersion: num(o.pgversion) ?? 0,
      FinishLSN: toBigInt(o.finishlsn) ?? 0n,
      SystemIdentifier: toBigInt(o.systemidentifier),
      UncompressedSize: num(o.uncompressedsize) ?? 0,
      CompressedSize: num(o.compressedsize) ?? 0,
      DataCatalogSize: num(o.datacatalogsize),
      Spec: (o.spec ?? undefined) as TablespaceSpec | undefined,
      UserData: o.userdata ?? undefined,
      FilesMetadataDisabled: o.filesmetadatadisabled === true ? true : undefined,
      ChkpNum: o.chkpnum === undefined ? undefined : (num(o.chkpnum) ?? null),
      DeltaChkpNum: num(o.deltachkpnum),
      Version: num(o.version) ?? 0,
      StartTime: str(o.starttime) ?? '',
      FinishTime: str(o.finishtime) ?? '',
      DateFmt: str(o.datefmt) ?? DATE_FMT,
      Hostname: str(o.hostname) ?? '',
      DataDir: str(o.datadir) ?? '',
      IsPermanent: o.ispermanent === true,
    };
  } catch (err) {
    throw new CorruptObjectError(`${name}: unexpected field types`, { cause: err });
  }
}

/** Serialises metadata.json in WAL-G's field order. */
export function encodeMetadata(m: ExtendedMetadata): string {
  const o: Record<string, unknown> = {
    start_time: m.start_time, finish_time: m.finish_time, date_fmt: m.date_fmt, hostname: m.hostname,
    data_dir: m.data_dir, pg_version: m.pg_version, start_lsn: m.start_lsn, finish_lsn: m.finish_lsn,
    is_permanent: m.is_permanent, system_identifier: m.system_identifier ?? null,
    uncompressed_size: m.uncompressed_size, compressed_size: m.compressed_size,
  };
  if (m.user_data !== undefined && m.user_data !== null) o.user_data = m.user_data;
  return stringifyGo(o);
}

/** Parses metadata.json. */
export function decodeMetadata(text: string, name = 'metadata.json'): ExtendedMetadata {
  let raw: unknown;
  try { raw = parseJsonExact(text); } catch (err) { throw new CorruptObjectError(`${name}: not valid JSON`, { cause: err }); }
  const o = lowerKeys((raw ?? {}) as Record<string, unknown>);
  return {
    start_time: str(o.start_time) ?? '', finish_time: str(o.finish_time) ?? '', date_fmt: str(o.date_fmt) ?? DATE_FMT,
    hostname: str(o.hostname) ?? '', data_dir: str(o.data_dir) ?? '', pg_version: num(o.pg_version) ?? 0,
    start_lsn: toBigInt(o.start_lsn) ?? 0n, finish_lsn: toBigInt(o.finish_lsn) ?? 0n,
    is_permanent: o.is_permanent === true, system_identifier: toBigInt(o.system_identifier) ?? null,
    uncompressed_size: num(o.uncompressed_size) ?? 0, compressed_size: num(o.compressed_size) ?? 0,
    user_data: o.user_data ?? undefined,
  };
}

/** A backup found in storage: its name and the sentinel's LastModified (which orders LATEST). */
export interface BackupRef {
  name: string;
  /** LastModified of the sentinel object. */
  modified: Date;
  /** The same time in nanoseconds, when the storage reports them (file storage). */
  modifiedNs?: bigint;
  /** The zone name of that time when the storage's is not UTC (ListEntry.zoneName: Azure's 'GMT'). */
  zoneName?: string;
}

/**
 * Lists finished backups (those with a sentinel) under `root`, oldest first by sentinel LastModified.
 * compat: WAL-G's LATEST is the sentinel with the greatest LastModified, not the greatest name.
 */
export async function listBackups(storage: Storage, root = BASEBACKUPS_PATH, signal?: AbortSignal): Promise<BackupRef[]> {
  const out: BackupRef[] = [];
  for await (const e of storage.list(root, { signal })) {
    if (e.type !== 'obj') continue;
    const name = backupNameFromSentinel(e.key);
    if (name) out.push({ name, modified: e.lastModified, modifiedNs: e.lastModifiedNs, zoneName: e.zoneName });
  }
  out.sort((a, b) => a.modified.getTime() - b.modified.getTime() || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return out;
}

/** Reads and parses a backup's sentinel. Throws ObjectNotFoundError when the backup does not exist. */
export async function readSentinel(storage: Storage, backup: string, root = BASEBACKUPS_PATH): Promise<BackupSentinel> {
  const key = sentinelKey(backup, root);
  return decodeSentinel((await readAll(await storage.get(key))).toString('utf8'), key);
}

/** Reads metadata.json of a backup, or undefined when the object is missing (old backups). */
export async function readMetadata(storage: Storage, backup: string, root = BASEBACKUPS_PATH): Promise<ExtendedMetadata | undefined> {
  const key = metadataKey(backup, root);
  if (!(await storage.exists(key))) return undefined;
  return decodeMetadata((await readAll(await storage.get(key))).toString('utf8'), key);
}

/** Resolves "LATEST" or a name to an existing backup; throws WalgError when there is none. */
export async function resolveBackup(storage: Storage, nameOrLatest: string, root = BASEBACKUPS_PATH): Promise<BackupRef> {
  const all = await listBackups(storage, root);
  if (nameOrLatest === 'LATEST') {
    const last = all[all.length - 1];
    if (!last) throw new WalgError('No backups found');
    return last;
  }
  const hit = all.find((b) => b.name === nameOrLatest);
  if (!hit) throw new WalgError(`Backup '${nameOrLatest}' does not exist.`);
  return hit;
}
