// The root of the commander tree and the PostgreSQL flavour (the default `wal-g`). Commands are declared by their
// groups (src/commands/<group>/index.ts: flags, storage role, lazily imported handler); this module only builds the
// root and registers the groups, so `wal-g --help` or `wal-g wal-push` never load code (or SDKs) another command needs.

import { Command, Option } from 'commander';
import pkg from '../../package.json' with { type: 'json' };
import { withContext } from './run.ts';
import type { RunCommand } from '../commands/context.ts';
import { registerCopyCommand, registerFlagsCommand } from '../commands/common/index.ts';
import { registerPgCommands } from '../commands/pg/index.ts';
import { storageToolsCommand } from '../commands/st/index.ts';

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
  registerFlagsCommand(program);
  return program;
}

/** Builds the PostgreSQL command tree; `run` (tests pass their own) runs each command's body. */
export function buildProgram(run: RunCommand = withContext): Command {
  const program = rootCommand('Archival and restoration for PostgreSQL, MySQL/MariaDB (`wal-g mysql`) and Redis (`wal-g redis`) (WAL-G compatible)', VERSION_LINE,
    '\nEvery setting (WALG_*, AWS_*, PG*, ...) is also accepted as a hidden flag: lower case, "_" as "-",\ne.g. --walg-file-prefix /backups. "wal-g flags" lists them.');
  registerPgCommands(program, run);
  registerCopyCommand(program, run);
  program.addCommand(storageToolsCommand(run));
  return program;
}
