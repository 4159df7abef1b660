// `wal-g daemon <daemon_socket_path>`: opens the storage and codecs once, then serves wal-push / wal-fetch requests
// from walg-daemon-client (or `wal-g daemon-client`) over a UNIX socket until SIGINT/SIGTERM.

import type { CommandContext } from '../context.ts';
import { describeError } from '../../core/errors.ts';
import { log } from '../../core/log.ts';
import { runDaemon } from '../../pg/daemon/server.ts';
import type { DaemonOperations } from '../../pg/daemon/server.ts';
import { prefetchPossible, walPrefetch } from '../../pg/wal/prefetch.ts';
import { walFetch } from '../../pg/wal/fetch.ts';
import { WorkAhead } from '../../pg/daemon/work-ahead.ts';
import { walSegmentSizeFromConfig } from '../../pg/wal-name.ts';
import { checkWalMetadataLevel, positiveConcurrency, targetStorageName } from './settings.ts';

/**
 * Runs the daemon on `socketPath` with one CommandContext for its whole life: settings are read and validated,
 * and the storage, compressor and crypter opened, before the socket is created (a broken configuration fails at
 * start, not on the first archive_command). Resolves after a clean shutdown; throws when it cannot start.
 */
export async function run(ctx: CommandContext, socketPath: string): Promise<void> {
  const cfg = ctx.config;
  const segmentSize = walSegmentSizeFromConfig(cfg);
  const uploadConcurrency = positiveConcurrency(ctx, 'WALG_UPLOAD_CONCURRENCY');
  const downloadConcurrency = positiveConcurrency(ctx, 'WALG_DOWNLOAD_CONCURRENCY');
  const operationTimeoutMs = cfg.getDurationMs('WALG_DAEMON_WAL_UPLOAD_TIMEOUT');
  const preventOverwrite = cfg.getBool('WALG_PREVENT_WAL_OVERWRITE');
  const totalBgUploadedLimit = cfg.getInt('TOTAL_BG_UPLOADED_LIMIT');
  const readyRename = cfg.getBool('PG_READY_RENAME');
  const pgdata = cfg.get('PGDATA');
  const prefetchDir = cfg.get('WALG_PREFETCH_DIR');
  checkWalMetadataLevel(ctx); // compat: WAL-G checks it on each push; a wrong value fails the daemon at start here
  const storage = await ctx.storage(targetStorageName(ctx, undefined));
  const pipeline = await ctx.writePipeline();
  if (!pgdata) log.warn('PGDATA is not set: only absolute paths can be served');
  log.info(`Files will be uploaded to storage: ${storage.name}`);

  // Work ahead: the next .ready segments upload while the requested one is answered once it is stored (issue 15).
  const workAhead = new WorkAhead({
    storage, pipeline, preventOverwrite, readyRename, segmentSize, pgdata,
    ahead: Math.max(0, Math.min(uploadConcurrency, totalBgUploadedLimit) - 1),
  });
  // In-process prefetch (compat: WAL-G's DaemonPrefetcher runs it as a goroutine, not a child process).
  const prefetches = new Set<Promise<void>>();
  const ops: DaemonOperations = {
    async walPush(walFilePath, signal) {
      await workAhead.push(walFilePath, signal);
    },
    async walFetch(walName, destination, signal) {
      await walFetch(walName, destination, { storage, crypter: pipeline.crypter, segmentSize, prefetchDir, signal });
      if (!prefetchPossible(walName, downloadConcurrency)) return;
      log.debug(`Invoking daemon WAL-prefetch (${walName})`);
      const p = walPrefetch(walName, destination, {
        storage, crypter: pipeline.crypter, segmentSize, downloadConcurrency, prefetchDir, signal: ctx.signal,
      }).catch((err) => log.error(`WAL-prefetch (${walName}): ${describeError(err)}`));
      prefetches.add(p);
      void p.finally(() => prefetches.delete(p));
    },
  };

  await runDaemon({
    socketPath, pgdata, operationTimeoutMs, ops, notifySocket: cfg.get('NOTIFY_SOCKET') ?? process.env.NOTIFY_SOCKET,
  }, ctx.signal);
  await Promise.allSettled([...prefetches, workAhead.drain()]);
}
