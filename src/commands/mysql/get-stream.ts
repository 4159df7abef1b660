// `wal-g mysql get-stream <name|LATEST> [destination_path]` and the 2018 `stream-fetch <name|LATEST>`: the
// backup as one plain stream (decrypted, decompressed, split parts merged) to stdout or a file.

import { createWriteStream } from 'node:fs';
import type { CommandContext } from '../context.ts';
import { selectStreamBackup, writeBackupStream } from '../../mysql/backup-fetch.ts';

/** CLI entry of get-stream / stream-fetch. */
export async function run(ctx: CommandContext, name: string, destination?: string): Promise<void> {
  const storage = await ctx.storage();
  const backup = await selectStreamBackup(storage, name, undefined, ctx.signal);
  const dest = destination ? createWriteStream(destination) : process.stdout;
  await writeBackupStream(storage, await ctx.crypter(), backup, dest, ctx.signal);
}
