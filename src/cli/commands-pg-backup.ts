// PostgreSQL backup commands of the commander tree (registered by src/cli/program.ts); handlers load lazily.

import type { Command } from 'commander';

/** Registers the PostgreSQL backup commands on `program`. */
export function registerPgBackupCommands(_program: Command): void {
}
