// Archived binlogs in storage (binlog_005/): listing in upload order, reading the head of an archived binlog, the
// backup's BinLogStart/BinLogEnd, and the fetch loop shared by binlog-fetch and binlog-replay (walg-format.md
// §6.3). compat: WAL-G orders archived binlogs by LastModified (upload time), not by name; so does this module.

import { createWriteStream } from 'node:fs';
import { open, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { CorruptObjectError, ObjectNotFoundError, WalgError } from '../core/errors.ts';
import { log } from '../core/log.ts';
import type { Storage } from '../storage/types.ts';
import { decodeStages, through } from '../pipeline/pipeline.ts';
import type { Crypter } from '../pipeline/types.ts';
import { BASEBACKUPS_PATH, BINLOG_PATH, backupNameFromSentinel, sentinelKey } from '../backup/layout.ts';
import { parseRfc3339 } from '../backup/retention.ts';
import { BINLOG_HEADER_READ, binlogNameOfObject, binlogObjectExtension, parseBinlogHead } from './binlog.ts';
import type { BinlogHead, GtidSet, MariadbGtidSet, MysqlGtidSet } from './binlog.ts';
import type { StreamSentinel } from './sentinel.ts';

/** One archived binlog object. */
export interface ArchivedBinlog {
  key: string;
  /** Binlog name (compression extension removed). */
  name: string;
  size: number;
  lastModified: Date;
  /** The same in nanoseconds, when the storage reports them. */
  lastModifiedNs?: bigint;
}

/** Archived binlogs, oldest upload first (ties broken by key so the order is stable). */
export async function listArchivedBinlogs(storage: Storage, signal?: AbortSignal): Promise<ArchivedBinlog[]> {
  const out: ArchivedBinlog[] = [];
  for await (const e of storage.list(BINLOG_PATH, { signal })) {
    if (e.type !== 'obj') continue;
    out.push({ key: e.key, name: binlogNameOfObject(e.key), size: e.size, lastModified: e.lastModified, lastModifiedNs: e.lastModifiedNs });
  }
  return out.sort((a, b) => a.lastModified.getTime() - b.lastModified.getTime() || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

/** Opens an archived binlog decrypted and decompressed. */
export async function openArchivedBinlog(storage: Storage, crypter: Crypter | undefined, key: string, signal?: AbortSignal) {
  const { compressorForExtension } = await import('../pipeline/compress/index.ts');
  const ext = binlogObjectExtension(key);
  const compressor = await compressorForExtension(ext);
  return through(await storage.get(key, { signal }), decodeStages({ crypter, compressor }));
}

/** Reads and parses the first BINLOG_HEADER_READ bytes of an archived binlog. */
export async function readArchivedBinlogHead(storage: Storage, crypter: Crypter | undefined, key: string, signal?: AbortSignal): Promise<BinlogHead> {
  const s = await openArchivedBinlog(storage, crypter, key, signal);
  const chunks: Buffer[] = [];
  let n = 0;
  try {
    for await (const c of s as AsyncIterable<Buffer>) {
      chunks.push(c);
      n += c.length;
      if (n >= BINLOG_HEADER_READ) break;
    }
  } finally {
    s.destroy();
  }
  return parseBinlogHead(Buffer.concat(chunks).subarray(0, BINLOG_HEADER_READ), key);
}

/** compat: getLastUploadedBinlog — the newest archived binlog by upload time, '' when there is none. */
export async function lastUploadedBinlog(storage: Storage, signal?: AbortSignal): Promise<string> {
  return (await listArchivedBinlogs(storage, signal)).at(-1)?.name ?? '';
}

/**
 * compat: getLastUploadedBinlogBeforeGTID — the newest archived binlog (by upload time) whose starting GTID state
 * is contained in `executed` (the server's GTID set when the backup starts): replay from it on covers every
 * transaction the backup may lack. WAL-G never considers the oldest archived binlog (its loop stops at index 1);
 * this one does, which can only start replay earlier. '' (with a warning) when none qualifies.
 */
export async function lastUploadedBinlogBeforeGtid(storage: Storage, crypter: Crypter | undefined, executed: GtidSet, signal?: AbortSignal): Promise<string> {
  const all = await listArchivedBinlogs(storage, signal);
  for (let i = all.length - 1; i >= 0; i--) {
    const head = await readArchivedBinlogHead(storage, crypter, all[i]!.key, signal);
    // A binlog without a GTID list/previous-GTIDs event starts from nothing: it is contained in any state.
    const prev: GtidSet = head.previousGtids ?? emptyLike(executed);
    if (executed.contains(prev)) return all[i]!.name;
  }
  if (all.length > 0) log.warn(`failed to find uploaded binlog behind ${executed.toString()}`);
  return '';
}

function emptyLike(s: GtidSet): GtidSet {
  const C = s.constructor as new () => MariadbGtidSet | MysqlGtidSet;
  return new C();
}

/**
 * compat: getBinlogSinceTS — replay of a backup starts at the earliest of its sentinel's LastModified and the
 * LastModified of the archived binlog named by its BinLogStart. The sentinel's StopLocalTime counts too: backup-mark
 * rewrites the sentinel (a later LastModified), which must not move the start of replay.
 */
export function binlogSinceTime(sentinelModified: Date, sentinel: StreamSentinel, binlogs: readonly ArchivedBinlog[]): Date {
  let start = sentinelModified.getTime();
  const stop = parseRfc3339(sentinel.StopLocalTime);
  if (stop && stop.getTime() > 0 && stop.getTime() < start) start = stop.getTime();
  if (sentinel.BinLogStart) {
    for (const b of binlogs) if (b.name === sentinel.BinLogStart && b.lastModified.getTime() < start) start = b.lastModified.getTime();
  }
  return new Date(start);
}

/** LastModified of a backup's sentinel object. */
export async function sentinelModified(storage: Storage, backup: string, signal?: AbortSignal): Promise<Date> {
  for await (const e of storage.list(BASEBACKUPS_PATH, { signal })) {
    if (e.type === 'obj' && backupNameFromSentinel(e.key) === backup) return e.lastModified;
  }
  throw new ObjectNotFoundError(sentinelKey(backup));
}

/**
 * compat: getLogsCoveringInterval — archived binlogs uploaded after `start` (at it too when `includeStart`) and not
 * after `endBinlogTs`, in upload order.
 */
export function binlogsCoveringInterval(all: readonly ArchivedBinlog[], start: Date, includeStart: boolean, endBinlogTs: Date): ArchivedBinlog[] {
  return all.filter((b) => {
    const t = b.lastModified.getTime();
    if (t > endBinlogTs.getTime()) return false; // uploaded after the restore point's upload bound
    return t > start.getTime() || (includeStart && t === start.getTime());
  });
}

/** The far future WAL-G uses for an unset time bound. */
export const MAX_TIME = new Date(8.64e15);

/** What fetchBinlogs needs. */
export interface FetchBinlogsOptions {
  storage: Storage;
  crypter?: Crypter;
  dstDir: string;
  start: Date;
  /** --until: stop after the first binlog whose first event is after this. */
  end: Date;
  /** --until-binlog-last-modified-time: never take binlogs uploaded after this. */
  endBinlog: Date;
  signal?: AbortSignal;
  /** Called with each downloaded file's path, in order; its promise is awaited before the next download. */
  handle: (path: string, binlog: ArchivedBinlog) => Promise<void>;
}

/**
 * compat: fetchLogs — downloads archived binlogs in upload order into `dstDir/<name>` and hands each to `handle`;
 * the listing is repeated (strictly after the last one taken) until nothing new appears, so binlogs uploaded while
 * replaying are taken too. Stops after the first binlog that starts after `end` (it is still handed over: the
 * replay command stops inside it at the end time). Each file is written to a temporary name and renamed when
 * complete. Returns the binlogs handed over.
 */
export async function fetchBinlogs(o: FetchBinlogsOptions): Promise<ArchivedBinlog[]> {
  const taken: ArchivedBinlog[] = [];
  let start = o.start;
  let includeStart = true;
  for (;;) {
    const batch = binlogsCoveringInterval(await listArchivedBinlogs(o.storage, o.signal), start, includeStart, o.endBinlog)
      .filter((b) => !taken.some((t) => t.key === b.key));
    includeStart = false;
    if (batch.length === 0) return taken;
    for (const b of batch) {
      start = b.lastModified;
      const path = join(o.dstDir, b.name);
      log.info(`downloading ${b.name} into ${path}`);
      const tmp = `${path}.walg-tmp`;
      try {
        await pipeline(await openArchivedBinlog(o.storage, o.crypter, b.key, o.signal), createWriteStream(tmp, { mode: 0o640 }), { signal: o.signal });
        await rename(tmp, path);
      } catch (err) {
        await rm(tmp, { force: true });
        if (err instanceof WalgError) throw err;
        throw new WalgError(`failed to download ${b.name}: ${(err as Error).message}`, { cause: err });
      }
      const head = await readLocalHead(path);
      taken.push(b);
      await o.handle(path, b);
      if (head.startTime.getTime() > o.end.getTime()) return taken;
    }
  }
}

async function readLocalHead(path: string): Promise<BinlogHead> {
  const fh = await open(path, 'r');
  try {
    const buf = Buffer.alloc(BINLOG_HEADER_READ);
    const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
    return parseBinlogHead(buf.subarray(0, bytesRead), path);
  } catch (err) {
    if (err instanceof CorruptObjectError) throw new CorruptObjectError(`failed to parse binlog ${path}: ${err.message}`, { cause: err });
    throw err;
  } finally {
    await fh.close();
  }
}
