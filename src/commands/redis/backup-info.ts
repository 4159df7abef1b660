// `wal-g redis backup-info <name|LATEST> [--tag Field]`: the backup's sentinel as a one-element JSON array, or with
// --tag one field's value (compat: HandleBackupInfo, fmt.Sprint of the struct field named exactly so).

import type { CommandContext } from '../context.ts';
import { UnsupportedFeatureError, WalgError } from '../../core/errors.ts';
import { stringifyGo } from '../../backup/json.ts';
import { GO_ZERO_TIME } from '../../core/time.ts';
import type { RedisSentinel } from '../../redis/sentinel.ts';
import { sentinelObject } from '../../redis/sentinel.ts';

/** Go's fmt.Sprint of a sentinel field. Times print as Go's time.String() only roughly: the stored RFC3339 text. */
function sprint(s: RedisSentinel, field: string): string {
  const v = (s as unknown as Record<string, unknown>)[field];
  const known = ['BackupName', 'StartLocalTime', 'FinishLocalTime', 'UserData', 'Permanent', 'DataSize', 'BackupSize', 'BackupType', 'Version',
    'UsedMemory', 'UsedMemoryRss', 'MaxDBNumber', 'HasTS', 'TSBackupID', 'TSBackupPath', 'TSDataSize', 'TSFileCount', 'TSStartTime', 'TSFinishTime'];
  if (!known.includes(field)) throw new WalgError(`no ${field} field in struct`);
  if (v === undefined || v === null) {
    if (field === 'UserData') return '<nil>';
    if (field.endsWith('Time')) return GO_ZERO_TIME;
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
