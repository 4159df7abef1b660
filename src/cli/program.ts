// The commander tree: every command's name, arguments and flags, with lazily imported handlers so that
// `wal-g --help` or `wal-g wal-push` never load code (or SDKs) that another command needs.

import { Command, Option } from 'commander';
import pkg from '../../package.json' with { type: 'json' };
import { withContext } from './run.ts';
import { registerPgCommands } from './commands-pg.ts';
import { registerPgBackupCommands } from './commands-pg-backup.ts';
import { registerPgCatalogCommands } from './commands-pg-catalog.ts';

/** Version line printed by --version. */
export const VERSION_LINE = `wal-g version v${pkg.version}\tTypeScript re-implementation\tnode ${process.version}`;

/**
 * The root command every flavour shares: name, version, help, the global --config and --turbo options, positional
 * options, the hidden-flag hint (`settingsHint`) and the `flags` command. Callers add their own commands.
 */
export function rootCommand(description: string, version: string, settingsHint: string): Command {
  const program = new Command('wal-g');
  program
    .description(description)
    .version(version, '-v, --version', 'print the version')
    .helpOption('-h, --help', 'help for wal-g')
    .addOption(new Option('--config <path>', 'path to the config file (JSON, YAML, TOML or dotenv)'))
    .addOption(new Option('--turbo', 'ignore rate limits and use disk-read concurrency 4'))
    .showSuggestionAfterError(true)
    // Root options only before the subcommand, so `backup-push -v` is the command's --verify, not --version
    // (compat: cobra gives the root -v only when no subcommand uses it).
    .enablePositionalOptions()
    .configureHelp({ sortSubcommands: false })
    .addHelpText('after', settingsHint);

  program.command('flags')
    .description('Print the hidden setting flags')
    .action(async () => { (await import('../commands/common/flags.ts')).run(); });
  return program;
}

/** Builds the root command. */
export function buildProgram(): Command {
  const program = rootCommand('Archival and restoration for PostgreSQL, MySQL/MariaDB and Redis (WAL-G compatible)', VERSION_LINE,
    '\nEvery setting (WALG_*, AWS_*, PG*, ...) is also accepted as a hidden flag: lower case, "_" as "-",\ne.g. --walg-file-prefix /backups. "wal-g flags" lists them.');

  registerPgBackupCommands(program);
  registerPgCatalogCommands(program);
  registerPgCommands(program);
  program.command('copy')
    .description('copy specific or all backups (raw objects, byte for byte) from one storage to another')
    .requiredOption('-f, --from <config>', 'Storage config from where should copy backup')
    .requiredOption('-t, --to <config>', 'Storage config to where should copy backup')
    .option('-b, --backup-name <name>', 'Copy specific backup (LATEST allowed; default: all backups)', '')
    .option('-w, --with-history', 'Synchronize WAL from the backup recovery point through the latest continuous archive', false)
    .action(async (opts: { from: string; to: string; backupName: string; withHistory: boolean }) => withContext(async (ctx) =>
      (await import('../commands/common/copy.ts')).run(ctx, opts)));
  program.addCommand(buildStorageTools());
  return program;
}

/** The `st` storage tools, shared by every flavour's command tree (program-mysql.ts too). */
export function buildStorageTools(): Command {
  const st = new Command('st')
    .description('(DANGEROUS) Storage tools')
    .option('-t, --target <storage>', 'execute for a specific failover storage', 'default')
    .option('-g, --glob', 'use a glob pattern for file paths', false);
  const g = (cmd: Command) => cmd.optsWithGlobals() as { target: string; glob: boolean };

  st.command('ls').argument('[folder]', 'relative folder path').description('Prints objects in the provided storage folder')
    .option('-r, --recursive', 'list folder recursively', false)
    .action(async (folder: string | undefined, opts: { recursive: boolean }, cmd: Command) => withContext(async (ctx) =>
      (await import('../commands/st/ls.ts')).run(ctx, folder ?? '', { ...g(cmd), ...opts })));

  st.command('stat').argument('<object>', 'relative object path').description('Prints the metadata of one object')
    .action(async (object: string, _o: unknown, cmd: Command) => withContext(async (ctx) =>
      (await import('../commands/st/stat.ts')).run(ctx, object, g(cmd))));

  st.command('get').argument('<remote>', 'relative object path').argument('<local>', 'destination path')
    .description('Download the specified storage object')
    .option('--no-decrypt', 'do not decrypt the object')
    .option('--no-decompress', 'do not decompress the object')
    .action(async (remote: string, local: string, opts: { decrypt: boolean; decompress: boolean }, cmd: Command) => withContext(async (ctx) =>
      (await import('../commands/st/get.ts')).run(ctx, remote, local, { ...g(cmd), ...opts })));

  st.command('cat').argument('<remote>', 'relative object path').description('Write the raw object to stdout')
    .option('--decrypt', 'decrypt the object', false)
    .option('--decompress', 'decompress the object', false)
    .option('--range <start:end>', 'ours: only bytes [start, end) of the stored object (not with --decrypt/--decompress)')
    .action(async (remote: string, opts: { decrypt: boolean; decompress: boolean; range?: string }, cmd: Command) => withContext(async (ctx) =>
      (await import('../commands/st/cat.ts')).run(ctx, remote, { ...g(cmd), ...opts })));

  st.command('put').argument('<paths...>', 'local_path destination_path, or destination_path with -s')
    .description('Upload the specified file to the storage')
    .option('--no-encrypt', 'do not encrypt the object')
    .option('--no-compress', 'do not compress the object')
    .option('-f, --force', 'overwrite an existing object', false)
    .option('-s, --read-stdin', 'read the object from stdin', false)
    .action(async (paths: string[], opts: { encrypt: boolean; compress: boolean; force: boolean; readStdin: boolean }, cmd: Command) =>
      withContext(async (ctx) => (await import('../commands/st/put.ts')).run(ctx, paths, { ...g(cmd), ...opts })));

  st.command('rm').argument('<prefix>', 'object or folder to delete').description('Delete an object, or everything under a folder')
    .action(async (prefix: string, _o: unknown, cmd: Command) => withContext(async (ctx) =>
      (await import('../commands/st/rm.ts')).run(ctx, prefix, g(cmd))));

  const check = st.command('check').description('Check the storage');
  check.command('read').argument('[files...]', 'objects that must exist').description('List the storage and check that the files exist')
    .action(async (files: string[], _o: unknown, cmd: Command) => withContext(async (ctx) =>
      (await import('../commands/st/check.ts')).runRead(ctx, files, g(cmd))));
  check.command('write').description('Write and delete a small test object')
    .action(async (_o: unknown, cmd: Command) => withContext(async (ctx) =>
      (await import('../commands/st/check.ts')).runWrite(ctx, g(cmd))));

  // st transfer: move objects from a (failover) --source storage to the st --target storage.
  type TransferFlags = import('../commands/st/transfer.ts').TransferFlags;
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
    .action(async (prefix: string, opts: object, cmd: Command) => withContext(async (ctx) =>
      (await import('../commands/st/transfer.ts')).runFiles(ctx, prefix, tf(opts, cmd))));
  shared(transfer.command('pg-wals'))
    .description('Moves all PostgreSQL WAL files (wal_005/) from one storage to another')
    .action(async (opts: object, cmd: Command) => withContext(async (ctx) =>
      (await import('../commands/st/transfer.ts')).runPgWals(ctx, tf(opts, cmd))));
  shared(transfer.command('backups').argument('[backup_name]', 'backup to move (default: all)'))
    .description('Moves backups from one storage to another: data first, the stop sentinel last')
    .option('--max-backups <n>', 'max number of backups to move in this run')
    .action(async (name: string | undefined, opts: object, cmd: Command) => withContext(async (ctx) =>
      (await import('../commands/st/transfer.ts')).runBackups(ctx, name, tf(opts, cmd))));
  return st;
}
