// The PostgreSQL command group: every command's name, arguments, flags, storage role and lazily imported handler,
// registered on the commander tree by src/cli/program.ts. Handlers stay behind `await import()` so `wal-g wal-push`
// never loads what wal-fetch or backup-push needs (nor node-postgres, the tar code or a cloud SDK). This module is
// evaluated into the startup snapshot (src/cli/entry.ts): its top level must read nothing of the environment.

import { Command } from 'commander';
import type { RunCommand } from '../context.ts';
import type { DeleteMode, DeleteOptions } from './delete.ts';

const TARGET_STORAGE_HELP = 'name of the storage to use (default: the first alive storage)';

/** Registers the PostgreSQL commands on `program`, in help order: backups, catalog, then WAL. */
export function registerPgCommands(program: Command, run: RunCommand): void {
  registerBackupCommands(program, run);
  registerCatalogCommands(program, run);
  registerWalCommands(program, run);
}

/** backup-push (role write) and backup-fetch (role read). */
function registerBackupCommands(program: Command, run: RunCommand): void {
  program.command('backup-push').argument('[db_directory]', 'PostgreSQL data directory; without it a remote backup (not supported yet)')
    .description('Makes backup and uploads it to storage')
    .option('-p, --permanent', 'Pushes permanent backup', false)
    .option('-f, --full', 'Make full backup-push', false)
    .option('-v, --verify', 'Verify page checksums')
    .option('-s, --store-all-corrupt', 'Store all corrupt blocks found during page checksum verification')
    .option('-r, --rating-composer', 'Use rating tar composer (accepted; files are grouped by the regular composer)')
    .option('-c, --copy-composer', 'Use copy tar composer (implies a full backup; files are grouped by the regular composer)')
    .option('-b, --database-composer', 'Use database tar composer (accepted; files are grouped by the regular composer)')
    .option('--delta-from-name <backup>', 'Select the backup specified by name as the target for the delta backup')
    .option('--delta-from-user-data <json>', 'Select the backup specified by UserData as the target for the delta backup')
    .option('--add-user-data <json>', 'Write the provided user data to the backup sentinel and metadata files.')
    .option('--without-files-metadata', 'Do not track files metadata, significantly reducing memory usage', false)
    .option('--target-storage <name>', TARGET_STORAGE_HELP)
    .action(async (dbDirectory: string | undefined, opts: Record<string, unknown>) => run('write', async (ctx) =>
      (await import('./backup-push.ts')).run(ctx, dbDirectory, opts)));

  program.command('backup-fetch').argument('<destination_directory>', 'where to restore the data directory')
    .argument('[backup_name]', 'backup name or LATEST (or use --target-user-data)')
    .description('Fetches a backup from storage')
    .option('--mask <glob>', 'Fetches only files which path relative to destination_directory matches given shell file pattern')
    .option('--restore-spec <file>', 'Path to file containing tablespace restore specification')
    .option('--target-user-data <json>', 'Fetch storage backup which has the specified user data')
    .option('--reverse-unpack', 'Unpack delta backups in reverse order (not supported yet)')
    .option('--skip-redundant-tars', 'Skip tars with no useful data (not supported yet)')
    .option('--restore-only <names>', 'Partial restore of databases or tables (not supported yet)')
    .option('--target-storage <name>', TARGET_STORAGE_HELP)
    .action(async (destination: string, backupName: string | undefined, opts: Record<string, unknown>) => run('read', async (ctx) =>
      (await import('./backup-fetch.ts')).run(ctx, destination, backupName, opts)));
}

/** backup-list (role read), backup-mark (primary only) and delete retain|before|everything|target|garbage. */
function registerCatalogCommands(program: Command, run: RunCommand): void {
  program.command('backup-list')
    .description('Prints full list of backups from which recovery is available')
    .option('--pretty', 'Prints more readable output in table format', false)
    .option('--json', 'Prints output in JSON format, multiline and indented if combined with --pretty flag', false)
    .option('--detail', 'Prints extra DB-specific backup details', false)
    .option('--target-storage <name>', 'name of the storage to list (default: the primary storage)')
    .action(async (opts: { pretty: boolean; json: boolean; detail: boolean; targetStorage?: string }) => run('read', async (ctx) =>
      (await import('./backup-list.ts')).run(ctx, opts)));

  program.command('catchup-push').argument('<PGDATA>', 'data directory of the primary')
    .description('Creates incremental backup from lsn')
    .option('--from-lsn <lsn>', 'LSN to start incremental backup', '0')
    .action(async (pgdata: string, opts: { fromLsn?: string }) => run('write', async (ctx) =>
      (await import('./catchup-push.ts')).run(ctx, pgdata, opts)));

  program.command('catchup-fetch').argument('<PGDATA>', 'data directory of the stopped replica').argument('<backup_name>')
    .description('Fetches an incremental backup from storage')
    .option('--use-new-unwrap', 'Use the new implementation of catchup unwrap (beta)', false)
    .action(async (pgdata: string, name: string) => run('read', async (ctx) =>
      (await import('./catchup-fetch.ts')).run(ctx, pgdata, name)));

  program.command('catchup-list')
    .description('Prints available incremental backups')
    .option('--pretty', 'Prints more readable output', false)
    .option('--json', 'Prints output in json format', false)
    .option('--detail', 'Prints extra backup details', false)
    .action(async (opts: { pretty: boolean; json: boolean; detail: boolean }) => run('read', async (ctx) =>
      (await import('./backup-list.ts')).run(ctx, opts, (await import('../../backup/layout.ts')).CATCHUP_PATH)));

  program.command('backup-mark').argument('<backup_name>', 'backup to mark')
    .description('Marks a backup permanent or impermanent')
    .option('-i, --impermanent', 'Marks a backup impermanent', false)
    .action(async (name: string, opts: { impermanent: boolean }) => run('none', async (ctx) =>
      (await import('./backup-mark.ts')).run(ctx, name, opts)));

  // compat: --confirm and --use-sentinel-time are persistent flags of `delete`: accepted before or after the mode.
  const del = new Command('delete').description('Clears old backups and WALs')
    .option('--confirm', 'Confirms backup deletion', false)
    .option('--use-sentinel-time', 'Use backup creation time from sentinel for backups ordering.', false);
  // delete reads every alive storage and deletes from all of them, after a read-write check (compat: WAL-G).
  const mode = (name: DeleteMode, usage: string, description: string) => del.command(name)
    .usage(usage).description(description).argument('[args...]')
    .action(async (args: string[], _opts: unknown, cmd: Command) => run({ role: 'read', checkWritable: true }, async (ctx) =>
      (await import('./delete.ts')).run(ctx, name, args, cmd.optsWithGlobals() as DeleteOptions)));
  mode('retain', '[FULL|FIND_FULL] backup_count', 'keep the newest backups (and everything after --after) and delete older ones')
    .option('-a, --after <name|time>', 'Set the time after which retain backups');
  mode('before', '[FIND_FULL] backup_name|timestamp', 'delete everything older than the backup or time');
  mode('everything', '[FORCE]', 'delete every backup and WAL (FORCE: permanent ones too)');
  mode('target', '[FIND_FULL] backup_name | --target-user-data <data>', 'delete one backup and the deltas that depend on it')
    .option('--target-user-data <data>', 'delete storage backup which has the specified user data');
  mode('garbage', '[ARCHIVES|BACKUPS]', 'delete outdated WAL archives and leftover backup files')
    .option('--without-backup-check', 'skip check for existing non-permanent backups', false);
  program.addCommand(del);
}

/** wal-push and wal-receive (write), wal-fetch and the hidden wal-prefetch (read), daemon (both), daemon-client, wal-show, wal-verify. */
function registerWalCommands(program: Command, run: RunCommand): void {
  program.command('wal-push').argument('<wal_filepath>', 'path of the WAL file (archive_command %p)')
    .description('Uploads a WAL file to storage')
    .option('--target-storage <name>', TARGET_STORAGE_HELP)
    .action(async (walFilePath: string, opts: { targetStorage?: string }) => run('write', async (ctx) =>
      (await import('./wal-push.ts')).run(ctx, walFilePath, opts)));

  program.command('wal-fetch').argument('<wal_name>', 'WAL file name (restore_command %f)')
    .argument('<destination_filename>', 'where to write it (restore_command %p)')
    .description('Fetches a WAL file from storage')
    .option('--target-storage <name>', TARGET_STORAGE_HELP)
    .action(async (walName: string, destination: string, opts: { targetStorage?: string }) => run('read', async (ctx) =>
      (await import('./wal-fetch.ts')).run(ctx, walName, destination, opts)));

  // Hidden, as in WAL-G: only wal-fetch starts it.
  program.addCommand(new Command('wal-prefetch').argument('<wal_name>').argument('<prefetch_location>')
    .description('Used for prefetching process forking and should not be called by user.')
    .option('--target-storage <name>', TARGET_STORAGE_HELP)
    .action(async (walName: string, location: string, opts: { targetStorage?: string }) => run('read', async (ctx) =>
      (await import('./wal-prefetch.ts')).run(ctx, walName, location, opts))), { hidden: true });

  program.command('wal-restore').argument('<target-pgdata>').argument('<source-pgdata>')
    .description('Restores the missing WAL segments that will be needed to perform pg_rewind from storage.')
    .action(async (target: string, source: string) => run('read', async (ctx) =>
      (await import('./wal-restore.ts')).run(ctx, target, source)));

  program.command('wal-receive')
    .description('Receive WAL over the replication protocol (slot WALG_SLOTNAME) and store each segment')
    .option('--target-storage <name>', TARGET_STORAGE_HELP)
    .action(async (opts: { targetStorage?: string }) => run('write', async (ctx) =>
      (await import('./wal-receive.ts')).run(ctx, opts)));

  // The daemon serves wal-push and wal-fetch: it writes to the first alive storage and reads from all.
  program.command('daemon').argument('<daemon_socket_path>', 'UNIX socket to listen on')
    .description('Runs WAL-G in daemon mode which executes commands sent from the lightweight walg-daemon-client.')
    .action(async (socketPath: string) => run('both', async (ctx) =>
      (await import('./daemon.ts')).run(ctx, socketPath)));

  // compat: WAL-G's separate walg-daemon-client binary. It parses its own Go-style flags (-timeout 5s) and reads
  // no configuration (so no context and no storage), so commander hands it the raw arguments.
  program.command('daemon-client').argument('[args...]', 'socket wal-push <wal_filepath> | socket wal-fetch <wal_name> <destination_filename>')
    .description('Lightweight client for the WAL-G daemon (walg-daemon-client): [-timeout 60s] [-connection-timeout 5s]')
    .helpOption(false).allowUnknownOption().allowExcessArguments()
    .action(async (args: string[]) => (await import('./daemon-client.ts')).run(args));

  program.command('wal-show')
    .description('Show storage WAL segments info grouped by timelines.')
    .option('--detailed-json', 'Output detailed information in JSON format.')
    .option('--without-backups', 'Disable backups lookup for each timeline.')
    .action(async (opts: { detailedJson?: boolean; withoutBackups?: boolean }) => run('none', async (ctx) =>
      (await import('./wal-show.ts')).run(ctx, opts)));

  program.command('wal-verify').argument('[checks...]', 'integrity and/or timeline')
    .description('Verify WAL storage folder. Available checks: integrity, timeline.')
    .option('--json', 'Show output in JSON format.')
    .option('--timeline <id>', 'Verify WAL for the specified timeline. Works only in conjunction with the "--lsn" flag.')
    .option('--lsn <lsn>', 'Verify WAL for the specified lsn. Works only in conjunction with the "--timeline" flag.')
    .option('--backup-name <name>', 'Verify WAL starting from the specified backup.')
    .action(async (checks: string[], opts: { json?: boolean; timeline?: string; lsn?: string; backupName?: string }) => {
      const cmd = await import('./wal-verify.ts');
      cmd.validateArgs(checks, opts); // compat: argument errors come before any setting or storage is touched
      await run('none', async (ctx) => cmd.run(ctx, checks, opts));
    });
}
