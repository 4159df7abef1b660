// PostgreSQL WAL commands of the commander tree: wal-push, wal-fetch, the hidden wal-prefetch child, daemon and
// daemon-client, wal-show and wal-verify. Handlers are imported lazily so wal-push never loads what wal-fetch needs
// and vice versa.

import { Command } from 'commander';
import { withContext } from './run.ts';

const TARGET_STORAGE_HELP = 'name of the storage to use (default: the first alive storage)';

/** Registers wal-push, wal-fetch, the hidden wal-prefetch, daemon, daemon-client, wal-show and wal-verify on `program`. */
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

  program.command('daemon').argument('<daemon_socket_path>', 'UNIX socket to listen on')
    .description('Runs WAL-G in daemon mode which executes commands sent from the lightweight walg-daemon-client.')
    .action(async (socketPath: string) => withContext(async (ctx) =>
      (await import('../commands/pg/daemon.ts')).run(ctx, socketPath)));

  // compat: WAL-G's separate walg-daemon-client binary. It parses its own Go-style flags (-timeout 5s) and reads
  // no configuration, so commander hands it the raw arguments.
  program.command('daemon-client').argument('[args...]', 'socket wal-push <wal_filepath> | socket wal-fetch <wal_name> <destination_filename>')
    .description('Lightweight client for the WAL-G daemon (walg-daemon-client): [-timeout 60s] [-connection-timeout 5s]')
    .helpOption(false).allowUnknownOption().allowExcessArguments()
    .action(async (args: string[]) => (await import('../commands/pg/daemon-client.ts')).run(args));

  program.command('wal-show')
    .description('Show storage WAL segments info grouped by timelines.')
    .option('--detailed-json', 'Output detailed information in JSON format.')
    .option('--without-backups', 'Disable backups lookup for each timeline.')
    .action(async (opts: { detailedJson?: boolean; withoutBackups?: boolean }) => withContext(async (ctx) =>
      (await import('../commands/pg/wal-show.ts')).run(ctx, opts)));

  program.command('wal-verify').argument('[checks...]', 'integrity and/or timeline')
    .description('Verify WAL storage folder. Available checks: integrity, timeline.')
    .option('--json', 'Show output in JSON format.')
    .option('--timeline <id>', 'Verify WAL for the specified timeline. Works only in conjunction with the "--lsn" flag.')
    .option('--lsn <lsn>', 'Verify WAL for the specified lsn. Works only in conjunction with the "--timeline" flag.')
    .option('--backup-name <name>', 'Verify WAL starting from the specified backup.')
    .action(async (checks: string[], opts: { json?: boolean; timeline?: string; lsn?: string; backupName?: string }) => {
      const cmd = await import('../commands/pg/wal-verify.ts');
      cmd.validateArgs(checks, opts); // compat: argument errors come before any setting or storage is touched
      await withContext(async (ctx) => cmd.run(ctx, checks, opts));
    });
}
