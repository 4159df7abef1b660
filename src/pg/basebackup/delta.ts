// Choosing the parent of a delta backup (walg-format.md §4.1, compat: delta_backup_configurator.go): WALG_DELTA_MAX_STEPS,
// WALG_DELTA_ORIGIN (LATEST | LATEST_FULL), --delta-from-name / --delta-from-user-data, and every fallback to a full
// backup that WAL-G makes, with its log lines.

import { ConfigError, WalgError } from '../../core/errors.ts';
import { log } from '../../core/log.ts';
import { selectBackup } from '../../backup/select.ts';
import { readMetadata, readSentinel } from '../../backup/sentinel.ts';
import type { BackupSentinel } from '../../backup/sentinel.ts';
import type { Storage } from '../../storage/types.ts';
import { fetchFilesMetadata } from '../files-metadata.ts';
import { FilesTable } from '../files-metadata.ts';
import { formatLsn } from '../lsn.ts';

/** How delta backups are configured (settings and flags, already resolved). */
export interface DeltaConfig {
  /** WALG_DELTA_MAX_STEPS: 0 = always full. */
  maxSteps: number;
  /** WALG_DELTA_ORIGIN=LATEST_FULL: deltas are taken from the chain's full backup. */
  fromFull: boolean;
  /** --delta-from-name / WALG_DELTA_FROM_NAME. */
  fromName?: string;
  /** --delta-from-user-data / WALG_DELTA_FROM_USER_DATA (raw JSON). */
  fromUserData?: string;
}

/** The parent a delta backup is taken against. */
export interface DeltaParent {
  name: string;
  sentinel: BackupSentinel;
  /** Parent's Files (tar entry name -> description), compact; empty when the parent recorded none. */
  files: FilesTable;
  /** DeltaCount of the new backup. */
  count: number;
}

/** compat: GetDeltaConfig — WALG_DELTA_ORIGIN must be LATEST or LATEST_FULL. */
export function deltaOriginIsFull(origin: string | undefined): boolean {
  if (origin === undefined || origin === 'LATEST') return false;
  if (origin === 'LATEST_FULL') return true;
  throw new ConfigError(`Unknown WALG_DELTA_ORIGIN: ${origin}`);
}

/** compat: utility.StripWalFileName, defined once in src/pg/wal-name.ts (re-exported for push.ts). */
export { stripWalFileName } from '../wal-name.ts';

/**
 * Picks the delta parent, or undefined for a full backup (each fallback logged as WAL-G logs it). `isPermanent`:
 * the new backup is permanent (a delta from a permanent parent is only made for a permanent child, or with
 * LATEST_FULL). Throws WalgError when a named parent does not exist.
 */
export async function chooseDeltaParent(storage: Storage, cfg: DeltaConfig, isPermanent: boolean, signal?: AbortSignal): Promise<DeltaParent | undefined> {
  if (cfg.maxSteps <= 0) return undefined;
  let name: string;
  try {
    name = await selectBackup(storage, cfg.fromName || (cfg.fromUserData ? undefined : 'LATEST'), cfg.fromUserData || undefined);
  } catch (err) {
    if (err instanceof WalgError && err.message === 'No backups found' && !cfg.fromName && !cfg.fromUserData) {
      log.info("Couldn't find previous backup. Doing full backup.");
      return undefined;
    }
    throw err;
  }
  let sentinel = await readSentinel(storage, name);
  const count = (sentinel.DeltaCount ?? 0) + 1;
  if (count > cfg.maxSteps) {
    log.info('Reached max delta steps. Doing full backup.');
    return undefined;
  }
  if (!sentinel.LSN) {
    log.info('LATEST backup was made without support for delta feature. Fallback to full backup with LSN marker for future deltas.');
    return undefined;
  }
  let meta;
  try {
    meta = await readMetadata(storage, name);
  } catch (err) {
    log.info(`Failed to get previous backup metadata: ${(err as Error).message}. Doing full backup.`);
    return undefined;
  }
  const parentPermanent = meta ? meta.is_permanent : sentinel.IsPermanent;
  if (!isPermanent && !cfg.fromFull && parentPermanent) {
    log.info("Can't do a delta backup from permanent backup. Doing full backup.");
    return undefined;
  }
  if (cfg.fromFull) {
    log.info('Delta will be made from full backup.');
    if (sentinel.DeltaFullName) {
      name = sentinel.DeltaFullName;
      sentinel = await readSentinel(storage, name);
    }
  }
  if (sentinel.FilesMetadataDisabled) {
    // Without the parent's file list nothing can be skipped or incremented safely.
    log.info(`Backup ${name} was made without files metadata. Doing full backup.`);
    return undefined;
  }
  log.info(`Delta backup from ${name} with LSN ${formatLsn(sentinel.LSN)}.`);
  return { name, sentinel, files: (await fetchFilesMetadata(storage, name, signal, { tarFileSets: false }))?.Files ?? new FilesTable(), count };
}
