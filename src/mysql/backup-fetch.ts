// backup-fetch / get-stream for MySQL and MariaDB: choose the backup (name, LATEST or user data, compat:
// internal/backup_selector.go on stream sentinels), stream it decrypted, decompressed and merged into
// WALG_STREAM_RESTORE_COMMAND's stdin (or any writable), then run WALG_MYSQL_BACKUP_PREPARE_COMMAND. Incremental
// backups (WAL-G's xtrabackup-push --full=false) are refused before anything runs.

import type { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { UnsupportedBackupError, UsageError, WalgError, describeError } from '../core/errors.ts';
import { log } from '../core/log.ts';
import type { Storage } from '../storage/types.ts';
import type { Crypter } from '../pipeline/types.ts';
import { listStreamBackups, resolveStreamBackup } from './catalog.ts';
import { canonicalJson } from '../backup/select.ts';
import { parseJsonExact } from '../backup/json.ts';
import { runShell } from '../backup/command.ts';
import { readStreamSentinel } from './sentinel.ts';
import type { StreamSentinel } from './sentinel.ts';
import { openBackupStream } from '../backup/stream.ts';
import { streamToCommand } from '../backup/stream-command.ts';

/** Chooses a backup by name, LATEST, or sentinel UserData (exactly one must match). */
export async function selectStreamBackup(storage: Storage, name: string | undefined, userDataRaw: string | undefined, signal?: AbortSignal): Promise<string> {
  if (name && userDataRaw) throw new UsageError('incorrect arguments. Specify target backup name OR target userdata, not both');
  if (name === 'LATEST') {
    log.info('Selecting the latest backup...');
    const ref = await resolveStreamBackup(storage, 'LATEST', signal);
    log.info(`LATEST backup is: '${ref.name}'`);
    return ref.name;
  }
  if (name) {
    log.info(`Selecting the backup with name ${name}...`);
    return (await resolveStreamBackup(storage, name, signal)).name;
  }
  if (!userDataRaw) throw new UsageError('insufficient arguments');
  log.info('Selecting the backup with the specified user data...');
  let wanted: string;
  try { wanted = canonicalJson(parseJsonExact(userDataRaw)); } catch (err) {
    throw new UsageError(`failed to read the user data as a JSON object: ${describeError(err)}`);
  }
  const found: string[] = [];
  for (const b of await listStreamBackups(storage, signal)) {
    const s = await readStreamSentinel(storage, b.name, signal);
    if (canonicalJson(s.UserData ?? null) === wanted) found.push(b.name);
  }
  if (found.length === 0) throw new WalgError('No backups found');
  if (found.length > 1) throw new WalgError(`too many backups (${found.length}) found with specified user data: ${found.join(' ')}`);
  return found[0]!;
}

/** Writes the plain stream of `backup` into `dest` (ended when done). */
export async function writeBackupStream(storage: Storage, crypter: Crypter | undefined, backup: string, dest: Writable, signal?: AbortSignal): Promise<void> {
  const stream = await openBackupStream(storage, crypter, backup, signal);
  await pipeline(stream, dest, { signal });
}

/**
 * Refuses an incremental backup (WAL-G's xtrabackup-push --full=false: IsIncremental, DeltaFrom): its stream holds
 * only the pages changed since its base, and restoring it as if it were whole would leave a broken datadir.
 */
export function assertRestorable(backup: string, s: StreamSentinel): void {
  if (!s.IsIncremental && !s.DeltaFrom) return;
  const from = s.DeltaFrom ? ` (delta from ${s.DeltaFrom})` : '';
  throw new UnsupportedBackupError(`backup ${backup} is incremental${from}: incremental MySQL backups are not restorable yet`);
}

/** Options of fetchToCommand. */
export interface FetchToCommandOptions {
  storage: Storage;
  crypter?: Crypter;
  backup: string;
  restoreCommand: string;
  prepareCommand?: string;
  signal?: AbortSignal;
}

/**
 * Streams the backup into the restore command and, once it succeeded, runs the prepare command. A restore command
 * that exits early or unsuccessfully is reported by its exit status (not as a broken pipe).
 */
export async function fetchToCommand(o: FetchToCommandOptions): Promise<void> {
  // Read the sentinel first: a missing, unreadable or incremental backup must fail before the restore command starts.
  assertRestorable(o.backup, await readStreamSentinel(o.storage, o.backup, o.signal));
  await streamToCommand({ storage: o.storage, crypter: o.crypter, backup: o.backup, restoreCommand: o.restoreCommand, signal: o.signal });
  log.info(`Backup ${o.backup} written to the restore command`);
  if (o.prepareCommand) {
    log.info('Running the backup prepare command');
    const prep = runShell(o.prepareCommand, { what: 'backup prepare command', stdout: 'stderr', stderr: 'keep', signal: o.signal });
    try { await prep.done; } catch (err) {
      throw new WalgError(`failed to prepare fetched backup: ${describeError(err)}`, { cause: err });
    }
  }
}
