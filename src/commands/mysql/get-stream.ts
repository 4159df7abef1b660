// `wal-g mysql get-stream <name|LATEST> [destination_path]` and the 2018 `stream-fetch <name|LATEST>`: the
// backup as one plain stream (decrypted, decompressed, split parts merged) to stdout or a file, from the primary or
// the failover storage named by the root --target.

import { createWriteStream } from 'node:fs';
import type { CommandContext } from '../context.ts';
import { UsageError } from '../../core/errors.ts';
import { selectStreamBackup, writeBackupStream } from '../../mysql/backup-fetch.ts';

/** CLI entry of get-stream / stream-fetch; `target` is the root --target storage name (default: the primary). */
export async function run(ctx: CommandContext, name: string, destination?: string, target = 'default'): Promise<void> {
  // compat: WAL-G's message names st get.
  if (target === 'all') throw new UsageError("'all' target is not supported for st get command");
  const storage = await ctx.storage(target);
  const backup = await selectStreamBackup(storage, name, undefined, ctx.signal);
  const dest = destination ? createWriteStream(destination) : process.stdout;
  await writeBackupStream(storage, await ctx.crypter(), backup, dest, ctx.signal);
}
