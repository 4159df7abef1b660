// `wal-g wal-receive`: thin command over src/pg/replication/wal-receive.ts — streams WAL from the physical slot
// WALG_SLOTNAME (created if missing) into the storage until SIGINT/SIGTERM.

import type { CommandContext } from '../context.ts';
import { log } from '../../core/log.ts';
import { checkWalMetadataLevel, targetStorageName } from './settings.ts';

/** Runs wal-receive. Resolves after a stop signal (the current segment stored as .partial); rejects on failure. */
export async function run(ctx: CommandContext, opts: { targetStorage?: string }): Promise<void> {
  const { checkSlotName, walReceive } = await import('../../pg/replication/wal-receive.ts');
  const { replicationSettings } = await import('../../pg/replication/connection.ts');
  const slotName = checkSlotName(ctx.config.get('WALG_SLOTNAME') || 'walg');
  checkWalMetadataLevel(ctx);
  const storage = await ctx.storage(targetStorageName(ctx, opts.targetStorage));
  log.info(`Files will be uploaded to storage: ${storage.name}`);
  const pipeline = await ctx.writePipeline();
  await walReceive({ storage, pipeline, connection: replicationSettings(process.env), slotName, signal: ctx.signal });
}
