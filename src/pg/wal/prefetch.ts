// WAL prefetch (walg-format.md §7.3): after wal-fetch serves segment N, a detached `wal-g wal-prefetch` child
// downloads N+1 … N+WALG_DOWNLOAD_CONCURRENCY into `<dir>/.wal-g/prefetch/running/` and renames each complete file
// into `<dir>/.wal-g/prefetch/`, where the next wal-fetch picks it up; it also removes prefetched files older than N.

import { spawn } from 'node:child_process';
import { mkdir, open, readFile, readdir, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { ArchiveNonExistenceError, describeError } from '../../core/errors.ts';
import { log } from '../../core/log.ts';
import { mapLimit } from '../../core/concurrency.ts';
import type { Storage } from '../../storage/types.ts';
import { compareWalSegments, isWalSegmentName, nextWalName, parseWalName, tryParseWalName } from '../wal-name.ts';
import { openArchivedWal } from './archived.ts';
import type { WalReadOptions } from './archived.ts';
import { seaApi } from '../../core/native.ts';

/** Paths used for prefetching `name` below `dir` (the destination's directory, or WALG_PREFETCH_DIR). */
export interface PrefetchPaths {
  /** `<dir>/.wal-g/prefetch` */
  prefetchDir: string;
  /** `<dir>/.wal-g/prefetch/running` */
  runningDir: string;
  /** `<dir>/.wal-g/prefetch/running/<name>`: download in progress. */
  running: string;
  /** `<dir>/.wal-g/prefetch/<name>`: complete download. */
  prefetched: string;
}

/** compat: WAL-G's getPrefetchLocations layout. */
export function prefetchPaths(dir: string, name: string): PrefetchPaths {
  const prefetchDir = join(dir, '.wal-g', 'prefetch');
  const runningDir = join(prefetchDir, 'running');
  return { prefetchDir, runningDir, running: join(runningDir, name), prefetched: join(prefetchDir, name) };
}

/**
 * compat: WAL-G's checkPrefetchPossible — never for names containing `history` or `partial`, and not when
 * WALG_DOWNLOAD_CONCURRENCY is 1. We also skip any other non-segment name (e.g. `.backup` files): the child could
 * not compute a successor for it anyway.
 */
export function prefetchPossible(name: string, downloadConcurrency: number): boolean {
  return !name.includes('history') && !name.includes('partial') && downloadConcurrency !== 1 && isWalSegmentName(name);
}


/** What the prefetch child needs to see the same configuration as its parent. */
export interface SpawnPrefetchOptions {
  /** The config file the parent read, passed on as --config. */
  configPath?: string;
  /** WALG_STORAGE_PREFIX, passed on as --walg-storage-prefix (compat: WAL-G does the same). */
  storagePrefix?: string;
  /** --target-storage of the parent. */
  targetStorage?: string;
  /** WALG_LOG_LEVEL=DEVEL: the child's PREFETCH-prefixed logs go to our stderr; otherwise stdio is closed. */
  devel?: boolean;
}

/**
 * Starts `wal-g wal-prefetch <name> <location>` detached and returns at once. Settings reach the child through
 * the environment (the CLI exported every resolved setting into it). Works from source (node + entry script) and
 * from the single executable. A failure to start is only logged: prefetch is an optimisation.
 */
export function spawnPrefetch(name: string, location: string, opts: SpawnPrefetchOptions = {}): void {
  const args = seaApi() ? [] : [...process.execArgv, process.argv[1]!];
  args.push('wal-prefetch', name, location);
  if (opts.configPath) args.push('--config', opts.configPath);
  if (opts.storagePrefix) args.push('--walg-storage-prefix', opts.storagePrefix);
  if (opts.targetStorage) args.push('--target-storage', opts.targetStorage);
  try {
    // stdout/stderr are not inherited unless DEVEL: a child holding the pipe open would make whoever reads
    // restore_command's output wait for the whole prefetch, and its logs are discarded anyway.
    const child = spawn(process.execPath, args, {
      detached: true,
      stdio: ['ignore', 'ignore', opts.devel ? 'inherit' : 'ignore'],
      env: process.env,
    });
    child.on('error', (err) => log.error(`WAL-prefetch failed: ${describeError(err)}`));
    child.unref();
  } catch (err) {
    log.error(`WAL-prefetch failed: ${describeError(err)}`);
  }
}

/** Options of walPrefetch. */
export interface WalPrefetchOptions extends WalReadOptions {
  storage: Storage;
  segmentSize: number;
  /** WALG_DOWNLOAD_CONCURRENCY: how many following segments to fetch. */
  downloadConcurrency: number;
  /** WALG_PREFETCH_DIR; default: the directory of `location`. */
  prefetchDir?: string;
}

const exists = (p: string) => stat(p).then(() => true, () => false);

/**
 * Downloads one segment into `running/<name>` (created exclusively first, so a concurrent wal-fetch sees the
 * download growing), then renames it to `prefetch/<name>`. Skips names already present in either place. Never
 * throws: a missing or failing segment just leaves nothing behind.
 */
export async function prefetchFile(name: string, dir: string, opts: WalPrefetchOptions): Promise<'prefetched' | 'skipped' | 'missing' | 'failed'> {
  const p = prefetchPaths(dir, name);
  if (await exists(p.running) || await exists(p.prefetched)) return 'skipped';
  try {
    await mkdir(p.runningDir, { recursive: true });
  } catch (err) {
    log.error(`WAL-prefetch ${name}, make dirs: ${describeError(err)}`);
    return 'failed';
  }
  let fh;
  try {
    fh = await open(p.running, 'wx');
  } catch {
    return 'skipped'; // another prefetcher created it first
  }
  const out = fh.createWriteStream();
  try {
    const obj = await openArchivedWal(opts.storage, name, opts);
    await pipeline(obj.stream, out, { signal: opts.signal });
  } catch (err) {
    out.destroy();
    // Unlike WAL-G (which may rename a partial file into place), remove it: wal-fetch would reject it anyway.
    await unlink(p.running).catch(() => {});
    if (err instanceof ArchiveNonExistenceError) {
      log.debug(`WAL-prefetch ${name}: not archived yet`);
      return 'missing';
    }
    log.error(`WAL-prefetch ${name}, download: ${describeError(err)}`);
    return 'failed';
  }
  log.debug(`WAL-prefetch ${name}, download OK`);
  // wal-fetch may have taken over (deleting running/<name>) or another prefetcher may have finished first.
  if (await exists(p.running) && !(await exists(p.prefetched))) {
    try {
      await rename(p.running, p.prefetched);
      return 'prefetched';
    } catch (err) {
      log.error(`WAL-prefetch ${name}, rename ${p.running} -> ${p.prefetched}: ${describeError(err)}`);
    }
  }
  await unlink(p.running).catch(() => {});
  return 'skipped';
}

/**
 * compat: WAL-G's CleanupPrefetchDirectories — removes prefetched and in-progress files older than `name`
 * (lower timeline, or same timeline and lower segment) from both prefetch directories. Never throws.
 */
export async function cleanupPrefetchDirectories(name: string, dir: string, segmentSize: number): Promise<void> {
  const current = tryParseWalName(name, segmentSize);
  if (!current) {
    log.warn(`WAL-prefetch cleanup failed: '${name}' is not a WAL segment name`);
    return;
  }
  const { prefetchDir, runningDir } = prefetchPaths(dir, name);
  for (const d of [prefetchDir, runningDir]) {
    let files: string[];
    try { files = await readdir(d); } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') log.warn(`WAL-prefetch cleanup failed, cannot enumerate files in dir: ${d}`);
      continue;
    }
    for (const f of files) {
      const seg = tryParseWalName(f, segmentSize);
      if (seg && compareWalSegments(seg, current) < 0) await unlink(join(d, f)).catch(() => {});
    }
  }
}

/**
 * True when each of the `count` segments after `name` is already prefetched or being prefetched in `dir`.
 * wal-fetch then starts no new prefetch process: on a 2-core server a Node process per restored segment competes
 * with the startup process replaying WAL, and the window is refilled by a later call (which also cleans up).
 * A name with no successor (not a segment) gives false, so the caller falls back to WAL-G's behaviour.
 */
export async function prefetchWindowFilled(name: string, dir: string, segmentSize: number, count: number): Promise<boolean> {
  if (!tryParseWalName(name, segmentSize)) return false;
  let next = name;
  for (let i = 0; i < count; i++) {
    next = nextWalName(next, segmentSize);
    const p = prefetchPaths(dir, next);
    if (!(await exists(p.prefetched)) && !(await exists(p.running))) return false;
  }
  return true;
}

/** A prefetch process's claim, in `running/`: its pid. Not a WAL name, so cleanup and wal-fetch ignore it. */
const PREFETCHER_LOCK = '.prefetcher';
/** Where the claim of the prefetch directory of `dir` lives. */
export function prefetcherLockPath(dir: string): string {
  return join(prefetchPaths(dir, PREFETCHER_LOCK).runningDir, PREFETCHER_LOCK);
}
/** A claim older than this is stale whatever its pid says (pids are reused). */
const LOCK_MAX_AGE_MS = 5 * 60_000;

/**
 * True while a live prefetch process holds the claim of `dir` (see walPrefetch). wal-fetch then starts no other:
 * the running one works through its whole window in order.
 */
export async function prefetcherRunning(dir: string): Promise<boolean> {
  const lock = prefetcherLockPath(dir);
  try {
    const [st, text] = await Promise.all([stat(lock), readFile(lock, 'utf8')]);
    if (Date.now() - st.mtimeMs > LOCK_MAX_AGE_MS) return false;
    const pid = Number(text.trim());
    if (!Number.isInteger(pid) || pid <= 0) return false;
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // ESRCH: that process is gone; EPERM: alive, but another user's (it still prefetches for us).
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Takes the claim of `dir` for this process; false when a live prefetcher holds it. */
async function claimPrefetch(dir: string): Promise<boolean> {
  const lock = prefetcherLockPath(dir);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      await writeFile(lock, `${process.pid}\n`, { flag: 'wx' });
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      if (await prefetcherRunning(dir)) return false;
      await unlink(lock).catch(() => {}); // stale: its process died without removing it
    }
  }
  return false;
}

/** Downloads a prefetch process runs at once: about the cores of a small server, which replays WAL meanwhile. */
const PREFETCH_PARALLEL = 2;

/**
 * wal-prefetch: fetches the `downloadConcurrency` segments after `name` into the prefetch directory of `location`,
 * in order and PREFETCH_PARALLEL at a time, and cleans older prefetched files. Resolves when all downloads ended.
 * Deviation from WAL-G, which starts all of them 10 ms apart: here they share two cores, and ten decoding at once
 * made the segment restore_command asks for next arrive only with the last of them.
 */
export async function walPrefetch(name: string, location: string, opts: WalPrefetchOptions): Promise<void> {
  const dir = opts.prefetchDir ?? dirname(location);
  parseWalName(name, opts.segmentSize); // throws NotWalNameError for names with no successor
  const names: string[] = [];
  let next = name;
  for (let i = 0; i < opts.downloadConcurrency; i++) names.push(next = nextWalName(next, opts.segmentSize));
  const { runningDir } = prefetchPaths(dir, name);
  try {
    await mkdir(runningDir, { recursive: true });
    if (!(await claimPrefetch(dir))) {
      log.debug('WAL-prefetch: another prefetch process is running');
      return;
    }
  } catch (err) {
    log.error(`WAL-prefetch: cannot claim ${runningDir}: ${describeError(err)}`);
    return;
  }
  const cleanup = cleanupPrefetchDirectories(name, dir, opts.segmentSize);
  // A segment not archived yet means the later ones are not either: none after it is started.
  let missingFrom = Infinity;
  const fetchInOrder = mapLimit(names, PREFETCH_PARALLEL, async (n, i) => {
    if (i > missingFrom) return;
    if ((await prefetchFile(n, dir, opts)) === 'missing') missingFrom = Math.min(missingFrom, i);
  });
  try {
    await Promise.all([cleanup, fetchInOrder]);
  } finally {
    await unlink(prefetcherLockPath(dir)).catch(() => {});
  }
}
