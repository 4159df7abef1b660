// Waiting for the WAL a base backup needs to be archived, as pg_backup_stop(wait_for_archive => true) does, but
// polling the server's archive_status directory every 50 ms instead of PostgreSQL's 1-second sleeps: the stop
// call itself is made with wait_for_archive => false (as pgBackRest does) and backup-push waits here before it
// writes the sentinel, so a backup is still never listed before its WAL is archived.

import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { CancelledError, WalgError } from '../../core/errors.ts';
import { log } from '../../core/log.ts';
import type { Lsn } from '../lsn.ts';
import { ARCHIVE_STATUS_DIR } from '../wal/archive-status.ts';
import { formatWalName, parseWalName, DEFAULT_WAL_SEGMENT_SIZE } from '../wal-name.ts';

/**
 * compat: what WAL-G logs when pg_backup_stop's own wait for archiving outlives WALG_STOP_BACKUP_TIMEOUT (its
 * statement_timeout); our own wait ends with the same words, then ours.
 */
export const STOP_BACKUP_TIMEOUT_TEXT = 'UploadLabelFiles: failed to stop backup: QueryRunner StopBackup: stop backup failed: ERROR: canceling statement due to statement timeout (SQLSTATE 57014)';

/** The WAL archiving of a backup's last segment and history file did not finish within the stop timeout. */
export class ArchiveWaitTimeoutError extends WalgError {}

/**
 * The files pg_backup_stop would wait for: the segment holding the byte before the stop LSN (`lastWalFile`, as
 * pg_walfile_name(stop_lsn) names it on the stop timeline) and the backup history file
 * `<segment of the start LSN>.<start offset, 8 hex>.backup` on the same timeline.
 */
export function filesToArchive(lastWalFile: string, startLsn: Lsn, segmentSize = DEFAULT_WAL_SEGMENT_SIZE): string[] {
  const { timeline } = parseWalName(lastWalFile, segmentSize);
  const seg = BigInt(segmentSize);
  const startSegment = formatWalName(timeline, Number(startLsn / seg), segmentSize);
  const offset = Number(startLsn % seg).toString(16).toUpperCase().padStart(8, '0');
  return [lastWalFile, `${startSegment}.${offset}.backup`];
}

const exists = (p: string) => stat(p).then(() => true, (err: NodeJS.ErrnoException) => {
  if (err.code === 'ENOENT') return false;
  throw err;
});

/**
 * PostgreSQL's XLogArchiveIsBusy for `name` in the data directory `dataDir`: 'done' when `.done` exists, 'busy' when
 * `.ready` exists, 'done' when neither does and the file is gone from pg_wal (a checkpoint removed it, so it was
 * archived), and 'unknown' when neither status file exists but the file does (the archiver has not seen it yet;
 * PostgreSQL treats this as busy).
 */
export async function archiveState(dataDir: string, name: string): Promise<'done' | 'busy' | 'unknown'> {
  const status = join(dataDir, 'pg_wal', ARCHIVE_STATUS_DIR);
  if (await exists(join(status, `${name}.done`))) return 'done';
  if (await exists(join(status, `${name}.ready`))) return 'busy';
  if (await exists(join(status, `${name}.done`))) return 'done'; // the archiver renamed it between the two checks
  return (await exists(join(dataDir, 'pg_wal', name))) ? 'unknown' : 'done';
}

/** Options of waitForArchive. */
export interface ArchiveWaitOptions {
  /** Poll interval (default 50 ms). */
  pollMs?: number;
  /** Give up after this long (0 or undefined: wait for ever, as PostgreSQL does). */
  timeoutMs?: number;
  signal?: AbortSignal;
}

/**
 * Resolves once every file of `names` is archived according to `dataDir/pg_wal/archive_status` (archiveState is
 * 'done'). Logs a warning every 60 s of waiting, as pg_backup_stop does. Throws CancelledError when `signal`
 * aborts and ArchiveWaitTimeoutError after `timeoutMs`.
 */
export async function waitForArchive(dataDir: string, names: readonly string[], opts: ArchiveWaitOptions = {}): Promise<void> {
  const pollMs = opts.pollMs ?? 50;
  const started = Date.now();
  let nextWarning = 60_000;
  const pending = new Set(names);
  for (;;) {
    for (const n of [...pending]) if ((await archiveState(dataDir, n)) === 'done') pending.delete(n);
    if (pending.size === 0) return;
    const waited = Date.now() - started;
    if (opts.timeoutMs && waited >= opts.timeoutMs) {
      throw new ArchiveWaitTimeoutError(`${STOP_BACKUP_TIMEOUT_TEXT} (WALG_STOP_BACKUP_TIMEOUT: timed out after ${Math.round(waited / 1000)} s waiting for WAL archiving of ${[...pending].join(', ')}; check that archive_command is executing properly)`);
    }
    if (waited >= nextWarning) {
      // compat: the wording of pg_backup_stop's own warning.
      log.warn(`still waiting for all required WAL segments to be archived (${Math.round(waited / 1000)} seconds elapsed): ${[...pending].join(', ')}. Check that your archive_command is executing properly.`);
      nextWarning += 60_000;
    }
    await new Promise<void>((resolve, reject) => {
      if (opts.signal?.aborted) { reject(new CancelledError('backup cancelled while waiting for WAL archiving')); return; }
      const onAbort = () => { clearTimeout(t); reject(new CancelledError('backup cancelled while waiting for WAL archiving')); };
      const t = setTimeout(() => { opts.signal?.removeEventListener('abort', onAbort); resolve(); }, pollMs);
      opts.signal?.addEventListener('abort', onAbort, { once: true });
    });
  }
}
