// `wal-g wal-push <wal_filepath>` (archive_command %p): thin command over src/pg/wal/push.ts.

import type { CommandContext } from '../context.ts';
import { log } from '../../core/log.ts';
import { UploadMarkers, markerDirFor } from '../../pg/wal/archive-status.ts';
import { walPush } from '../../pg/wal/push.ts';
import { walSegmentSizeFromConfig } from '../../pg/wal-name.ts';
import { checkWalMetadataLevel, positiveConcurrency, targetStorageName } from './settings.ts';

/** Runs wal-push. Throws (exit 1) when the file could not be stored or a different copy is already archived. */
export async function run(ctx: CommandContext, walFilePath: string, opts: { targetStorage?: string }): Promise<void> {
  const cfg = ctx.config;
  const uploadConcurrency = positiveConcurrency(ctx, 'WALG_UPLOAD_CONCURRENCY');
  const segmentSize = walSegmentSizeFromConfig(cfg);
  const storage = await ctx.storage(targetStorageName(ctx, opts.targetStorage));
  const pipeline = await ctx.writePipeline();
  // compat: WAL-G logs the storage every wal-push writes to.
  log.info(`Files will be uploaded to storage: ${storage.name}`);
  checkWalMetadataLevel(ctx);
  if (cfg.getBool('WALG_USE_WAL_DELTA')) {
    log.warn('WALG_USE_WAL_DELTA is not supported by this build; delta backups will scan data files instead');
  }
  await walPush(walFilePath, {
    storage,
    pipeline,
    preventOverwrite: cfg.getBool('WALG_PREVENT_WAL_OVERWRITE'),
    uploadConcurrency,
    totalBgUploadedLimit: cfg.getInt('TOTAL_BG_UPLOADED_LIMIT'),
    readyRename: cfg.getBool('PG_READY_RENAME'),
    markers: new UploadMarkers(markerDirFor(walFilePath, cfg.get('PGDATA'))),
    segmentSize,
    signal: ctx.signal,
  });
}
