// The `st` storage tools, shared by every flavour's command tree: ls, stat, get, cat, put, rm, check read|write and
// transfer files|pg-wals|backups. Each is declared once here with its flags and lazily imported handler. They have
// no failover role: `st -t NAME` picks the storage ('default' is the primary). Evaluated into the startup snapshot
// (src/cli/entry.ts): the top level reads nothing of the environment.

import { Command } from 'commander';
import type { RunCommand } from '../context.ts';
import type { TransferFlags } from './transfer.ts';

/** The st group's own flags, as every subcommand sees them (optsWithGlobals). */
interface StFlags { target: string; glob: boolean }

/** Builds the `st` command with every storage tool, each run through `run` with the role 'none'. */
export function storageToolsCommand(run: RunCommand): Command {
  const st = new Command('st')
    .description('(DANGEROUS) Storage tools')
    .option('-t, --target <storage>', 'execute for a specific failover storage', 'default')
    .option('-g, --glob', 'use a glob pattern for file paths', false);
  registerObjectTools(st, run);
  registerCheck(st, run);
  registerTransfer(st, run);
  return st;
}

const g = (cmd: Command) => cmd.optsWithGlobals() as StFlags;

/** st ls, stat, get, cat, put and rm. */
function registerObjectTools(st: Command, run: RunCommand): void {
  st.command('ls').argument('[folder]', 'relative folder path').description('Prints objects in the provided storage folder')
    .option('-r, --recursive', 'list folder recursively', false)
    .action(async (folder: string | undefined, opts: { recursive: boolean }, cmd: Command) => run('none', async (ctx) =>
      (await import('./ls.ts')).run(ctx, folder ?? '', { ...g(cmd), ...opts })));

  st.command('stat').argument('<object>', 'relative object path').description('Prints the metadata of one object')
    .action(async (object: string, _o: unknown, cmd: Command) => run('none', async (ctx) =>
      (await import('./stat.ts')).run(ctx, object, g(cmd))));

  st.command('get').argument('<remote>', 'relative object path').argument('<local>', 'destination path')
    .description('Download the specified storage object')
    .option('--no-decrypt', 'do not decrypt the object')
    .option('--no-decompress', 'do not decompress the object')
    .action(async (remote: string, local: string, opts: { decrypt: boolean; decompress: boolean }, cmd: Command) => run('none', async (ctx) =>
      (await import('./get.ts')).run(ctx, remote, local, { ...g(cmd), ...opts })));

  st.command('cat').argument('<remote>', 'relative object path').description('Write the raw object to stdout')
    .option('--decrypt', 'decrypt the object', false)
    .option('--decompress', 'decompress the object', false)
    .option('--range <start:end>', 'ours: only bytes [start, end) of the stored object (not with --decrypt/--decompress)')
    .action(async (remote: string, opts: { decrypt: boolean; decompress: boolean; range?: string }, cmd: Command) => run('none', async (ctx) =>
      (await import('./cat.ts')).run(ctx, remote, { ...g(cmd), ...opts })));

  st.command('put').argument('<paths...>', 'local_path destination_path, or destination_path with -s')
    .description('Upload the specified file to the storage')
    .option('--no-encrypt', 'do not encrypt the object')
    .option('--no-compress', 'do not compress the object')
    .option('-f, --force', 'overwrite an existing object', false)
    .option('-s, --read-stdin', 'read the object from stdin', false)
    .action(async (paths: string[], opts: { encrypt: boolean; compress: boolean; force: boolean; readStdin: boolean }, cmd: Command) =>
      run('none', async (ctx) => (await import('./put.ts')).run(ctx, paths, { ...g(cmd), ...opts })));

  st.command('rm').argument('<prefix>', 'object or folder to delete').description('Delete an object, or everything under a folder')
    .action(async (prefix: string, _o: unknown, cmd: Command) => run('none', async (ctx) =>
      (await import('./rm.ts')).run(ctx, prefix, g(cmd))));
}

/** st check read|write. */
function registerCheck(st: Command, run: RunCommand): void {
  const check = st.command('check').description('Check the storage');
  check.command('read').argument('[files...]', 'objects that must exist').description('List the storage and check that the files exist')
    .action(async (files: string[], _o: unknown, cmd: Command) => run('none', async (ctx) =>
      (await import('./check.ts')).runRead(ctx, files, g(cmd))));
  check.command('write').description('Write and delete a small test object')
    .action(async (_o: unknown, cmd: Command) => run('none', async (ctx) =>
      (await import('./check.ts')).runWrite(ctx, g(cmd))));
}

/** st transfer files|pg-wals|backups: move objects from a (failover) --source storage to the st --target storage. */
function registerTransfer(st: Command, run: RunCommand): void {
  const transfer = st.command('transfer').description('Moves objects from one storage to another (usually a failover to the primary)');
  const shared = (cmd: Command) => cmd
    .requiredOption('-s, --source <storage>', "storage to move the files from ('default' is the primary)")
    .option('-o, --overwrite', 'move files even if they are already present in the target storage', false)
    .option('-p, --preserve', 'copy files without deleting them from the source storage', false)
    .option('--fail-fast', 'stop at the first failed file', false)
    .option('-c, --concurrency <n>', 'number of concurrent workers', '10')
    .option('-m, --max-files <n>', 'max number of files to move in this run')
    .option('--appearance-checks <n>', 'times to check that a copied file appeared in the target (0 = off)', '3')
    .option('--appearance-checks-interval <duration>', 'pause between appearance checks', '1s');
  const tf = (opts: object, cmd: Command) => ({ ...cmd.optsWithGlobals(), ...opts }) as TransferFlags;
  shared(transfer.command('files').argument('<prefix>', 'folder whose files are moved'))
    .description('Moves all files by a prefix from one storage to another without any changes')
    .action(async (prefix: string, opts: object, cmd: Command) => run('none', async (ctx) =>
      (await import('./transfer.ts')).runFiles(ctx, prefix, tf(opts, cmd))));
  shared(transfer.command('pg-wals'))
    .description('Moves all PostgreSQL WAL files (wal_005/) from one storage to another')
    .action(async (opts: object, cmd: Command) => run('none', async (ctx) =>
      (await import('./transfer.ts')).runPgWals(ctx, tf(opts, cmd))));
  shared(transfer.command('backups').argument('[backup_name]', 'backup to move (default: all)'))
    .description('Moves backups from one storage to another: data first, the stop sentinel last')
    .option('--max-backups <n>', 'max number of backups to move in this run')
    .action(async (name: string | undefined, opts: object, cmd: Command) => run('none', async (ctx) =>
      (await import('./transfer.ts')).runBackups(ctx, name, tf(opts, cmd))));
}
