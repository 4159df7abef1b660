// `wal-g backup-mark <backup_name> [-i]`: makes a backup and its delta ancestors permanent, or (with -i) the backup
// alone impermanent unless a permanent delta depends on it. Only metadata.json is rewritten, never the sentinel.

import type { CommandContext } from '../context.ts';
import { WalgError } from '../../core/errors.ts';
import { log } from '../../core/log.ts';
import type { Storage } from '../../storage/types.ts';
import { metadataKey } from '../../backup/layout.ts';
import { loadCatalog, toRetentionBackup, writePermanence } from '../../backup/catalog.ts';
import type { RetentionBackup } from '../../backup/retention.ts';

/** backup-mark refused on purpose (a permanent delta depends on the backup). */
export class MarkRefusedError extends WalgError {
  override readonly code = 'MARK_REFUSED';
}

/** The named backup (or an ancestor of it) has no sentinel. */
export class MarkTargetNotFoundError extends WalgError {
  override readonly code = 'BACKUP_NOT_FOUND';
}

/** compat: WAL-G's text, naming the missing metadata.json (WAL-G prints the storage's full path, we the key). */
function notFound(name: string): MarkTargetNotFoundError {
  return new MarkTargetNotFoundError(`Failed to get previous backups: object '${metadataKey(name)}' not found in storage`);
}

/**
 * compat: BackupMarkHandler.GetBackupsToMark — the backups whose flag changes, base first: for permanent, the
 * backup and every not-yet-permanent ancestor; for impermanent, the backup alone (if it is permanent).
 * Throws MarkRefusedError when a permanent delta (at any depth) depends on a backup being made impermanent.
 */
export function backupsToMark(backups: readonly RetentionBackup[], name: string, toPermanent: boolean): { list: string[]; warning?: string } {
  const byName = new Map(backups.map((b) => [b.name, b]));
  const target = byName.get(name);
  if (!target) throw notFound(name);
  const warning = target.permanent === toPermanent
    ? `Backup ${name} is already marked as ${toPermanent ? 'permanent' : 'impermanent'}, ignoring...` : undefined;
  if (toPermanent) {
    const list: string[] = [];
    const seen = new Set<string>();
    for (let cur: RetentionBackup | undefined = target; cur; ) {
      if (seen.has(cur.name)) break; // a cycle can only come from a corrupt sentinel; stop rather than loop
      seen.add(cur.name);
      if (!cur.permanent) list.unshift(cur.name);
      if (cur.isFull || !cur.deltaFrom) break;
      const parent = byName.get(cur.deltaFrom);
      if (!parent) throw notFound(cur.deltaFrom);
      cur = parent;
    }
    return { list, warning };
  }
  // WAL-G checks direct increments only; a permanent delta deeper down the chain is refused here as well.
  const children = new Map<string, RetentionBackup[]>();
  for (const b of backups) if (!b.isFull && b.deltaFrom) children.set(b.deltaFrom, [...(children.get(b.deltaFrom) ?? []), b]);
  const queue = [...(children.get(name) ?? [])];
  const seen = new Set<string>([name]);
  while (queue.length) {
    const b = queue.shift()!;
    if (seen.has(b.name)) continue;
    seen.add(b.name);
    if (b.permanent) {
      throw new MarkRefusedError(`Failed to get previous backups: Can't mark backup '${name}' as impermanent. There is permanent increment backup that depends on this backup.`);
    }
    queue.push(...(children.get(b.name) ?? []));
  }
  return { list: target.permanent ? [name] : [], warning };
}

/** Marks `name` (and, for permanent, its ancestors) in `storage`; returns the backups whose metadata.json changed. */
export async function markBackup(storage: Storage, name: string, toPermanent: boolean, opts: { concurrency?: number; signal?: AbortSignal } = {}): Promise<string[]> {
  log.info(`Retrieving previous related backups to be marked: toPermanent=${toPermanent}`);
  const catalog = (await loadCatalog(storage, { concurrency: opts.concurrency, signal: opts.signal })).map(toRetentionBackup);
  const { list, warning } = backupsToMark(catalog, name, toPermanent);
  if (warning) log.warn(warning);
  log.info(`Retrieved backups to be marked, marking: [${list.join(' ')}]`);
  // Base first: an interrupted run leaves ancestors permanent and the delta not yet, never the reverse.
  for (const b of list) {
    try {
      await writePermanence(storage, b, toPermanent, undefined, opts.signal);
    } catch (err) {
      throw new WalgError(`Failed to mark backups: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    }
  }
  return list;
}

/** CLI entry of backup-mark. */
export async function run(ctx: CommandContext, name: string, opts: { impermanent?: boolean }): Promise<void> {
  const storage = await ctx.storage();
  await markBackup(storage, name, !opts.impermanent, { concurrency: ctx.config.getInt('WALG_DOWNLOAD_CONCURRENCY'), signal: ctx.signal });
}
