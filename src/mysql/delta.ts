// Choosing the parent of a MySQL incremental backup (xtrabackup-push --full=false; compat: internal/databases/mysql/
// delta_backup_configurator.go): WALG_DELTA_MAX_STEPS, WALG_DELTA_ORIGIN, --delta-from-name / --delta-from-user-data,
// and every fallback to a full backup WAL-G makes (no parent, too many steps, no LSN, another host, server UUID or
// version), each with WAL-G's log line. The parent's LSN is what the backup tool gets as --incremental-lsn.

import { log } from '../core/log.ts';
import { WalgError } from '../core/errors.ts';
import type { Storage } from '../storage/types.ts';
import { selectStreamBackup } from './backup-fetch.ts';
import { readStreamSentinel } from './sentinel.ts';
import type { StreamSentinel } from './sentinel.ts';

/** How incrementals are configured (flags and settings, already resolved). */
export interface MysqlDeltaConfig {
  /** -f/--full (default true): a full backup whatever the rest says. */
  full: boolean;
  /** WALG_DELTA_MAX_STEPS: 0 = always full. */
  maxSteps: number;
  /** WALG_DELTA_ORIGIN=LATEST_FULL: the increment is taken against the chain's full backup. */
  fromFull: boolean;
  /** --delta-from-name / WALG_DELTA_FROM_NAME. */
  fromName?: string;
  /** --delta-from-user-data / WALG_DELTA_FROM_USER_DATA (raw JSON). */
  fromUserData?: string;
}

/** What identifies the server being backed up, compared with the parent's sentinel. */
export interface ServerIdentity { hostname: string; serverUuid: string; version: string }

/** The chosen parent: DeltaFrom, DeltaFullName and DeltaCount of the new backup, and the LSN to start from. */
export interface MysqlDeltaParent {
  /**
   * DeltaFrom: the backup the increment applies on. compat: with LATEST_FULL WAL-G records the selected backup but
   * takes the full backup's LSN, a chain mariabackup refuses to apply; ours records the full backup (and count 1).
   */
  name: string;
  /** DeltaFullName: the full backup at the root of the chain. */
  fullName: string | undefined;
  /** The LSN passed as --incremental-lsn (the selected parent's, or its full backup's with LATEST_FULL). */
  lsn: bigint;
  /** DeltaCount of the new backup (≥ 1). */
  count: number;
}

/**
 * Picks the parent of an incremental, or undefined for a full backup. Throws when a named parent does not exist
 * or a sentinel cannot be read.
 */
export async function chooseMysqlDeltaParent(storage: Storage, cfg: MysqlDeltaConfig, server: ServerIdentity, signal?: AbortSignal): Promise<MysqlDeltaParent | undefined> {
  if (cfg.full) { log.info('Full backup requested.'); return undefined; }
  if (cfg.maxSteps <= 0) { log.info('WALG_DELTA_MAX_STEPS reached. Doing full backup.'); return undefined; }
  let selected: string;
  try {
    selected = await selectStreamBackup(storage, cfg.fromName || (cfg.fromUserData ? undefined : 'LATEST'), cfg.fromUserData || undefined, signal);
  } catch (err) {
    if (err instanceof WalgError && err.message === 'No backups found' && !cfg.fromName && !cfg.fromUserData) {
      log.info("Couldn't find previous backup. Doing full backup.");
      return undefined;
    }
    throw err;
  }
  let sentinel = await readStreamSentinel(storage, selected, signal);
  // compat: a parent without DeltaCount counts as a full backup's child ("FIXME why '1'?" in WAL-G).
  const count = sentinel.DeltaCount !== undefined ? sentinel.DeltaCount + 1 : 1;
  if (count > cfg.maxSteps) { log.info('Reached max delta steps. Doing full backup.'); return undefined; }
  const fullName = sentinel.IsIncremental ? sentinel.DeltaFullName : selected;
  let lsnSource = selected;
  if (cfg.fromFull) {
    log.info('Delta will be made from full backup.');
    if (sentinel.DeltaFullName !== undefined) lsnSource = sentinel.DeltaFullName;
    sentinel = await readStreamSentinel(storage, lsnSource, signal);
  }
  const fallback = fallbackReason(sentinel, server);
  if (fallback) { log.info(fallback); return undefined; }
  log.info(`Delta backup from ${lsnSource} with LSN ${sentinel.LSN}.`);
  return { name: lsnSource, fullName, lsn: sentinel.LSN!, count: cfg.fromFull ? 1 : count };
}

/** Why the parent cannot carry an increment of this server (WAL-G's messages), or undefined when it can. */
function fallbackReason(s: StreamSentinel, server: ServerIdentity): string | undefined {
  if (s.LSN === null) return 'Previous backup was made without support for delta feature. Fallback to full backup with LSN marker for future deltas.';
  if (!s.Hostname || s.Hostname !== server.hostname) return `Previous backup was made from another host (${s.Hostname ?? ''} vs ${server.hostname}). Fallback to full backup.`;
  // compat: WAL-G also falls back when the UUID is empty, which MariaDB's always is (it has no server_uuid), so
  // WAL-G never makes a MariaDB incremental; ours skips the check when both are empty (docs/compat.md).
  const mariadb = !s.ServerUUID && server.serverUuid === '';
  if (!mariadb && (!s.ServerUUID || s.ServerUUID !== server.serverUuid)) return `Server UUID has changed since last backup (${s.ServerUUID ?? ''} vs ${server.serverUuid}). Fallback to full backup.`;
  if (!s.ServerVersion || s.ServerVersion !== server.version) return `Server version has changed since last backup (${s.ServerVersion ?? ''} vs ${server.version}). Fallback to full backup.`;
  return undefined;
}
