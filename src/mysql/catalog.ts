// The MySQL backups in storage, ordered by the start time in their stream_<YYYYMMDDTHHMMSSZ> name (then sentinel
// LastModified). WAL-G orders by sentinel LastModified, but a MySQL backup-mark rewrites the sentinel, which would
// make a freshly marked old backup "LATEST" and restore the wrong data; the name time never changes.

import { WalgError } from '../core/errors.ts';
import { log } from '../core/log.ts';
import type { Storage } from '../storage/types.ts';
import { listBackups } from '../backup/sentinel.ts';
import type { BackupRef } from '../backup/sentinel.ts';
import { objectTime } from './retention.ts';

/** Finished backups (with a sentinel), oldest first by name time. */
export async function listStreamBackups(storage: Storage, signal?: AbortSignal): Promise<BackupRef[]> {
  const refs = await listBackups(storage, undefined, signal);
  return refs.map((r) => ({ r, t: objectTime(r.name, r.modified) }))
    .sort((a, b) => (a.t < b.t ? -1 : a.t > b.t ? 1 : a.r.modified.getTime() - b.r.modified.getTime()))
    .map((x) => x.r);
}

/** Resolves "LATEST" (the newest by name time) or a name to an existing backup; WalgError when there is none. */
export async function resolveStreamBackup(storage: Storage, nameOrLatest: string, signal?: AbortSignal): Promise<BackupRef> {
  const all = await listStreamBackups(storage, signal);
  if (nameOrLatest === 'LATEST') {
    const last = all.at(-1);
    if (!last) throw new WalgError('No backups found');
    return last;
  }
  const hit = all.find((b) => b.name === nameOrLatest);
  if (!hit) throw new WalgError(`Backup '${nameOrLatest}' does not exist.`);
  log.debug(`backup ${hit.name} found`);
  return hit;
}
