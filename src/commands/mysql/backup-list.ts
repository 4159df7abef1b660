// `wal-g mysql backup-list [--pretty] [--json] [--detail]`: WAL-G's default list (same columns as PostgreSQL),
// or, with --detail, the MySQL BackupDetail fields read from each sentinel.

import type { CommandContext } from '../context.ts';
import { log } from '../../core/log.ts';
import { mapLimit } from '../../core/concurrency.ts';
import { storedTime, stringifyGo } from '../../backup/json.ts';
import { listStreamBackups } from '../../mysql/catalog.ts';
import { jsonTime } from '../../core/time.ts';
import { renderBackupList } from '../render/backup-list.ts';
import { prettyTable, tabwriter } from '../render/table.ts';
import { formatTime, prettyTime } from '../render/time.ts';
import { readStreamSentinel } from '../../mysql/sentinel.ts';
import type { StreamSentinel } from '../../mysql/sentinel.ts';

/** Flags of backup-list. */
export interface MysqlBackupListOptions { pretty?: boolean; json?: boolean; detail?: boolean }

/** One backup with its sentinel, for --detail. */
export interface MysqlBackupDetail {
  name: string;
  modified: Date;
  modifiedNs?: bigint;
  /** The storage's zone name of `modified` when not UTC (Azure: 'GMT'), as WAL-G prints it with --pretty. */
  zoneName?: string;
  sentinel: StreamSentinel;
}

/** compat: BackupDetail printed by printlist (tabwriter, go-pretty table, or JSON). */
export function renderDetail(list: MysqlBackupDetail[], opts: MysqlBackupListOptions): string {
  if (opts.json) {
    const rows = list.map((b) => {
      const s = b.sentinel;
      const o: Record<string, unknown> = {
        backup_name: b.name, modify_time: storedTime(b.modified, b.modifiedNs), binlog_start: s.BinLogStart ?? '', binlog_end: s.BinLogEnd ?? '',
        start_local_time: jsonTime(s.StartLocalTime), stop_local_time: jsonTime(s.StopLocalTime),
      };
      if (s.UncompressedSize) o.uncompressed_size = s.UncompressedSize;
      if (s.CompressedSize) o.compressed_size = s.CompressedSize;
      if (s.Hostname) o.hostname = s.Hostname;
      o.is_permanent = s.IsPermanent;
      if (s.UserData !== undefined && s.UserData !== null) o.user_data = s.UserData;
      return o;
    });
    return `${stringifyGo(rows, opts.pretty ? '    ' : undefined)}\n`;
  }
  if (list.length === 0) return '';
  const fields = (b: MysqlBackupDetail) => {
    const s = b.sentinel;
    const modified = storedTime(b.modified, b.modifiedNs);
    return [
      ['name', 'Name', b.name, b.name],
      ['last_modified', 'Last modified', formatTime(modified), prettyTime(modified, b.zoneName)],
      ['start_time', 'Start time', formatTime(s.StartLocalTime), prettyTime(s.StartLocalTime)],
      ['stop_time', 'Stop time', formatTime(s.StopLocalTime), prettyTime(s.StopLocalTime)],
      ['hostname', 'Hostname', s.Hostname ?? '', s.Hostname ?? ''],
      ['binlog_start', 'Binlog start', s.BinLogStart ?? '', s.BinLogStart ?? ''],
      ['binlog_end', 'Binlog end', s.BinLogEnd ?? '', s.BinLogEnd ?? ''],
      ['uncompressed_size', 'Uncompressed size', String(s.UncompressedSize ?? 0), String(s.UncompressedSize ?? 0)],
      ['compressed_size', 'Compressed size', String(s.CompressedSize ?? 0), String(s.CompressedSize ?? 0)],
      ['is_permanent', 'Permanent', String(s.IsPermanent), String(s.IsPermanent)],
    ];
  };
  const all = list.map(fields);
  if (opts.pretty) return prettyTable(['#', ...all[0]!.map((f) => f[1]!)], all.map((fs, i) => [i, ...fs.map((f) => f[3]!)]));
  return tabwriter([all[0]!.map((f) => f[0]!), ...all.map((fs) => fs.map((f) => f[2]!))]);
}

/** CLI entry of backup-list. */
export async function run(ctx: CommandContext, opts: MysqlBackupListOptions): Promise<void> {
  const storage = await ctx.storage();
  const refs = await listStreamBackups(storage, ctx.signal);
  if (refs.length === 0 && !opts.json) log.info('No backups found');
  if (!opts.detail) {
    process.stdout.write(renderBackupList(refs.map((ref) => ({ ref, storageName: storage.name })), opts));
    return;
  }
  const list = await mapLimit(refs, ctx.config.getInt('WALG_DOWNLOAD_CONCURRENCY'), async (r) =>
    ({ name: r.name, modified: r.modified, modifiedNs: r.modifiedNs, zoneName: r.zoneName, sentinel: await readStreamSentinel(storage, r.name, ctx.signal) }));
  process.stdout.write(renderDetail(list, opts));
}
