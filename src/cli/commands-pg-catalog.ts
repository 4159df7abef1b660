// PostgreSQL catalog commands of the commander tree (registered by src/cli/program.ts): backup-list, backup-mark
// and delete retain|before|everything|target|garbage. Handlers load lazily.

import { Command } from 'commander';
import { withContext } from './run.ts';
import type { DeleteMode, DeleteOptions } from '../commands/pg/delete.ts';

/** Registers backup-list, backup-mark and delete on `program`. */
export function registerPgCatalogCommands(program: Command): void {
  program.command('backup-list')
    .description('Prints full list of backups from which recovery is available')
    .option('--pretty', 'Prints more readable output in table format', false)
    .option('--json', 'Prints output in JSON format, multiline and indented if combined with --pretty flag', false)
    .option('--detail', 'Prints extra DB-specific backup details', false)
    .option('--target-storage <name>', 'name of the storage to list (default: the primary storage)')
    .action(async (opts: { pretty: boolean; json: boolean; detail: boolean; targetStorage?: string }) => withContext(async (ctx) =>
      (await import('../commands/pg/backup-list.ts')).run(ctx, opts)));

  program.command('backup-mark').argument('<backup_name>', 'backup to mark')
    .description('Marks a backup permanent or impermanent')
    .option('-i, --impermanent', 'Marks a backup impermanent', false)
    .action(async (name: string, opts: { impermanent: boolean }) => withContext(async (ctx) =>
      (await import('../commands/pg/backup-mark.ts')).run(ctx, name, opts)));

  // compat: --confirm and --use-sentinel-time are persistent flags of `delete`: accepted before or after the mode.
  const del = new Command('delete').description('Clears old backups and WALs')
    .option('--confirm', 'Confirms backup deletion', false)
    .option('--use-sentinel-time', 'Use backup creation time from sentinel for backups ordering.', false);
  const mode = (name: DeleteMode, usage: string, description: string) => del.command(name)
    .usage(usage).description(description).argument('[args...]')
    .action(async (args: string[], _opts: unknown, cmd: Command) => withContext(async (ctx) =>
      (await import('../commands/pg/delete.ts')).run(ctx, name, args, cmd.optsWithGlobals() as DeleteOptions)));
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
