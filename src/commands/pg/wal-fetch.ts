// `wal-g wal-fetch <wal_name> <destination_filename>` (restore_command %f %p): thin command over src/pg/wal/fetch.ts,
// which starts the detached wal-prefetch child after serving a segment.

import type { CommandContext } from '../context.ts';
import { describeError } from '../../core/errors.ts';
import { log } from '../../core/log.ts';
import { walFetch } from '../../pg/wal/fetch.ts';
import { prefetchPossible, prefetchWindowFilled, prefetcherRunning, spawnPrefetch } from '../../pg/wal/prefetch.ts';
import { dirname } from 'node:path';
import { walSegmentSizeFromConfig } from '../../pg/wal-name.ts';
import { positiveConcurrency, targetStorageName } from './settings.ts';

/** Runs wal-fetch. A missing file throws ArchiveNonExistenceError (exit 74); other failures exit 1. */
export async function run(ctx: CommandContext, walName: string, destination: string, opts: { targetStorage?: string }): Promise<void> {
  const cfg = ctx.config;
  const segmentSize = walSegmentSizeFromConfig(cfg);
  const storage = await ctx.storage(targetStorageName(ctx, opts.targetStorage));
  const crypter = await ctx.crypter();
  await walFetch(walName, destination, {
    storage, crypter, segmentSize, prefetchDir: cfg.get('WALG_PREFETCH_DIR'), signal: ctx.signal,
  });
  // compat: WAL-G starts the prefetcher after serving the file (deferred). We skip it after a failure: a missing
  // segment means the following ones are not archived either, and recovery probes the end of the archive often.
  // compat: a bad WALG_DOWNLOAD_CONCURRENCY only disables prefetch (logged); the fetch itself already succeeded.
  let downloadConcurrency: number;
  try {
    downloadConcurrency = positiveConcurrency(ctx, 'WALG_DOWNLOAD_CONCURRENCY');
  } catch (err) {
    log.error(`WAL-prefetch: get max concurrency: ${describeError(err)}`);
    return;
  }
  if (!prefetchPossible(walName, downloadConcurrency)) return;
  // Deviation from WAL-G (which starts a prefetcher after every fetch): skip it while the next half of the window is
  // already prefetched or in flight, so replay does not compete with a new process per segment.
  const dir = cfg.get('WALG_PREFETCH_DIR') ?? dirname(destination);
  if (await prefetchWindowFilled(walName, dir, segmentSize, Math.ceil(downloadConcurrency / 2))) {
    log.debug(`WAL-prefetch: next ${Math.ceil(downloadConcurrency / 2)} segments already prefetched, not starting a prefetcher`);
    return;
  }
  // Nor while one is still working through its window (it downloads in order, two at a time).
  if (await prefetcherRunning(dir)) {
    log.debug('WAL-prefetch: a prefetch process is running, not starting another');
    return;
  }
  spawnPrefetch(walName, destination, {
    configPath: cfg.file,
    storagePrefix: cfg.get('WALG_STORAGE_PREFIX'),
    targetStorage: opts.targetStorage,
    devel: log.isDevel,
  });
}
