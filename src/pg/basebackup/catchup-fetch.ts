// catchup-fetch <PGDATA> <name> (compat: WAL-G's HandleCatchupFetch): a catchup backup (catchup-push) applied to
// a stopped replica in place. Increments are written into the replica's files (created when the primary made the
// file after the replica's LSN), whole files replace the replica's, and backup_label and pg_control come last, so
// the replica starts recovery at the catchup's checkpoint and needs only WAL the primary still has. The replica's
// own configuration files are not in the backup and stay. Files the primary dropped since stay too (as in WAL-G).

import { realpath, stat } from 'node:fs/promises';
import { LocalFileError, WalgError } from '../../core/errors.ts';
import { log } from '../../core/log.ts';
import { tarPartitionsFolder } from '../../backup/layout.ts';
import { readSentinel } from '../../backup/sentinel.ts';
import type { Crypter } from '../../pipeline/types.ts';
import type { Storage } from '../../storage/types.ts';
import { SafeExtractor } from '../../tar/extract.ts';
import { fetchFilesMetadata } from '../files-metadata.ts';
import { applyIncrement } from '../pagefile.ts';
import { extractTar } from './fetch.ts';

/** Inputs of catchupFetch; `storage` sees catchup_005/ as the backups folder (withFolderRenamed). */
export interface CatchupFetchOptions {
  storage: Storage;
  crypter?: Crypter;
  signal?: AbortSignal;
}

/** The order the tars are applied in: the data parts, then backup_label.tar, then pg_control.tar (§4.8). */
export function catchupOrder(names: readonly string[]): string[] {
  const rank = (n: string) => (n.startsWith('pg_control.tar') ? 2 : n.startsWith('backup_label.tar') ? 1 : 0);
  return [...names].sort((a, b) => rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0));
}

/**
 * Applies catchup backup `name` to the replica's data directory `pgdata` (which must exist; the server must be
 * stopped: postmaster.pid present is refused). Throws ObjectNotFoundError for an unknown backup, LocalFileError
 * for the directory, CorruptObjectError/DecryptionError for bad objects.
 */
export async function catchupFetch(pgdata: string, name: string, opts: CatchupFetchOptions): Promise<void> {
  let root: string;
  try {
    root = await realpath(pgdata);
    if (!(await stat(root)).isDirectory()) throw new Error('not a directory');
  } catch (err) {
    throw new LocalFileError(`catchup-fetch needs the replica's data directory: ${pgdata}: ${(err as Error).message}`, { cause: err });
  }
  if (await stat(`${root}/postmaster.pid`).then(() => true, () => false)) {
    throw new WalgError(`The replica at ${root} seems to be running (postmaster.pid exists): stop it before catchup-fetch`);
  }
  const sentinel = await readSentinel(opts.storage, name);
  log.info(`Applying catchup backup ${name} (pages newer than LSN ${sentinel.DeltaLSN ?? 0n})`);
  const files = (await fetchFilesMetadata(opts.storage, name, opts.signal, { tarFileSets: false }))?.Files;
  const folder = tarPartitionsFolder(name);
  const tars: string[] = [];
  for await (const e of opts.storage.list(folder, { signal: opts.signal })) if (e.type === 'obj') tars.push(e.key.slice(folder.length));
  const extractor = new SafeExtractor({
    root, absoluteNames: 'root-relative', fsync: true, signal: opts.signal,
    increments: files ? { applies: (n) => files.isIncremented(n), apply: applyIncrement, createMissing: true } : undefined,
  });
  for (const tar of catchupOrder(tars)) {
    await extractTar(opts.storage, `${folder}${tar}`, tar, opts, extractor, opts.signal);
    log.info(`Finished extraction of ${tar}`);
  }
  log.info('Catchup extraction complete.');
}
