// PostgreSQL backup commands of the commander tree (registered by src/cli/program.ts): backup-push and
// backup-fetch. Handlers are imported lazily so other commands never load node-postgres or the tar code.

import type { Command } from 'commander';
import { withContext } from './run.ts';

const TARGET_STORAGE_HELP = 'name of the storage to use (default: the first alive storage)';

/** Registers backup-push and backup-fetch on `program`. */
export function registerPgBackupCommands(program: Command): void {
  program.command('backup-push').argument('[db_directory]', 'PostgreSQL data directory (default: PGDATA)')
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
    .action(async (dbDirectory: string | undefined, opts: Record<string, unknown>) => withContext(async (ctx) =>
      (await import('../commands/pg/backup-push.ts')).run(ctx, dbDirectory, opts)));

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
    .action(async (destination: string, backupName: string | undefined, opts: Record<string, unknown>) => withContext(async (ctx) =>
      (await import('../commands/pg/backup-fetch.ts')).run(ctx, destination, backupName, opts)));
}
