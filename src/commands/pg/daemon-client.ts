// `wal-g daemon-client <socket> wal-push <path> | wal-fetch <name> <dest> [-timeout d] [-connection-timeout d]`:
// WAL-G's separate walg-daemon-client binary as a subcommand. It reads no configuration: it only talks to the daemon.

import { stat } from 'node:fs/promises';
import pkg from '../../../package.json' with { type: 'json' };
import { ArchiveNonExistenceError, WalgError, describeError } from '../../core/errors.ts';
import { MSG } from '../../pg/daemon/protocol.ts';
import {
  DAEMON_CLIENT_FLAG_DEFAULTS, DaemonClientUsageError, DaemonReplyError, daemonClientUsage, parseDaemonClientArgs, sendDaemonRequest,
} from '../../pg/daemon/client.ts';

/** compat: `walg-daemon-client --version` prints name, version, git revision and build date, tab-separated. */
export const DAEMON_CLIENT_VERSION_LINE = `walg-daemon-client\tv${pkg.version}\tdevel\tdevel`;

/**
 * Runs the client with its raw arguments (everything after `daemon-client`). Resolves on an `O` reply. Throws
 * ArchiveNonExistenceError (exit 74) when the daemon replies `N`, and other errors (exit 1) otherwise; a usage
 * error first prints WAL-G's usage text to stdout and the flag defaults to stderr.
 */
export async function run(argv: readonly string[]): Promise<void> {
  if (argv.length > 0 && argv[0]!.toLowerCase() === '--version') {
    process.stdout.write(`${DAEMON_CLIENT_VERSION_LINE}\n`);
    return;
  }
  let req;
  try {
    req = parseDaemonClientArgs(argv);
  } catch (err) {
    if (err instanceof DaemonClientUsageError) {
      process.stdout.write(daemonClientUsage(err));
      process.stderr.write(DAEMON_CLIENT_FLAG_DEFAULTS);
    }
    throw err;
  }
  try {
    await stat(req.socketPath);
  } catch (err) {
    throw new WalgError(`daemon socket '${req.socketPath}' doesn't exist or is unavailable: ${describeError(err)}`, { cause: err });
  }
  try {
    await sendDaemonRequest(req);
  } catch (err) {
    if (err instanceof DaemonReplyError && err.reply === MSG.ARCHIVE_MISSING) {
      // compat: WAL-G prints the reply error to stdout and exits 74 (EX_IOERR), like wal-fetch of a missing file.
      process.stdout.write(`${err.message}\n`);
      throw new ArchiveNonExistenceError(req.args[0] ?? '');
    }
    throw err;
  }
}
