// PostgreSQL catalog commands of the commander tree (registered by src/cli/program.ts); handlers load lazily.

import type { Command } from 'commander';

/** Registers the PostgreSQL catalog commands on `program`. */
export function registerPgCatalogCommands(_program: Command): void {
}
