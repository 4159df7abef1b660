// `wal-g catchup-fetch <PGDATA> <backup_name> [--use-new-unwrap]`: applies a catchup backup to a stopped replica
// (src/pg/basebackup/catchup-fetch.ts). --use-new-unwrap is accepted for WAL-G's scripts; there is one unwrap here.

import type { CommandContext } from '../context.ts';
import { BASEBACKUPS_PATH, CATCHUP_PATH } from '../../backup/layout.ts';
import { withFolderRenamed } from '../../storage/wrap/prefix.ts';
import { catchupFetch } from '../../pg/basebackup/catchup-fetch.ts';

/** Runs catchup-fetch. Throws (exit 1) on a missing backup, a running or missing replica, or a bad object. */
export async function run(ctx: CommandContext, pgdata: string, name: string): Promise<void> {
  const storage = withFolderRenamed(await ctx.storage('default'), BASEBACKUPS_PATH, CATCHUP_PATH);
  await catchupFetch(pgdata, name, { storage, crypter: await ctx.crypter(), signal: ctx.signal });
}
