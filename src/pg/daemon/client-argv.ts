// WAL-G ships the daemon client as a separate binary, `walg-daemon-client`. Installing dist/wal-g (or a symlink to
// it) under that name makes it behave as that binary: its arguments are those of `wal-g daemon-client`.

import { basename } from 'node:path';

/** compat: the name of WAL-G's client binary. */
export const DAEMON_CLIENT_BINARY = 'walg-daemon-client';

/**
 * Rewrites the arguments after the program name for the daemon client:
 * - started as `walg-daemon-client` (the base name of `argv0` as typed, so a symlink counts, or of `execPath`, a
 *   renamed copy of the single executable; `.exe` ignored): `['daemon-client', '--', ...argv]`;
 * - `daemon-client ...` typed as a wal-g subcommand: `['daemon-client', '--', ...rest]`.
 * The `--` keeps the root command from taking the client's own flags (`--version`, `-h`, `-v`) as wal-g's: the
 * client parses its arguments itself, Go-style. Any other argv is returned unchanged.
 * The source launcher bin/wal-g is a shell script that execs node, so only dist/wal-g can be renamed this way.
 */
export function daemonClientArgv(argv: readonly string[], argv0: string = process.argv0, execPath: string = process.execPath): string[] {
  const invokedAs = (p: string) => basename(p).replace(/\.exe$/i, '') === DAEMON_CLIENT_BINARY;
  if (invokedAs(argv0) || invokedAs(execPath)) return ['daemon-client', '--', ...argv];
  if (argv[0] === 'daemon-client' && argv[1] !== '--') return ['daemon-client', '--', ...argv.slice(1)];
  return [...argv];
}
