// `wal-g backup-list [--pretty] [--json] [--detail] [--target-storage NAME]`: finished backups, printed exactly like
// WAL-G's printlist package (src/commands/render/backup-list.ts renders them).
// compat: with failover storages WAL-G "unites" the storages: one row per (backup, storage holding it), its
// storage_name that storage. Rows come from each storage in turn (default first, then the failovers by name), each
// in name order as its listing gives them; the plain list is then stably sorted by sentinel modification time,
// while --detail reverses that listing first and sorts by start time (or modification time when any backup lacks
// one) with Go's unstable sort, so a backup held by two storages shows the later storage's row first there.

import type { CommandContext } from '../context.ts';
import { log } from '../../core/log.ts';
import { metadataFromSentinel } from '../../backup/catalog.ts';
import { mapLimit } from '../../core/concurrency.ts';
import { goSortFunc } from '../../core/go-sort.ts';
import { goWallClock } from '../../core/time.ts';
import { listBackups, readMetadata, readSentinel } from '../../backup/sentinel.ts';
import type { BackupRef } from '../../backup/sentinel.ts';
import { BASEBACKUPS_PATH } from '../../backup/layout.ts';
import type { Storage } from '../../storage/types.ts';
import { renderBackupList } from '../render/backup-list.ts';
import type { BackupListFormat, ListedBackup } from '../render/backup-list.ts';

/** Flags of backup-list. */
export interface BackupListOptions extends BackupListFormat { targetStorage?: string }

/** A listed row and the storage it was read from. */
interface Row extends ListedBackup { storage: Storage }

/** A sentinel's modification time in nanoseconds (Go compares time.Time at that precision). */
function modifiedNs(ref: BackupRef): bigint {
  return ref.modifiedNs ?? BigInt(ref.modified.getTime()) * 1_000_000n;
}

/** A Go RFC3339 time as nanoseconds since the epoch; undefined when empty, malformed or Go's zero time. */
export function rfc3339Ns(s: string | undefined): bigint | undefined {
  const w = goWallClock(s);
  if (!w) return undefined;
  const ms = Date.UTC(Number(w.y), Number(w.mo) - 1, Number(w.d), Number(w.h), Number(w.mi), Number(w.se));
  const frac = BigInt((w.frac.slice(1) + '000000000').slice(0, 9));
  let offsetMin = 0;
  const z = /^([+-])(\d{2}):(\d{2})$/.exec(w.zone);
  if (z) offsetMin = (z[1] === '-' ? -1 : 1) * (Number(z[2]) * 60 + Number(z[3]));
  return BigInt(ms - offsetMin * 60_000) * 1_000_000n + frac;
}

const byKey = <T>(key: (x: T) => bigint) => (a: T, b: T) => { const x = key(a); const y = key(b); return x < y ? -1 : x > y ? 1 : 0; };

/**
 * compat: SortBackupDetails — by start time when every backup has one, else by sentinel modification time, with
 * Go's slices.SortFunc (stable up to 12 rows; beyond, equal rows move as in WAL-G's binary).
 */
function sortDetailed(rows: Row[]): Row[] {
  const starts = rows.map((b) => rfc3339Ns(b.metadata?.start_time));
  if (starts.some((t) => t === undefined)) return goSortFunc([...rows], byKey((b) => modifiedNs(b.ref)));
  return goSortFunc(rows.map((b, i) => ({ b, t: starts[i]! })), byKey((x) => x.t)).map((x) => x.b);
}

/** Every backup of each storage in turn, each storage's in name order (its listing order in WAL-G). */
async function listRows(members: ReadonlyArray<{ name: string; storage: Storage }>, root: string, signal?: AbortSignal): Promise<Row[]> {
  const rows: Row[] = [];
  for (const m of members) {
    const refs = (await listBackups(m.storage, root, signal)).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const ref of refs) rows.push({ ref, storageName: m.name, storage: m.storage });
  }
  return rows;
}

/**
 * Lists backups of the (target) storage to stdout. "No backups found" is logged (unless --json) and is not an
 * error. `root` is the backups folder: basebackups_005/, or catchup_005/ for catchup-list.
 */
export async function run(ctx: CommandContext, opts: BackupListOptions, root = BASEBACKUPS_PATH): Promise<void> {
  const members = await ctx.memberStorages(opts.targetStorage || undefined);
  log.info(`List backups from storages: [${members.map((m) => m.name).join(' ')}]`);
  let rows = await listRows(members, root, ctx.signal);
  if (rows.length === 0 && !opts.json) log.info('No backups found');
  if (opts.detail) {
    const concurrency = ctx.config.getInt('WALG_DOWNLOAD_CONCURRENCY');
    rows = await mapLimit(rows.reverse(), concurrency, async (b) => {
      let metadata = await readMetadata(b.storage, b.ref.name, root);
      if (!metadata) {
        // WAL-G fails the whole listing here; showing what the sentinel knows is more useful and harmless.
        log.warn(`Backup ${b.ref.name} has no metadata.json; showing the details its sentinel holds`);
        const s = await readSentinel(b.storage, b.ref.name, root);
        metadata = metadataFromSentinel(s, s.IsPermanent);
      }
      return { ...b, metadata };
    });
    rows = sortDetailed(rows);
  } else {
    rows.sort(byKey((b) => modifiedNs(b.ref)));
  }
  process.stdout.write(renderBackupList(rows, opts));
}
