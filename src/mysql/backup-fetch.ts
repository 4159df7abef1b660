// backup-fetch / get-stream for MySQL and MariaDB: choose the backup (name, LATEST or user data, compat:
// internal/backup_selector.go on stream sentinels), stream it decrypted, decompressed and merged into
// WALG_STREAM_RESTORE_COMMAND's stdin (or any writable), then run WALG_MYSQL_BACKUP_PREPARE_COMMAND. Incremental
// backups (WAL-G's xtrabackup-push --full=false) are restored with their chain (chain-fetch.ts).

import type { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { UsageError, WalgError, describeError } from '../core/errors.ts';
import { log } from '../core/log.ts';
import type { Storage } from '../storage/types.ts';
import type { Crypter } from '../pipeline/types.ts';
import { listStreamBackups, resolveStreamBackup } from './catalog.ts';
import { canonicalJson } from '../backup/select.ts';
import { parseJsonExact } from '../backup/json.ts';
import { readStreamSentinel } from './sentinel.ts';
import { openBackupStream } from '../backup/stream.ts';
import { restoreBackupChain } from './chain-fetch.ts';

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

/** Options of fetchToCommand. */
export interface FetchToCommandOptions {
  storage: Storage;
  crypter?: Crypter;
  backup: string;
  restoreCommand: string;
  prepareCommand?: string;
  /** WALG_MYSQL_INCREMENTAL_BACKUP_DST (default /tmp): where increments are extracted. */
  incrementalDst?: string;
  signal?: AbortSignal;
}

/**
 * Streams the backup into the restore command and, once it succeeded, runs the prepare command; an incremental
 * backup is restored with its whole chain (src/mysql/chain-fetch.ts). A missing parent, or an incremental without
 * a prepare command, fails before the restore command starts.
 */
export async function fetchToCommand(o: FetchToCommandOptions): Promise<void> {
  await restoreBackupChain({ ...o, incrementalDst: o.incrementalDst ?? '/tmp' });
}
