// `wal-g daemon-client <socket> wal-push <path> | wal-fetch <name> <dest> [-timeout d] [-connection-timeout d]`:
// WAL-G's separate walg-daemon-client binary as a subcommand. It reads no configuration: it only talks to the daemon.

import { stat } from 'node:fs/promises';
import pkg from '../../../package.json' with { type: 'json' };
import { ArchiveNonExistenceError, ReportedError, WalgError } from '../../core/errors.ts';
import { formatLogTime } from '../../core/log.ts';
import { MSG } from '../../pg/daemon/protocol.ts';
import {
  DAEMON_CLIENT_FLAG_DEFAULTS, DaemonClientUsageError, DaemonReplyError, daemonClientUsage, flagParseOutput, goErrnoText,
  parseDaemonClientArgs, sendDaemonRequest,
} from '../../pg/daemon/client.ts';

/** compat: `walg-daemon-client --version` prints name, version, git revision and build date, tab-separated. */
export const DAEMON_CLIENT_VERSION_LINE = `walg-daemon-client\tv${pkg.version}\tdevel\tdevel`;

/** compat: a line of Go's standard `log` package (log.Fatal): local "YYYY/MM/DD HH:MM:SS " and the message. */
export function goLogLine(message: string, now: Date = new Date()): string {
  return `${formatLogTime(now).slice(0, 19)} ${message}\n`;
}

/**
 * Runs the client with its raw arguments (everything after `daemon-client`) and reports as walg-daemon-client
 * does: nothing on an `O` reply; on `N` the reply error on stdout and exit 74 (EX_IOERR, like wal-fetch of a missing
 * file); any other failure one Go `log` line on stderr and exit 1; a usage error WAL-G's usage text on stdout and
 * the flag defaults on stderr, exit 1. Failures are thrown as ReportedError, so the entry point adds nothing.
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
      process.stderr.write(flagParseOutput(err));
      process.stdout.write(daemonClientUsage(err));
      process.stderr.write(DAEMON_CLIENT_FLAG_DEFAULTS);
      throw new ReportedError(err);
    }
    throw err;
  }
  try {
    await stat(req.socketPath);
  } catch (err) {
    const goErr = `stat ${req.socketPath}: ${goErrnoText(err)}`;
    process.stderr.write(goLogLine(`daemon socket '${req.socketPath}' doesn't exist or is unavailable:\n\t${goErr}`));
    throw new ReportedError(new WalgError(`daemon socket '${req.socketPath}' doesn't exist or is unavailable: ${goErr}`, { cause: err }));
  }
  try {
    await sendDaemonRequest(req);
  } catch (err) {
    if (err instanceof DaemonReplyError && err.reply === MSG.ARCHIVE_MISSING) {
      process.stdout.write(`${err.message}\n`);
      throw new ReportedError(new ArchiveNonExistenceError(req.args[0] ?? '', { cause: err }));
    }
    process.stderr.write(goLogLine(err instanceof Error ? err.message : String(err)));
    throw new ReportedError(err);
  }
}
