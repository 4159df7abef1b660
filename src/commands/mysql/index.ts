// The MySQL/MariaDB command group (WAL-G's wal-g-mysql): every command's name, arguments, flags, storage role and
// lazily imported handler, registered by src/cli/program-mysql.ts for `wal-g mysql ...` and for a binary named
// wal-g-mysql alike. Handlers load lazily, so no command evaluates mysql2 unless it talks to the server.
// Every role is 'none' (the primary, or `st -t NAME`): compat: WAL-G allows failover storages for PostgreSQL only.

import { Command } from 'commander';
import type { RunCommand } from '../context.ts';
import type { MysqlDeleteMode } from './delete.ts';
import type { BinlogWindowOptions } from './binlog-window.ts';
import type { XtrabackupPushOptions } from './xtrabackup-push.ts';

const SINCE_HELP = 'backup name starting from which you want to fetch binlogs';
const UNTIL_HELP = 'time in RFC3339 for PITR';
const UNTIL_LMT_HELP = 'time in RFC3339 that is used to prevent wal-g from replaying binlogs that was created/modified after this time';

/** Registers the MySQL commands on `program`, in help order: backups, catalog, then binlogs. */
export function registerMysqlCommands(program: Command, run: RunCommand): void {
  registerBackupCommands(program, run);
  registerCatalogCommands(program, run);
  registerBinlogCommands(program, run);
}

/** backup-push, stream-push, backup-fetch, get-stream and stream-fetch. */
function registerBackupCommands(program: Command, run: RunCommand): void {
  program.command('backup-push')
    .description('Creates new backup and pushes it to storage')
    .option('-p, --permanent', 'Pushes permanent backup', false)
    .option('--add-user-data <json>', 'Write the provided user data to the backup sentinel and metadata files.')
    .option('--count-journals', 'Maintain journal_<backup> binlog size accounting (not supported yet)', false)
    .action(async (opts: { permanent: boolean; addUserData?: string }) => run('none', async (ctx) =>
      (await import('./backup-push.ts')).run(ctx, opts)));

  program.command('xtrabackup-push')
    .description('Creates new backup and pushes it to storage')
    .option('-p, --permanent', 'Pushes permanent backup', false)
    .option('-f, --full [bool]', 'Make full backup-push', (v: string) => !['false', '0', 'f', 'F', 'FALSE', 'False'].includes(v), true)
    .option('--delta-from-name <name>', 'Select the backup specified by name as the target for the delta backup')
    .option('--delta-from-user-data <json>', 'Select the backup specified by UserData as the target for the delta backup')
    .option('--add-user-data <json>', 'Write the provided user data to the backup sentinel and metadata files.')
    .option('--count-journals', 'Maintain journal_<backup> binlog size accounting (not supported yet)', false)
    .action(async (opts: XtrabackupPushOptions) => run('none', async (ctx) =>
      (await import('./xtrabackup-push.ts')).run(ctx, opts)));

  // compat: cmd/mysql/copy.go; its storages come from --from and --to, so it has no failover role.
  program.command('copy')
    .description('copy specific or all backups (raw objects, byte for byte) from one storage to another')
    .requiredOption('-f, --from <config>', 'source storage configuration file')
    .requiredOption('-t, --to <config>', 'destination storage configuration file')
    .option('-b, --backup-name <name>', 'copy one backup (or LATEST); empty copies all', '')
    .option('-w, --with-history', 'also copy the binlogs from the selected backups on', false)
    .action(async (opts: { from: string; to: string; backupName: string; withHistory: boolean }) => run('none', async (ctx) =>
      (await import('../common/copy.ts')).run(ctx, { ...opts, mysql: true })));

  // compat: the 2018 name; the stream comes from stdin instead of WALG_STREAM_CREATE_COMMAND.
  program.command('stream-push')
    .description('Uploads a backup stream read from stdin')
    .option('-p, --permanent', 'Pushes permanent backup', false)
    .option('--add-user-data <json>', 'Write the provided user data to the backup sentinel.')
    .action(async (opts: { permanent: boolean; addUserData?: string }) => run('none', async (ctx) =>
      (await import('./stream-push.ts')).run(ctx, opts)));

  program.command('backup-fetch').argument('[backup_name]', 'backup name or LATEST (or use --target-user-data)')
    .description('Fetch desired backup from storage')
    .option('--target-user-data <json>', 'Fetch storage backup which has the specified user data')
    .action(async (name: string | undefined, opts: { targetUserData?: string }) => run('none', async (ctx) =>
      (await import('./backup-fetch.ts')).run(ctx, name, opts)));

  // compat: WAL-G's --target is a persistent root flag that only get-stream reads: accepted before the command
  // (`wal-g mysql --target NAME get-stream ...`, declared in src/cli/program-mysql.ts) and after it.
  const target = (cmd: Command) => (cmd.optsWithGlobals() as { target?: string }).target ?? 'default';
  program.command('get-stream').argument('<backup_name>', 'backup name or LATEST').argument('[destination_path]', 'file to write (default: stdout)')
    .description('Download the backup as single stream')
    .option('--target <storage>', 'execute for specific failover storage')
    .action(async (name: string, dest: string | undefined, _o: unknown, cmd: Command) => run('none', async (ctx) =>
      (await import('./get-stream.ts')).run(ctx, name, dest, target(cmd))));

  // compat: the 2018 name of get-stream, to stdout only.
  program.command('stream-fetch').argument('<backup_name>', 'backup name or LATEST')
    .description('Write the backup stream to stdout')
    .option('--target <storage>', 'execute for specific failover storage')
    .action(async (name: string, _o: unknown, cmd: Command) => run('none', async (ctx) =>
      (await import('./get-stream.ts')).run(ctx, name, undefined, target(cmd))));
}

/** backup-list, backup-mark and delete retain|before|everything|target. */
function registerCatalogCommands(program: Command, run: RunCommand): void {
  program.command('backup-list')
    .description('Prints available backups')
    .option('--pretty', 'Prints more readable output', false)
    .option('--json', 'Prints output in json format', false)
    .option('--detail', 'Prints extra backup details', false)
    .action(async (opts: { pretty: boolean; json: boolean; detail: boolean }) => run('none', async (ctx) =>
      (await import('./backup-list.ts')).run(ctx, opts)));

  program.command('backup-mark')
    .description('Marks a backup permanent or impermanent')
    .option('-b, --backup <name>', 'mark permanent/impermanent target backup')
    .option('-i, --impermanent', 'Marks a backup impermanent', false)
    .action(async (opts: { backup?: string; impermanent: boolean }) => run('none', async (ctx) =>
      (await import('./backup-mark.ts')).run(ctx, opts)));

  const del = new Command('delete').description('Clears old backups and binlogs')
    .option('--confirm', 'Confirms backup deletion', false);
  const mode = (name: MysqlDeleteMode, usage: string, description: string) => del.command(name)
    .usage(usage).description(description).argument('[args...]')
    .action(async (args: string[], _opts: unknown, cmd: Command) => run('none', async (ctx) =>
      (await import('./delete.ts')).run(ctx, name, args, cmd.optsWithGlobals() as { confirm?: boolean })));
  mode('retain', '[FULL|FIND_FULL] backup_count', 'keep the newest backups (and the binlogs they need), delete older ones');
  mode('before', '[FIND_FULL] backup_name|timestamp', 'delete everything older than the backup or time');
  mode('everything', '[FORCE]', 'delete every backup and binlog (FORCE: permanent ones too)');
  mode('target', '[FIND_FULL] backup_name', 'delete one backup (binlogs are kept)');
  program.addCommand(del);
}

/** binlog-push, binlog-fetch, binlog-replay, binlog-find and binlog-list. */
function registerBinlogCommands(program: Command, run: RunCommand): void {
  program.command('binlog-push')
    .description('Upload binlogs to the storage')
    .option('--until <binlog>', 'binlog file name to stop at. Current active by default')
    .action(async (opts: { until?: string }) => run('none', async (ctx) =>
      (await import('./binlog-push.ts')).run(ctx, opts)));

  // The --until default is the time the tree is built (so --help shows it): built per run, never at module load.
  const window = (cmd: Command) => cmd
    .option('--since <backup>', SINCE_HELP, 'LATEST')
    .option('--until <time>', UNTIL_HELP, new Date().toISOString().replace(/\.\d+Z$/, 'Z'))
    .option('--until-binlog-last-modified-time <time>', UNTIL_LMT_HELP, '');
  window(program.command('binlog-fetch').description('Fetch binlog from storage and save it to the disk'))
    .action(async (opts: BinlogWindowOptions) => run('none', async (ctx) =>
      (await import('./binlog-fetch.ts')).run(ctx, opts)));
  window(program.command('binlog-replay').description('Fetch binlogs from storage and replays them to MySQL'))
    .action(async (opts: BinlogWindowOptions) => run('none', async (ctx) =>
      (await import('./binlog-replay.ts')).run(ctx, opts)));

  program.command('binlog-find')
    .description('Find the last uploaded binlog before specified GTID')
    .option('-g, --gtid <set>', 'GTID to find. Default is @@GTID_EXECUTED on current server')
    .action(async (opts: { gtid?: string }) => run('none', async (ctx) =>
      (await import('./binlog-find.ts')).run(ctx, opts)));

  program.command('binlog-list')
    .description('List available binlogs in storage')
    .option('--since <time>', "show binlogs modified since this time (e.g., '2h', '30m', '2023-01-01T10:00:00Z', 'LATEST')")
    .option('--until <time>', "show binlogs modified until this time (e.g., '1h', '2023-01-01T12:00:00Z')")
    .option('--pretty', 'pretty print the output (table format)', false)
    .option('--json', 'output in JSON format', false)
    .action(async (opts: { since?: string; until?: string; pretty: boolean; json: boolean }) => run('none', async (ctx) =>
      (await import('./binlog-list.ts')).run(ctx, opts)));
}
