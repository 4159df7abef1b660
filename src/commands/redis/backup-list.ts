// `wal-g redis backup-list [--pretty] [--json] [--detail]`: WAL-G's default list (the PostgreSQL columns), or, with
// --detail, each backup's sentinel (compat: HandleDetailedBackupList — printlist of archive.Backup, oldest finish
// first; --json prints the sentinel objects themselves).

import type { CommandContext } from '../context.ts';
import { log } from '../../core/log.ts';
import { mapLimit } from '../../core/concurrency.ts';
import { stringifyGo } from '../../backup/json.ts';
import { listBackups } from '../../backup/sentinel.ts';
import { readRedisSentinel, sentinelObject } from '../../redis/sentinel.ts';
import type { RedisSentinel } from '../../redis/sentinel.ts';
import { renderBackupList } from '../render/backup-list.ts';
import { prettyTable, tabwriter } from '../render/table.ts';
import { formatTime, prettyTime } from '../render/time.ts';

/** Flags of backup-list. */
export interface RedisBackupListOptions { pretty?: boolean; json?: boolean; detail?: boolean }

/** compat: Go's json.Marshal of UserData for the text columns ("null" when there is none). */
const userDataText = (v: unknown) => stringifyGo(v ?? null);

/** compat: archive.Backup.PrintableFields — name, plain value, pretty name, pretty value. */
function fields(s: RedisSentinel): Array<[string, string, string, string?]> {
  const n = (v: number | undefined) => String(v ?? 0);
  return [
    ['name', s.BackupName ?? '', 'Name'],
    ['start_time', formatTime(s.StartLocalTime), 'Start time', prettyTime(s.StartLocalTime)],
    ['finish_time', formatTime(s.FinishLocalTime), 'Finish time', prettyTime(s.FinishLocalTime)],
    ['user_data', userDataText(s.UserData), 'UserData'],
    ['data_size', n(s.DataSize), 'Data size'],
    ['backup_size', n(s.BackupSize), 'Backup size'],
    ['permanent', String(s.Permanent), 'Permanent'],
    ['backup_type', s.BackupType ?? '', 'Backup type'],
    ['version', s.Version ?? '', 'Backup version'],
    ['used_memory', n(s.UsedMemory), 'Used memory (limited by maxmemory)'],
    ['used_memory_rss', n(s.UsedMemoryRss), 'Used memory (as seen by OS))'],
    ['has_ts', String(!!s.HasTS), 'Has TS'],
    ['ts_backup_id', s.TSBackupID ?? '', 'TS backup ID'],
    ['ts_backup_path', s.TSBackupPath ?? '', 'TS backup path'],
    ['ts_data_size', n(s.TSDataSize), 'TS data size'],
    ['ts_file_count', n(s.TSFileCount), 'TS file count'],
  ];
}

/** compat: printlist.List of Redis backups (tabwriter, go-pretty table or a JSON array of sentinels). */
export function renderRedisDetail(list: readonly RedisSentinel[], opts: RedisBackupListOptions): string {
  if (opts.json) return `${stringifyGo(list.map(sentinelObject), opts.pretty ? '    ' : undefined)}\n`;
  if (list.length === 0) return '';
  const all = list.map(fields);
  if (opts.pretty) return prettyTable(['#', ...all[0]!.map((f) => f[2])], all.map((fs, i) => [i, ...fs.map((f) => f[3] ?? f[1])]));
  return tabwriter([all[0]!.map((f) => f[0]), ...all.map((fs) => fs.map((f) => f[1]))]);
}

const finish = (s: RedisSentinel) => Date.parse(s.FinishLocalTime) || 0;

/** CLI entry of backup-list. */
export async function run(ctx: CommandContext, opts: RedisBackupListOptions): Promise<void> {
  const storage = await ctx.storage();
  const refs = await listBackups(storage, undefined, ctx.signal);
  if (refs.length === 0 && !opts.json) log.info('No backups found');
  if (!opts.detail) {
    process.stdout.write(renderBackupList(refs.map((ref) => ({ ref, storageName: storage.name })), opts));
    return;
  }
  const list = await mapLimit(refs, ctx.config.getInt('WALG_DOWNLOAD_CONCURRENCY'), (r) => readRedisSentinel(storage, r.name, ctx.signal));
  list.sort((a, b) => finish(a) - finish(b));
  process.stdout.write(renderRedisDetail(list, opts));
}
