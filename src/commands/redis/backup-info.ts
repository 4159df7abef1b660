// `wal-g redis backup-info <name|LATEST> [--tag Field]`: the backup's sentinel as a one-element JSON array, or with
// --tag one field's value (compat: HandleBackupInfo, fmt.Sprint of the struct field named exactly so).

import type { CommandContext } from '../context.ts';
import { UnsupportedFeatureError, WalgError } from '../../core/errors.ts';
import { stringifyGo } from '../../backup/json.ts';
import { goWallClock } from '../../core/time.ts';
import type { RedisSentinel } from '../../redis/sentinel.ts';
import { sentinelObject } from '../../redis/sentinel.ts';

/**
 * Go's time.Time.String() of a stored time: "2006-01-02 15:04:05.999999999 +0000 UTC"; a non-zero offset prints as
 * "+0300 +0300" (WAL-G would name the zone when it is the machine's local one).
 */
function goTimeText(stored: string | undefined): string {
  const w = goWallClock(stored);
  if (!w) return '0001-01-01 00:00:00 +0000 UTC';
  const frac = w.frac.replace(/0+$/, '');
  const zone = w.zone === 'Z' ? '+0000 UTC' : `${w.zone.replace(':', '')} ${w.zone.replace(':', '')}`;
  return `${w.y}-${w.mo}-${w.d} ${w.h}:${w.mi}:${w.se}${frac === '.' ? '' : frac} ${zone}`;
}

/** Go's fmt.Sprint of a sentinel field (maps and slices as JSON, which is close to Go's map[...] form only). */
function sprint(s: RedisSentinel, field: string): string {
  const v = (s as unknown as Record<string, unknown>)[field];
  const known = ['BackupName', 'StartLocalTime', 'FinishLocalTime', 'UserData', 'Permanent', 'DataSize', 'BackupSize', 'BackupType', 'Version',
    'UsedMemory', 'UsedMemoryRss', 'MaxDBNumber', 'HasTS', 'TSBackupID', 'TSBackupPath', 'TSDataSize', 'TSFileCount', 'TSStartTime', 'TSFinishTime'];
  if (!known.includes(field)) throw new WalgError(`no ${field} field in struct`);
  if (field.endsWith('Time')) return goTimeText(v as string | undefined);
  if (v === undefined || v === null) {
    if (field === 'UserData') return '<nil>';
    return ['Permanent', 'HasTS'].includes(field) ? 'false' : ['BackupName', 'BackupType', 'Version', 'TSBackupID', 'TSBackupPath'].includes(field) ? '' : '0';
  }
  return typeof v === 'object' ? stringifyGo(v) : String(v);
}

/** CLI entry of backup-info. */
export async function run(ctx: CommandContext, name: string, opts: { tag?: string }): Promise<void> {
  if (opts.tag === 'Slots') throw new UnsupportedFeatureError('backup-info --tag Slots: sharded (cluster) Redis backups are not supported');
  const storage = await ctx.storage();
  const { selectRedisBackup } = await import('../../redis/fetch.ts');
  const { sentinel } = await selectRedisBackup(storage, name, ctx.signal);
  if (opts.tag) { process.stdout.write(`${sprint(sentinel, opts.tag)}\n`); return; }
  process.stdout.write(`${stringifyGo([sentinelObject(sentinel)])}\n`);
}
