// `wal-g mysql binlog-list [--since <d|time|LATEST>] [--until <d|time>] [--pretty] [--json]`: archived binlogs in
// upload order with size and LastModified (compat: internal/databases/mysql/binlog_list_handler.go).

import type { CommandContext } from '../context.ts';
import { UsageError } from '../../core/errors.ts';
import { log } from '../../core/log.ts';
import { parseDurationMs } from '../../config/load.ts';
import { storedTime, stringifyGo } from '../../backup/json.ts';
import { parseRfc3339 } from '../../backup/retention.ts';
import { binlogsCoveringInterval, listArchivedBinlogs } from '../../mysql/binlog-storage.ts';
import type { ArchivedBinlog } from '../../mysql/binlog-storage.ts';
import { prettyTable, tabwriter } from '../render/table.ts';
import type { Storage } from '../../storage/types.ts';
import { binlogWindow } from './binlog-window.ts';

/** Flags of binlog-list. */
export interface BinlogListOptions { since?: string; until?: string; pretty?: boolean; json?: boolean }

/** compat: parseTimeFilter — LATEST (the latest backup's binlog since-time), a Go duration ago, or RFC3339. */
async function timeFilter(storage: Storage, flag: string, v: string, now: Date, signal?: AbortSignal): Promise<Date> {
  const s = v.trim();
  if (s.toUpperCase() === 'LATEST') return (await binlogWindow(storage, { since: 'LATEST' }, signal)).start;
  try { return new Date(now.getTime() - parseDurationMs(flag, s)); } catch { /* not a duration */ }
  const d = parseRfc3339(s);
  if (!d) throw new UsageError(`failed to parse ${flag} time '${v}'`);
  return d;
}

/** Renders binlogs like printlist: tabwriter, go-pretty table, or JSON. */
export function renderBinlogList(list: readonly ArchivedBinlog[], opts: BinlogListOptions): string {
  const modified = (d: Date) => `${d.toISOString().slice(0, 19)}Z`;
  if (opts.json) {
    return `${stringifyGo(list.map((b) => ({ name: b.name, size: b.size, last_modified: storedTime(b.lastModified, b.lastModifiedNs) })), opts.pretty ? '    ' : undefined)}\n`;
  }
  if (opts.pretty) return prettyTable(['#', 'Name', 'Size', 'Modified'], list.map((b, i) => [i, b.name, String(b.size), modified(b.lastModified)]));
  return tabwriter([['name', 'size', 'modified'], ...list.map((b) => [b.name, String(b.size), modified(b.lastModified)])]);
}

/** CLI entry of binlog-list. */
export async function run(ctx: CommandContext, opts: BinlogListOptions): Promise<void> {
  const storage = await ctx.storage();
  const now = new Date();
  const start = opts.since?.trim() ? await timeFilter(storage, '--since', opts.since, now, ctx.signal) : new Date(0);
  const end = opts.until?.trim() ? await timeFilter(storage, '--until', opts.until, now, ctx.signal) : now;
  if (start.getTime() > end.getTime()) {
    throw new UsageError(`invalid time range: 'since' (${start.toISOString()}) must be before 'until' (${end.toISOString()})`);
  }
  const list = binlogsCoveringInterval(await listArchivedBinlogs(storage, ctx.signal), start, true, end);
  if (list.length === 0) {
    log.info(opts.since || opts.until ? 'No binlogs found matching the time filter criteria' : 'No binlogs found in storage');
    return;
  }
  process.stdout.write(renderBinlogList(list, opts));
}
