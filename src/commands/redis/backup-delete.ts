// `wal-g redis backup-delete <name|LATEST> [--confirm]`: removes one backup, sentinel first (compat:
// HandleBackupDelete: a backup that does not exist is logged and the command succeeds; without --confirm it only
// says what it would delete).

import type { CommandContext } from '../context.ts';
import { describeError } from '../../core/errors.ts';
import { log } from '../../core/log.ts';

/** CLI entry of backup-delete. */
export async function run(ctx: CommandContext, name: string, opts: { confirm?: boolean }): Promise<void> {
  const storage = await ctx.storage();
  const { selectRedisBackup } = await import('../../redis/fetch.ts');
  let backup: Awaited<ReturnType<typeof selectRedisBackup>>;
  try {
    backup = await selectRedisBackup(storage, name, ctx.signal);
  } catch (err) {
    log.info(`Backup ${name} does not exist, nothing done: ${describeError(err)}`);
    return;
  }
  if (!opts.confirm) {
    log.info(`Skipping backup deletion due to dry-run: ${backup.name}`);
    return;
  }
  const { deleteRedisBackups } = await import('../../redis/retention.ts');
  await deleteRedisBackups(storage, [backup.name], ctx.signal);
  log.info(`Backup was deleted: ${backup.name}`);
}
