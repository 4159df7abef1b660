// The PostgreSQL backup catalog as stored: every finished backup with its sentinel and metadata.json, read
// concurrently with a limit; plus the storage side of delete (full listings, sentinel-first batched deletes)
// and of backup-mark (rewriting only metadata.json).

import { mapLimit } from '../core/concurrency.ts';
import { readAll } from '../storage/body.ts';
import type { Storage } from '../storage/types.ts';
import { parseJsonObject, stringifyGo } from './json.ts';
import { BASEBACKUPS_PATH, metadataKey } from './layout.ts';
import { encodeMetadata, listBackups, readMetadata, readSentinel } from './sentinel.ts';
import type { BackupSentinel, ExtendedMetadata } from './sentinel.ts';
import { deletionOrder, parseRfc3339 } from './retention.ts';
import type { RetentionBackup } from './retention.ts';

/** A finished backup as stored: sentinel LastModified, sentinel, and metadata.json when present. */
export interface CatalogEntry {
  name: string;
  /** LastModified of the sentinel (orders backup-list and LATEST). */
  modified: Date;
  sentinel: BackupSentinel;
  metadata?: ExtendedMetadata;
}


/**
 * Loads every backup that has a sentinel under `root`, oldest first by sentinel LastModified, with its sentinel
 * and metadata.json (undefined when missing). Throws when a sentinel or metadata.json cannot be read or parsed:
 * deciding what to delete from a half-read catalog is not safe.
 */
export async function loadCatalog(storage: Storage, opts: { concurrency?: number; signal?: AbortSignal; root?: string } = {}): Promise<CatalogEntry[]> {
  const root = opts.root ?? BASEBACKUPS_PATH;
  const refs = await listBackups(storage, root, opts.signal);
  return mapLimit(refs, opts.concurrency ?? 10, async (ref) => {
    opts.signal?.throwIfAborted();
    const [sentinel, metadata] = await Promise.all([readSentinel(storage, ref.name, root), readMetadata(storage, ref.name, root)]);
    return { name: ref.name, modified: ref.modified, sentinel, metadata };
  });
}

/** Go time strings from metadata/sentinel as a Date; undefined when empty or malformed. */
function parseTime(s: string | undefined): Date | undefined {
  return s ? parseRfc3339(s) : undefined;
}

/** The planner's view of a catalog entry: metadata.json wins, the sentinel fills in when metadata.json is missing. */
export function toRetentionBackup(e: CatalogEntry): RetentionBackup {
  const s = e.sentinel;
  const m = e.metadata;
  // compat: IsIncremental is "DeltaFrom is set".
  const isFull = !s.DeltaFrom;
  return {
    name: e.name,
    modified: e.modified,
    startTime: parseTime(m?.start_time) ?? parseTime(s.StartTime),
    isFull,
    deltaFrom: isFull ? undefined : s.DeltaFrom,
    deltaFullName: isFull ? undefined : s.DeltaFullName,
    // WAL-G ignores (treats as impermanent) a backup without metadata.json; the sentinel's creation-time flag is
    // the safer fallback, as it can only keep more.
    permanent: m ? m.is_permanent : s.IsPermanent,
    startLsn: m && m.start_lsn > 0n ? m.start_lsn : s.LSN,
    finishLsn: m && m.finish_lsn > 0n ? m.finish_lsn : s.FinishLSN,
    userData: m ? m.user_data : s.UserData,
  };
}

/** Every object key under `prefix` ('' = the whole storage), recursively, in listing order. */
export async function listKeys(storage: Storage, prefix: string, signal?: AbortSignal): Promise<string[]> {
  const keys: string[] = [];
  for await (const e of storage.list(prefix, { recursive: true, signal })) if (e.type === 'obj') keys.push(e.key);
  return keys;
}

/**
 * Deletes `keys` in batches of `batchSize`: all backup sentinels first, then everything else, so an interrupted
 * delete never leaves a listed backup whose data is gone (at worst a leftover folder, which garbage removes).
 */
export async function deleteObjects(storage: Storage, keys: readonly string[], opts: { batchSize?: number; signal?: AbortSignal } = {}): Promise<void> {
  const size = opts.batchSize ?? 1000;
  const ordered = deletionOrder(keys);
  for (let i = 0; i < ordered.length; i += size) {
    opts.signal?.throwIfAborted();
    await storage.delete(ordered.slice(i, i + size), { signal: opts.signal });
  }
}

/** metadata.json built from a sentinel (for backups that lack one), with the given permanence. */
export function metadataFromSentinel(s: BackupSentinel, isPermanent: boolean): ExtendedMetadata {
  return {
    start_time: s.StartTime, finish_time: s.FinishTime, date_fmt: s.DateFmt, hostname: s.Hostname, data_dir: s.DataDir,
    pg_version: s.PgVersion, start_lsn: s.LSN, finish_lsn: s.FinishLSN, is_permanent: isPermanent,
    system_identifier: s.SystemIdentifier ?? null, uncompressed_size: s.UncompressedSize, compressed_size: s.CompressedSize,
    user_data: s.UserData,
  };
}

/**
 * Sets is_permanent in a backup's metadata.json, leaving every other field (and any field this tool does not
 * know) as stored; creates metadata.json from the sentinel when it is missing. Never touches the sentinel.
 */
export async function writePermanence(storage: Storage, backup: string, isPermanent: boolean, root = BASEBACKUPS_PATH, signal?: AbortSignal): Promise<void> {
  const key = metadataKey(backup, root);
  let text: string;
  if (await storage.exists(key, { signal })) {
    const o = parseJsonObject((await readAll(await storage.get(key, { signal }))).toString('utf8'), key);
    // compat: Go decodes keys case-insensitively; rewrite the existing spelling, else add WAL-G's.
    const existing = Object.keys(o).find((k) => k.toLowerCase() === 'is_permanent');
    o[existing ?? 'is_permanent'] = isPermanent;
    text = stringifyGo(o);
  } else {
    text = encodeMetadata(metadataFromSentinel(await readSentinel(storage, backup, root), isPermanent));
  }
  await storage.put(key, Buffer.from(text), { signal });
}
