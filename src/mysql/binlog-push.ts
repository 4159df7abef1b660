// binlog-push (walg-format.md §6.2): every closed binlog not yet archived goes to binlog_005/<name>.<ext>,
// oldest first. The list comes from the server's binlog index file (read from disk, as WAL-G does, because SHOW
// BINARY LOGS takes the binlog lock), the current (last) binlog and anything from --until on are left alone, and
// the local cache ~/.walg_mysql_binlogs_cache remembers the last archived name between cron runs.

import { createReadStream } from 'node:fs';
import { readFile, writeFile, rename } from 'node:fs/promises';
import { homedir } from 'node:os';
import { basename, join } from 'node:path';
import { LocalFileError, describeError } from '../core/errors.ts';
import { log } from '../core/log.ts';
import type { Storage } from '../storage/types.ts';
import { encodeStages, through, withExtension } from '../pipeline/pipeline.ts';
import type { DataPipeline } from '../pipeline/pipeline.ts';
import { BINLOG_PATH } from '../backup/layout.ts';
import { BINLOG_CACHE_FILE, binlogNum, binlogPrefix } from './binlog.ts';
import { connectMysql } from './connection.ts';
import type { MysqlConnectionSettings } from './connection.ts';

/** compat: LogsCache. */
export interface BinlogCache { LastArchivedBinlog: string }

/** Path of the progress cache in the home directory. */
export function binlogCachePath(home: string = homedir()): string { return join(home, BINLOG_CACHE_FILE); }

/** Reads the cache; an absent or unreadable cache is empty (everything not archived gets uploaded again). */
export async function readBinlogCache(path: string): Promise<BinlogCache> {
  try {
    const o = JSON.parse(await readFile(path, 'utf8')) as { LastArchivedBinlog?: unknown };
    return { LastArchivedBinlog: typeof o.LastArchivedBinlog === 'string' ? o.LastArchivedBinlog : '' };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') log.info('MySQL binlog cache does not exist');
    else log.warn(`MySQL binlog cache ${path} is unreadable, ignoring it: ${describeError(err)}`);
    return { LastArchivedBinlog: '' };
  }
}

/** Writes the cache atomically (a crash never leaves half a JSON file). */
export async function writeBinlogCache(path: string, cache: BinlogCache): Promise<void> {
  try {
    const tmp = `${path}.tmp`;
    await writeFile(tmp, JSON.stringify({ LastArchivedBinlog: cache.LastArchivedBinlog }), { mode: 0o644 });
    await rename(tmp, path);
  } catch (err) {
    log.warn(`Failed to write MySQL binlog cache file: ${describeError(err)}`);
  }
}

/**
 * The binlogs to upload, oldest first (pure): those before `until` (default and upper bound: the current, i.e. last,
 * binlog), after the cache's LastArchivedBinlog. The cache is ignored when the binlog prefix changed or the
 * numbering went backwards (RESET MASTER), as WAL-G does. Returns the cache that applies as well.
 */
export function selectBinlogsToPush(binlogs: readonly string[], until: string | undefined, cache: BinlogCache): { toPush: string[]; cache: BinlogCache; reset: boolean } {
  const last = binlogs.at(-1) ?? '';
  let stop = until && last && binlogNum(until) <= binlogNum(last) ? until : last;
  if (!stop) stop = '';
  let c = cache;
  let reset = false;
  if (binlogs.length > 0 && c.LastArchivedBinlog !== '') {
    if (binlogPrefix(binlogs[0]!) !== binlogPrefix(c.LastArchivedBinlog) || binlogNum(last) < binlogNum(c.LastArchivedBinlog)) {
      c = { LastArchivedBinlog: '' };
      reset = true;
    }
  }
  const toPush = binlogs.filter((b) => (stop === '' || binlogNum(b) < binlogNum(stop))
    && (c.LastArchivedBinlog === '' || binlogNum(b) > binlogNum(c.LastArchivedBinlog)));
  return { toPush, cache: c, reset };
}

/** What binlog-push needs from the run. */
export interface BinlogPushContext {
  storage: Storage;
  pipeline: DataPipeline;
  signal: AbortSignal;
  /** Cache file path (tests point it elsewhere). */
  cachePath?: string;
}

/** Options of binlog-push, from its flags and settings. */
export interface BinlogPushOptions {
  /** The server whose binlogs are archived. */
  connection: MysqlConnectionSettings;
  /** WALG_MYSQL_CHECK_GTIDS (not supported yet: warns). */
  checkGtids: boolean;
  /** WALG_MYSQL_BINLOG_SRC: where this host sees the server's binlog directory (e.g. a mount), index included. */
  binlogSrc?: string;
  /** --until: the first binlog not to push. */
  until?: string;
}

/** Uploads every closed binlog not yet archived; returns the names uploaded. */
export async function pushBinlogs(ctx: BinlogPushContext, opts: BinlogPushOptions): Promise<string[]> {
  if (opts.checkGtids) {
    log.warn('WALG_MYSQL_CHECK_GTIDS is not supported yet: binlogs are selected by name and the local cache only');
  }
  const session = await connectMysql(opts.connection);
  let folder: string;
  let indexPath: string;
  try {
    folder = await session.binlogsFolder();
    indexPath = await session.binlogIndexPath();
  } finally {
    await session.close();
  }
  const src = opts.binlogSrc;
  if (src !== undefined) {
    folder = src;
    indexPath = join(src, basename(indexPath));
  }
  let index: string;
  try { index = await readFile(indexPath, 'utf8'); } catch (err) {
    throw new LocalFileError(`failed to open binlog index: ${describeError(err)}`, { cause: err });
  }
  // The index lists files in creation order (paths as the server wrote them; only the base name matters).
  const binlogs = index.split('\n').map((l) => l.trim()).filter((l) => l !== '').map((l) => basename(l));
  const cachePath = ctx.cachePath ?? binlogCachePath();
  const { toPush, cache, reset } = selectBinlogsToPush(binlogs, opts.until, await readBinlogCache(cachePath));
  if (reset) log.warn(`binlog was reset or naming changed (${binlogs[0]}), clearing cache`);
  const pushed: string[] = [];
  for (const b of toPush) {
    const key = withExtension(`${BINLOG_PATH}${b}`, ctx.pipeline.compressor);
    // Restore order is upload order: re-uploading an archived binlog (cache lost) would move it after newer ones.
    if (await ctx.storage.exists(key, { signal: ctx.signal })) {
      log.info(`${b} is already archived, skipping`);
    } else {
      log.info(`Archiving ${b}`);
      const path = join(folder, b);
      try {
        await ctx.storage.put(key, () => through(createReadStream(path), encodeStages(ctx.pipeline)), { signal: ctx.signal });
      } catch (err) {
        throw new LocalFileError(`upload: could not upload '${path}': ${describeError(err)}`, { cause: err });
      }
      pushed.push(b);
    }
    cache.LastArchivedBinlog = b;
    await writeBinlogCache(cachePath, cache);
  }
  // compat: the cache file is written even when nothing was uploaded.
  await writeBinlogCache(cachePath, cache);
  return pushed;
}
