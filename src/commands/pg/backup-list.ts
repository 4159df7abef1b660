// `wal-g backup-list [--pretty] [--json] [--detail] [--target-storage NAME]`: finished backups oldest first, printed
// exactly like WAL-G's printlist package (src/commands/render/backup-list.ts renders them).

import type { CommandContext } from '../context.ts';
import { log } from '../../core/log.ts';
import { metadataFromSentinel } from '../../backup/catalog.ts';
import { mapLimit } from '../../core/concurrency.ts';
import { parseRfc3339 } from '../../backup/retention.ts';
import { goWallClock } from '../../core/time.ts';
import { listBackups, readMetadata, readSentinel } from '../../backup/sentinel.ts';
import { renderBackupList } from '../render/backup-list.ts';
import type { BackupListFormat, ListedBackup } from '../render/backup-list.ts';

/** Flags of backup-list. */
export interface BackupListOptions extends BackupListFormat { targetStorage?: string }

/** compat: SortBackupDetails — by start time when every backup has one, else by sentinel modification time. */
function sortDetailed(list: ListedBackup[]): ListedBackup[] {
  const starts = list.map((b) => (goWallClock(b.metadata?.start_time) ? parseRfc3339(b.metadata!.start_time)?.getTime() ?? Number.NaN : Number.NaN));
  if (starts.some((t) => Number.isNaN(t))) return list; // already in modification order
  return list.map((b, i) => ({ b, t: starts[i]! })).sort((x, y) => x.t - y.t).map((x) => x.b);
}

/** Lists backups of the (target) storage to stdout. "No backups found" is logged (unless --json) and is not an error. */
export async function run(ctx: CommandContext, opts: BackupListOptions): Promise<void> {
  const storage = await ctx.storage(opts.targetStorage || 'default');
  log.info(`List backups from storages: [${storage.name}]`);
  const refs = await listBackups(storage, undefined, ctx.signal);
  if (refs.length === 0 && !opts.json) log.info('No backups found');
  let list: ListedBackup[] = refs.map((ref) => ({ ref, storageName: storage.name }));
  if (opts.detail) {
    const concurrency = ctx.config.getInt('WALG_DOWNLOAD_CONCURRENCY');
    list = await mapLimit(list, concurrency, async (b) => {
      let metadata = await readMetadata(storage, b.ref.name);
      if (!metadata) {
        // WAL-G fails the whole listing here; showing what the sentinel knows is more useful and harmless.
        log.warn(`Backup ${b.ref.name} has no metadata.json; showing the details its sentinel holds`);
        const s = await readSentinel(storage, b.ref.name);
        metadata = metadataFromSentinel(s, s.IsPermanent);
      }
      return { ...b, metadata };
    });
    list = sortDetailed(list);
  }
  process.stdout.write(renderBackupList(list, opts));
}
