// The Redis/Valkey command tree (WAL-G's wal-g-redis): selected by src/cli/flavor-argv.ts for `wal-g redis ...` or a
// binary named wal-g-redis. Both ways build this same tree.

import type { Command } from 'commander';
import { withContext } from './run.ts';
import { VERSION_LINE, rootCommand } from './program.ts';
import type { RunCommand } from '../commands/context.ts';
import { registerRedisCommands } from '../commands/redis/index.ts';
import { storageToolsCommand } from '../commands/st/index.ts';

/** Builds the root command of the Redis flavour; `run` (tests pass their own) runs each command's body. */
export function buildRedisProgram(run: RunCommand = withContext): Command {
  const program = rootCommand('Redis backup tool (WAL-G compatible)', `${VERSION_LINE}\tRedis`,
    '\nEvery setting (WALG_*, AWS_*, ...) is also accepted as a hidden flag: lower case, "_" as "-".');
  registerRedisCommands(program, run);
  program.addCommand(storageToolsCommand(run));
  return program;
}
