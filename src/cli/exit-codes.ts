// The one table that maps errors to process exit codes (walg-features.md §3). Only src/cli/main.ts exits.

import { ArchiveNonExistenceError, ReportedError } from '../core/errors.ts';

/** Exit codes WAL-G uses. */
export const EXIT = {
  OK: 0,
  /**
   * Any failure: fatal log line, bad usage, storage or connection error, overwrite conflict, a refused backup, a mode
   * not supported yet (UnsupportedFeatureError: backup-push without db_directory, WAL-G's remote backup).
   */
  FAILURE: 1,
  /** compat: EX_IOERR — wal-fetch of a WAL or history file that is not in storage. */
  ARCHIVE_MISSING: 74,
  /** compat: Go dies of SIGPIPE when stdout's reader goes away (`wal-g st cat x | head`): 128 + 13, silently. */
  BROKEN_PIPE: 141,
} as const;

/** True for the error of writing to a stdout whose reader has gone away. */
export function isBrokenPipe(err: unknown): boolean {
  return (err as NodeJS.ErrnoException | undefined)?.code === 'EPIPE';
}

/** Exit code for an error thrown by a command. */
export function exitCodeFor(err: unknown): number {
  if (err instanceof ReportedError) return exitCodeFor(err.cause);
  if (err instanceof ArchiveNonExistenceError) return EXIT.ARCHIVE_MISSING;
  if (isBrokenPipe(err)) return EXIT.BROKEN_PIPE;
  return EXIT.FAILURE;
}
