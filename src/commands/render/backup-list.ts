// The backup list WAL-G's printlist package prints, shared by PostgreSQL's backup-list and MySQL's default
// (non --detail) list: a tabwriter table, a go-pretty box table (--pretty), or Go encoding/json (indented with --pretty).

import { sortKeysDeep, storedTime, stringifyGo } from '../../backup/json.ts';
import type { BackupRef, ExtendedMetadata } from '../../backup/sentinel.ts';
import { jsonTime } from '../../core/time.ts';
import { formatLsn } from '../../pg/lsn.ts';
import { stripWalFileName } from '../../pg/wal-name.ts';
import { prettyTable, tabwriter } from './table.ts';
import { formatTime, prettyTime } from './time.ts';

/** Output format flags of a backup list. */
export interface BackupListFormat { pretty?: boolean; json?: boolean; detail?: boolean }

/** A listed backup with what every output format needs. */
export interface ListedBackup {
  ref: BackupRef;
  storageName: string;
  metadata?: ExtendedMetadata;
}

/** One printable cell: its plain value, and the value --pretty shows when it differs (times). */
interface Field { name: string; prettyName: string; value: string; prettyValue?: string }

function fields(b: ListedBackup, detail: boolean): Field[] {
  const modified = storedTime(b.ref.modified, b.ref.modifiedNs);
  const out: Field[] = [
    { name: 'backup_name', prettyName: 'Backup name', value: b.ref.name },
    { name: 'modified', prettyName: 'Modified', value: formatTime(modified), prettyValue: prettyTime(modified, b.ref.zoneName) },
    { name: 'wal_file_name', prettyName: 'WAL file name', value: stripWalFileName(b.ref.name) },
    { name: 'storage_name', prettyName: 'Storage name', value: b.storageName },
  ];
  if (!detail) return out;
  const m = b.metadata;
  out.push(
    { name: 'start_time', prettyName: 'Start time', value: formatTime(m?.start_time), prettyValue: prettyTime(m?.start_time) },
    { name: 'finish_time', prettyName: 'Finish time', value: formatTime(m?.finish_time), prettyValue: prettyTime(m?.finish_time) },
    { name: 'hostname', prettyName: 'Hostname', value: m?.hostname ?? '' },
    { name: 'data_dir', prettyName: 'Datadir', value: m?.data_dir ?? '' },
    { name: 'pg_version', prettyName: 'PG version', value: String(m?.pg_version ?? 0) },
    // compat: LSN.String() is "%X/%X".
    { name: 'start_lsn', prettyName: 'Start LSN', value: formatLsn(m?.start_lsn ?? 0n) },
    { name: 'finish_lsn', prettyName: 'Finish LSN', value: formatLsn(m?.finish_lsn ?? 0n) },
    { name: 'is_permanent', prettyName: 'Permanent', value: String(m?.is_permanent ?? false) },
  );
  return out;
}

/** The JSON object of one backup, in Go's field order (BackupTime, then ExtendedMetadataDto with --detail). */
function jsonEntity(b: ListedBackup, detail: boolean): Record<string, unknown> {
  const o: Record<string, unknown> = {
    backup_name: b.ref.name, time: storedTime(b.ref.modified, b.ref.modifiedNs), wal_file_name: stripWalFileName(b.ref.name), storage_name: b.storageName,
  };
  if (!detail) return o;
  const m = b.metadata;
  Object.assign(o, {
    start_time: jsonTime(m?.start_time), finish_time: jsonTime(m?.finish_time), date_fmt: m?.date_fmt ?? '',
    hostname: m?.hostname ?? '', data_dir: m?.data_dir ?? '', pg_version: m?.pg_version ?? 0,
    start_lsn: m?.start_lsn ?? 0n, finish_lsn: m?.finish_lsn ?? 0n, is_permanent: m?.is_permanent ?? false,
    system_identifier: m?.system_identifier ?? null, uncompressed_size: m?.uncompressed_size ?? 0, compressed_size: m?.compressed_size ?? 0,
  });
  if (m?.user_data !== undefined && m.user_data !== null) o.user_data = sortKeysDeep(m.user_data);
  return o;
}

/** Renders the list in the format the flags ask for (what goes to stdout); '' for an empty non-JSON list. */
export function renderBackupList(backups: ListedBackup[], opts: BackupListFormat): string {
  const detail = !!opts.detail;
  if (opts.json) return `${stringifyGo(backups.map((b) => jsonEntity(b, detail)), opts.pretty ? '    ' : undefined)}\n`;
  if (backups.length === 0) return '';
  const all = backups.map((b) => fields(b, detail));
  if (opts.pretty) {
    return prettyTable(['#', ...all[0]!.map((f) => f.prettyName)], all.map((fs, i) => [i, ...fs.map((f) => f.prettyValue ?? f.value)]));
  }
  return tabwriter([all[0]!.map((f) => f.name), ...all.map((fs) => fs.map((f) => f.value))]);
}
