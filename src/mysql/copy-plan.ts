// The copy plan of the MySQL tree (`wal-g mysql copy -f FROM -t TO [-b NAME|LATEST] [-w]`; compat:
// internal/databases/mysql/copy.go BuildCopyPlan): every object of each selected backup and of every parent its
// incremental chain needs, its sentinel after its objects (parents' first), and with -w the binlogs from the
// earliest selected BinLogStart on (same binlog base name) plus binlog_sentinel_005.json last. Names are kept.

import { WalgError } from '../core/errors.ts';
import type { CopyEntry } from '../storage/transfer.ts';
import type { Storage } from '../storage/types.ts';
import { BINLOG_PATH, backupFolder, sentinelKey } from '../backup/layout.ts';
import { backupNames } from '../backup/copy.ts';
import { binlogNameOfObject, binlogNum, binlogPrefix } from './binlog.ts';
import { resolveBackupChain } from './chain-fetch.ts';
import { resolveStreamBackup } from './catalog.ts';

/** compat: BinlogSentinelPath. */
const BINLOG_SENTINEL = 'binlog_sentinel_005.json';

/**
 * Builds the entries for `requested` ('' = every backup, 'LATEST', or a name). Throws WalgError for a missing
 * backup or parent, or -w when no selected backup names a BinLogStart.
 */
export async function mysqlCopyPlan(from: Storage, source: ReadonlyMap<string, number>, requested: string, withHistory: boolean, signal?: AbortSignal): Promise<CopyEntry[]> {
  let names: string[];
  if (requested === '') {
    names = backupNames(source);
    if (names.length === 0) throw new WalgError('No backups found');
  } else {
    names = [(await resolveStreamBackup(from, requested, signal)).name];
  }
  const entries = new Map<string, CopyEntry>();
  const add = (key: string, phase: number, sequence: number) => {
    const size = source.get(key);
    if (size === undefined) throw new WalgError(`required source object '${key}' does not exist`);
    const prev = entries.get(key);
    if (!prev || prev.sequence < sequence) entries.set(key, { source: key, target: key, size, phase, sequence });
  };
  const starts = new Map<string, string>();
  for (const name of names) {
    const chain = await resolveBackupChain(from, name, signal);
    chain.forEach((step, depth) => {
      const folder = backupFolder(step.name);
      for (const k of source.keys()) if (k.startsWith(folder)) add(k, 0, 0);
      // A parent's sentinel before its child's: the destination never lists an increment without its base.
      add(sentinelKey(step.name), 2, depth);
    });
    const start = chain.at(-1)!.sentinel.BinLogStart;
    if (withHistory && start) {
      const p = binlogPrefix(start);
      const cur = starts.get(p);
      if (cur === undefined || binlogNum(start) < binlogNum(cur)) starts.set(p, start);
    }
  }
  if (withHistory) {
    if (starts.size === 0) throw new WalgError('selected MySQL backups contain no binlog recovery point');
    for (const k of source.keys()) {
      if (!k.startsWith(BINLOG_PATH) || k.slice(BINLOG_PATH.length).includes('/')) continue;
      const binlog = binlogNameOfObject(k.slice(BINLOG_PATH.length));
      if (!/\.\d+$/.test(binlog)) continue; // not a binlog (no <base>.<number> name)
      const start = starts.get(binlogPrefix(binlog));
      if (start !== undefined && binlogNum(binlog) >= binlogNum(start)) add(k, 1, 0);
    }
    if (source.has(BINLOG_SENTINEL)) add(BINLOG_SENTINEL, 3, 0);
  }
  return [...entries.values()];
}
