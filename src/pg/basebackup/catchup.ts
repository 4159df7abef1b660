// catchup-push's delta parent (compat: WAL-G's CatchupDeltaBackupConfigurator): a made-up parent whose start LSN is
// the replica's LSN and that "had" every file with no matching mtime, so every paged file is stored as an increment
// of the pages newer than that LSN and every other file whole; and the configuration files a replica keeps its own
// copies of (pg_hba.conf, postgresql.conf, postgresql.auto.conf) are left out.

import { FilesTable } from '../files-metadata.ts';
import type { Lsn } from '../lsn.ts';
import type { BackupSentinel } from '../../backup/sentinel.ts';
import type { DeltaParent } from './delta.ts';

/** compat: catchup_push_handler.go extendExcludedFiles. */
export const CATCHUP_EXCLUDED: readonly string[] = ['pg_hba.conf', 'postgresql.conf', 'postgresql.auto.conf'];

/** A file list that has every name and no mtime: nothing is skipped as unchanged, every paged file is incremented. */
class EveryFile extends FilesTable {
  override has(): boolean { return true; }
  override mtime(): string | undefined { return undefined; }
}

/**
 * The parent of a catchup backup from `fromLsn`. Its name is '' (compat: the backup is named
 * base_<wal>_D_ZZZZZZZZZZZZZZZZZZZZZZZZ and its sentinel says "DeltaFrom":"", as WAL-G's do).
 */
export function catchupParent(fromLsn: Lsn): DeltaParent {
  const sentinel = { LSN: fromLsn, FinishLSN: fromLsn } as BackupSentinel;
  return { name: '', sentinel, files: new EveryFile(), count: 1 };
}

/** compat: --from-lsn is a uint64 as Go's strconv.ParseUint(s, 0, 64) reads it (decimal, 0x…); X/Y is accepted too. */
export function parseFromLsn(text: string): Lsn | undefined {
  const t = text.trim();
  const xy = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/.exec(t);
  if (xy) return (BigInt(`0x${xy[1]}`) << 32n) | BigInt(`0x${xy[2]}`);
  if (!/^(0[xX][0-9A-Fa-f]+|0[oO]?[0-7]+|0[bB][01]+|[1-9][0-9]*|0)$/.test(t)) return undefined;
  const v = BigInt(/^0[0-7]+$/.test(t) ? `0o${t.slice(1)}` : t);
  return v < 1n << 64n ? v : undefined;
}
