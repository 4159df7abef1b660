// The time window shared by binlog-fetch and binlog-replay: --since <backup|LATEST> gives the start (the backup's
// binlog since-time), --until the point in time, --until-binlog-last-modified-time the newest upload to take.

import type { Storage } from '../../storage/types.ts';
import { UsageError, WalgError, describeError } from '../../core/errors.ts';
import { log } from '../../core/log.ts';
import { parseRfc3339 } from '../../backup/retention.ts';
import { resolveStreamBackup } from '../../mysql/catalog.ts';
import { MAX_TIME, binlogSinceTime, listArchivedBinlogs } from '../../mysql/binlog-storage.ts';
import { encodeStreamSentinel, readStreamSentinel } from '../../mysql/sentinel.ts';

/** Flags of binlog-fetch and binlog-replay. */
export interface BinlogWindowOptions { since?: string; until?: string; untilBinlogLastModifiedTime?: string }

/** compat: utility.ParseUntilTS — RFC3339, or the far future when empty. */
export function parseUntil(flag: string, v: string | undefined): Date {
  if (v === undefined || v === '') return MAX_TIME;
  const d = parseRfc3339(v);
  if (!d) throw new UsageError(`${flag}: '${v}' is not an RFC3339 time (e.g. 2006-01-02T15:04:05Z07:00)`);
  return d;
}

/** compat: getTimestamps — start, end and end-of-upload times of a replay. */
export async function binlogWindow(storage: Storage, o: BinlogWindowOptions, signal?: AbortSignal): Promise<{ start: Date; end: Date; endBinlog: Date; backup: string }> {
  const end = parseUntil('--until', o.until);
  const endBinlog = parseUntil('--until-binlog-last-modified-time', o.untilBinlogLastModifiedTime);
  let ref;
  try { ref = await resolveStreamBackup(storage, o.since || 'LATEST', signal); } catch (err) {
    throw new WalgError(`Unable to get backup: ${describeError(err)}`, { cause: err });
  }
  const sentinel = await readStreamSentinel(storage, ref.name, signal);
  log.info(`Backup sentinel: ${encodeStreamSentinel(sentinel)}`);
  const start = binlogSinceTime(ref.modified, sentinel, await listArchivedBinlogs(storage, signal));
  return { start, end, endBinlog, backup: ref.name };
}
