// PostgreSQL WAL commands of the commander tree: wal-push, wal-fetch and the hidden wal-prefetch child.
// Handlers are imported lazily so wal-push never loads what wal-fetch needs and vice versa.

import { Command } from 'commander';
import { withContext } from './run.ts';

const TARGET_STORAGE_HELP = 'name of the storage to use (default: the first alive storage)';

/** Registers wal-push, wal-fetch and the hidden wal-prefetch on `program`. */
export function registerPgCommands(program: Command): void {
  program.command('wal-push').argument('<wal_filepath>', 'path of the WAL file (archive_command %p)')
    .description('Uploads a WAL file to storage')
    .option('--target-storage <name>', TARGET_STORAGE_HELP)
    .action(async (walFilePath: string, opts: { targetStorage?: string }) => withContext(async (ctx) =>
      (await import('../commands/pg/wal-push.ts')).run(ctx, walFilePath, opts)));

  program.command('wal-fetch').argument('<wal_name>', 'WAL file name (restore_command %f)')
    .argument('<destination_filename>', 'where to write it (restore_command %p)')
    .description('Fetches a WAL file from storage')
    .option('--target-storage <name>', TARGET_STORAGE_HELP)
    .action(async (walName: string, destination: string, opts: { targetStorage?: string }) => withContext(async (ctx) =>
      (await import('../commands/pg/wal-fetch.ts')).run(ctx, walName, destination, opts)));

  // Hidden, as in WAL-G: only wal-fetch starts it.
  program.addCommand(new Command('wal-prefetch').argument('<wal_name>').argument('<prefetch_location>')
    .description('Used for prefetching process forking and should not be called by user.')
    .option('--target-storage <name>', TARGET_STORAGE_HELP)
    .action(async (walName: string, location: string, opts: { targetStorage?: string }) => withContext(async (ctx) =>
      (await import('../commands/pg/wal-prefetch.ts')).run(ctx, walName, location, opts))), { hidden: true });
}
