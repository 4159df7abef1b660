// The one table that maps errors to process exit codes (walg-features.md §3). Only src/cli/main.ts exits.

import { ArchiveNonExistenceError } from '../core/errors.ts';

/** Exit codes WAL-G uses. */
export const EXIT = {
  OK: 0,
  /** Any failure: fatal log line, bad usage, storage or connection error, overwrite conflict. */
  FAILURE: 1,
  /** compat: EX_IOERR — wal-fetch of a WAL or history file that is not in storage. */
  ARCHIVE_MISSING: 74,
} as const;

/** Exit code for an error thrown by a command. */
export function exitCodeFor(err: unknown): number {
  if (err instanceof ArchiveNonExistenceError) return EXIT.ARCHIVE_MISSING;
  return EXIT.FAILURE;
}
