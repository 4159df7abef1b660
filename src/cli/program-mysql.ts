// The MySQL/MariaDB command tree (WAL-G's wal-g-mysql): selected by src/cli/flavor-argv.ts for `wal-g mysql ...` or
// a binary named wal-g-mysql. Both ways build this same tree, so a command runs with the storage role its
// declaration states (src/commands/mysql/index.ts) however it was invoked.

import type { Command } from 'commander';
import { withContext } from './run.ts';
import { VERSION_LINE, rootCommand } from './program.ts';
import type { RunCommand } from '../commands/context.ts';
import { registerMysqlCommands } from '../commands/mysql/index.ts';
import { storageToolsCommand } from '../commands/st/index.ts';

/** Builds the root command of the MySQL flavour; `run` (tests pass their own) runs each command's body. */
export function buildMysqlProgram(run: RunCommand = withContext): Command {
  const program = rootCommand('MySQL/MariaDB backup tool (WAL-G compatible)', `${VERSION_LINE}\tMySQL`,
    '\nEvery setting (WALG_*, AWS_*, ...) is also accepted as a hidden flag: lower case, "_" as "-".');
  // compat: WAL-G's persistent --target flag (read by get-stream only).
  program.option('--target <storage>', 'execute for specific failover storage (get-stream)');
  registerMysqlCommands(program, run);
  program.addCommand(storageToolsCommand(run));
  return program;
}
