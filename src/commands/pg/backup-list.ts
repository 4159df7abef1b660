// `wal-g backup-list [--pretty] [--json] [--detail]`: finished backups oldest first, printed exactly like WAL-G's
// printlist package — a tabwriter table, a go-pretty box table, or Go encoding/json (indented with --pretty).

import type { CommandContext } from '../../cli/context.ts';
import { log } from '../../core/log.ts';
import { metadataFromSentinel } from '../../backup/catalog.ts';
import { mapLimit } from '../../core/concurrency.ts';
import { parseRfc3339 } from '../../backup/retention.ts';
import { rfc3339Nano, stringifyGo } from '../../backup/json.ts';
import { listBackups, readMetadata, readSentinel } from '../../backup/sentinel.ts';
import type { BackupRef, ExtendedMetadata } from '../../backup/sentinel.ts';
import { formatLsn } from '../../pg/lsn.ts';
import { tabwriter } from '../st/listing.ts';

/** Flags of backup-list. */
export interface BackupListOptions { pretty?: boolean; json?: boolean; detail?: boolean; targetStorage?: string }

/** One printable cell: its plain value, and the value --pretty shows when it differs (times). */
interface Field { name: string; prettyName: string; value: string; prettyValue?: string }

/** A listed backup with what every output format needs. */
export interface ListedBackup {
  ref: BackupRef;
  storageName: string;
  metadata?: ExtendedMetadata;
}

const ZERO_TIME = '0001-01-01T00:00:00Z';
const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;
const DAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** compat: utility.StripWalFileName — the first 24-hex run of the sentinel name, or 24 'Z's. */
export function walFileNameOf(backupName: string): string {
  return /[0-9A-F]{24}/.exec(backupName)?.[0] ?? 'Z'.repeat(24);
}

/** A stored Go time string split into wall-clock fields (in its own zone), or undefined for zero/unparsable. */
function wallClock(s: string | undefined): { y: string; mo: string; d: string; h: string; mi: string; se: string; frac: string; zone: string } | undefined {
  const m = s ? RFC3339.exec(s) : null;
  if (!m) return undefined;
  // compat: Go's zero time.Time prints as "-" (text) and "0001-01-01T00:00:00Z" (JSON).
  if (`${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}` === ZERO_TIME.slice(0, 19) && /^(\.0*)?$/.test(m[7] ?? '') && m[8] === 'Z') return undefined;
  return { y: m[1]!, mo: m[2]!, d: m[3]!, h: m[4]!, mi: m[5]!, se: m[6]!, frac: m[7] ?? '', zone: m[8]! };
}

/** compat: internal.FormatTime — RFC3339 (seconds) in the time's own zone, "-" for the zero time. */
export function formatTime(s: string | undefined): string {
  const w = wallClock(s);
  return w ? `${w.y}-${w.mo}-${w.d}T${w.h}:${w.mi}:${w.se}${w.zone}` : '-';
}

/** compat: internal.PrettyFormatTime — time.RFC850 "Monday, 02-Jan-06 15:04:05 MST", "-" for the zero time. */
export function prettyTime(s: string | undefined): string {
  const w = wallClock(s);
  if (!w) return '-';
  const day = new Date(0);
  day.setUTCFullYear(Number(w.y), Number(w.mo) - 1, Number(w.d));
  // Go prints "UTC" for UTC and, for a parsed numeric offset without a zone name, the -0700 form.
  const zone = w.zone === 'Z' ? 'UTC' : w.zone.replace(':', '');
  return `${DAYS[day.getUTCDay()]}, ${w.d}-${MONTHS[Number(w.mo) - 1]}-${w.y.slice(2)} ${w.h}:${w.mi}:${w.se} ${zone}`;
}

/** compat: Go's time.Time JSON (RFC3339Nano: trailing fraction zeros dropped); the zero time when unset. */
export function jsonTime(s: string | undefined): string {
  const w = wallClock(s);
  if (!w) return ZERO_TIME;
  const frac = w.frac.replace(/0+$/, '');
  return `${w.y}-${w.mo}-${w.d}T${w.h}:${w.mi}:${w.se}${frac === '.' ? '' : frac}${w.zone}`;
}

/** compat: Go encodes map[string]interface{} with sorted keys; user_data goes through one. */
function sortKeysDeep(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeysDeep);
  if (v === null || typeof v !== 'object') return v;
  return Object.fromEntries(Object.keys(v).sort().map((k) => [k, sortKeysDeep((v as Record<string, unknown>)[k])]));
}

function fields(b: ListedBackup, detail: boolean): Field[] {
  const modified = rfc3339Nano(b.ref.modified);
  const out: Field[] = [
    { name: 'backup_name', prettyName: 'Backup name', value: b.ref.name },
    { name: 'modified', prettyName: 'Modified', value: formatTime(modified), prettyValue: prettyTime(modified) },
    { name: 'wal_file_name', prettyName: 'WAL file name', value: walFileNameOf(b.ref.name) },
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
    backup_name: b.ref.name, time: rfc3339Nano(b.ref.modified), wal_file_name: walFileNameOf(b.ref.name), storage_name: b.storageName,
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

/**
 * compat: go-pretty's StyleDefault table as printlist renders it: a "#" column numbering rows from 0 (numeric,
 * so right-aligned, header too), upper-cased headers, '+-|' borders, a rule under the header and at the bottom.
 */
export function prettyTable(headers: string[], rows: Array<Array<string | number>>): string {
  const cells = (v: string | number) => String(v).replaceAll('\t', '    ').replaceAll('\r', '');
  const numeric = headers.map((_, i) => rows.length > 0 && rows.every((r) => typeof r[i] === 'number'));
  const head = headers.map((h) => h.toUpperCase());
  const width = (s: string) => [...s].length;
  const widths = head.map((h, i) => Math.max(width(h), ...rows.map((r) => width(cells(r[i] ?? '')))));
  const pad = (s: string, i: number) => (numeric[i] ? s.padStart(widths[i]! + s.length - width(s)) : s.padEnd(widths[i]! + s.length - width(s)));
  const rule = `+${widths.map((w) => '-'.repeat(w + 2)).join('+')}+`;
  const line = (vals: string[]) => `| ${vals.map((v, i) => pad(v, i)).join(' | ')} |`;
  return [rule, line(head), rule, ...rows.map((r) => line(r.map(cells))), rule].join('\n') + '\n';
}

/** Renders the list in the format the flags ask for (what goes to stdout). */
export function renderBackupList(backups: ListedBackup[], opts: BackupListOptions): string {
  const detail = !!opts.detail;
  if (opts.json) return `${stringifyGo(backups.map((b) => jsonEntity(b, detail)), opts.pretty ? '    ' : undefined)}\n`;
  if (backups.length === 0) return '';
  const all = backups.map((b) => fields(b, detail));
  if (opts.pretty) {
    return prettyTable(['#', ...all[0]!.map((f) => f.prettyName)], all.map((fs, i) => [i, ...fs.map((f) => f.prettyValue ?? f.value)]));
  }
  return tabwriter([all[0]!.map((f) => f.name), ...all.map((fs) => fs.map((f) => f.value))]);
}

/** compat: SortBackupDetails — by start time when every backup has one, else by sentinel modification time. */
function sortDetailed(list: ListedBackup[]): ListedBackup[] {
  const starts = list.map((b) => (wallClock(b.metadata?.start_time) ? parseRfc3339(b.metadata!.start_time)?.getTime() ?? Number.NaN : Number.NaN));
  if (starts.some((t) => Number.isNaN(t))) return list; // already in modification order
  return list.map((b, i) => ({ b, t: starts[i]! })).sort((x, y) => x.t - y.t).map((x) => x.b);
}

/** Lists backups of the (target) storage to stdout. "No backups found" is logged (unless --json) and is not an error. */
export async function run(ctx: CommandContext, opts: BackupListOptions): Promise<void> {
  const storage = await ctx.storage(opts.targetStorage || 'default');
  log.info(`List backups from storages: [${storage.name}]`);
  const refs = await listBackups(storage, undefined, ctx.signal);
  if (refs.length === 0 && !opts.json) log.info('No backups found');
  let list: ListedBackup[] = refs.map((ref) => ({ ref, storageName: storage.name }));
  if (opts.detail) {
    const concurrency = ctx.config.getInt('WALG_DOWNLOAD_CONCURRENCY') ?? 10;
    list = await mapLimit(list, concurrency, async (b) => {
      let metadata = await readMetadata(storage, b.ref.name);
      if (!metadata) {
        // WAL-G fails the whole listing here; showing what the sentinel knows is more useful and harmless.
        log.warn(`Backup ${b.ref.name} has no metadata.json; showing the details its sentinel holds`);
        const s = await readSentinel(storage, b.ref.name);
        metadata = metadataFromSentinel(s, s.IsPermanent);
      }
      return { ...b, metadata };
    });
    list = sortDetailed(list);
  }
  process.stdout.write(renderBackupList(list, opts));
}
