// The Redis/Valkey command group (WAL-G's wal-g-redis): every command's name, arguments, flags, storage role and
// lazily imported handler, registered by src/cli/program-redis.ts for `wal-g redis ...` and for a binary named
// wal-g-redis alike. Every role is 'none' (the primary): compat: WAL-G allows failover storages for PostgreSQL only.

import type { Command } from 'commander';
import type { RunCommand } from '../context.ts';
import type { RedisBackupPushOptions } from './backup-push.ts';
import type { RedisBackupFetchOptions } from './backup-fetch.ts';
import type { RedisDeleteOptions } from './delete.ts';

const TYPE_HELP = 'Backup type: rdb, aof, rdb_ts, aof_ts, or ts';

/** Registers the Redis commands on `program`, in WAL-G's help order. */
export function registerRedisCommands(program: Command, run: RunCommand): void {
  program.command('backup-push')
    .description('Creates and uploads a Redis backup')
    .option('-p, --permanent', 'Push backup with the permanent flag', false)
    .option('-s, --sharded', 'Push a sharded backup (not supported)', false)
    .option('-t, --type <type>', TYPE_HELP, 'rdb')
    .option('--ts-backup <dir>', 'Frozen tiered-storage backup directory (not supported)')
    .option('--ts-backup-id <id>', 'Tiered-storage backup ID (not supported)')
    .action(async (opts: RedisBackupPushOptions) => run('none', async (ctx) =>
      (await import('./backup-push.ts')).run(ctx, opts)));

  program.command('backup-fetch').argument('<backup-name>', 'backup name or LATEST')
    .description('Fetches a Redis backup from storage')
    .option('-s, --skip-clean', 'Skip data folder clean check', false)
    .option('--skip-backup-download', 'Skip backup download', false)
    .option('--skip-checks', 'Skip checking Redis version compatibility with the backup', false)
    .option('--redis-version <version>', 'Redis version for AOF backup compatibility checks')
    .option('--ts-backup <dir>', 'Tiered-storage restore directory (not supported)')
    .option('-t, --type <type>', TYPE_HELP, 'rdb')
    .action(async (name: string, opts: RedisBackupFetchOptions) => run('none', async (ctx) =>
      (await import('./backup-fetch.ts')).run(ctx, name, opts)));

  program.command('backup-list')
    .description('Prints available backups')
    .option('--pretty', 'Prints more readable output', false)
    .option('--json', 'Prints output in json format', false)
    .option('--detail', 'Prints extra backup details', false)
    .action(async (opts: { pretty: boolean; json: boolean; detail: boolean }) => run('none', async (ctx) =>
      (await import('./backup-list.ts')).run(ctx, opts)));

  program.command('backup-info').argument('<backup-name>', 'backup name or LATEST')
    .description('Prints redis backup info')
    .option('--tag <field>', 'print specified field value only')
    .action(async (name: string, opts: { tag?: string }) => run('none', async (ctx) =>
      (await import('./backup-info.ts')).run(ctx, name, opts)));

  program.command('backup-delete').argument('<backup-name>', 'backup name or LATEST')
    .description('Deletes backup data from storage')
    .option('--confirm', 'Confirms backup deletion', false)
    .action(async (name: string, opts: { confirm: boolean }) => run('none', async (ctx) =>
      (await import('./backup-delete.ts')).run(ctx, name, opts)));

  program.command('delete')
    .description('Purge old backups')
    .option('--confirm', 'Confirms backup and garbage purge', false)
    .option('--purge-garbage', 'Purge garbage in backup folder', false)
    .option('--retain-after <time>', 'Keep backups newer')
    .option('--retain-count <n>', 'Keep minimum count, except permanent backups')
    .action(async (opts: RedisDeleteOptions) => run('none', async (ctx) =>
      (await import('./delete.ts')).run(ctx, opts)));

  program.command('copy')
    .description('Copy a Redis or Valkey backup without transforming payloads')
    .requiredOption('-f, --from <config>', 'source storage configuration file')
    .requiredOption('-t, --to <config>', 'destination storage configuration file')
    .option('-b, --backup-name <name>', 'copy one backup (or LATEST); empty copies all', '')
    .action(async (opts: { from: string; to: string; backupName: string }) => run('none', async (ctx) =>
      (await import('../common/copy.ts')).run(ctx, { ...opts, standalone: true })));
}
