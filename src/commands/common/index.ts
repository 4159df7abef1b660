// Commands every flavour shares: `flags` (the hidden setting flags, no context) and `copy` (backups between two
// storages described by two config files). Each is declared once here with its flags, storage role and lazily
// imported handler; src/cli/program.ts registers them. Evaluated into the startup snapshot: no environment reads.

import type { Command } from 'commander';
import type { RunCommand } from '../context.ts';

/** Registers `flags`, which prints the hidden setting flags (it reads no settings and opens no storage). */
export function registerFlagsCommand(program: Command): void {
  program.command('flags')
    .description('Print the hidden setting flags')
    .action(async () => { (await import('./flags.ts')).run(); });
}

/** Registers `copy`; its storages come from --from and --to, so it has no failover role. */
export function registerCopyCommand(program: Command, run: RunCommand): void {
  program.command('copy')
    .description('copy specific or all backups (raw objects, byte for byte) from one storage to another')
    .requiredOption('-f, --from <config>', 'Storage config from where should copy backup')
    .requiredOption('-t, --to <config>', 'Storage config to where should copy backup')
    .option('-b, --backup-name <name>', 'Copy specific backup (LATEST allowed; default: all backups)', '')
    .option('-w, --with-history', 'Synchronize WAL from the backup recovery point through the latest continuous archive', false)
    .action(async (opts: { from: string; to: string; backupName: string; withHistory: boolean }) => run('none', async (ctx) =>
      (await import('./copy.ts')).run(ctx, opts)));
}
