// Which Redis backups `delete --retain-count N --retain-after T` removes (compat: HandleBackupsDelete and
// internal.SplitPurgingBackups): newest first by StartLocalTime, a permanent backup is always kept and not counted,
// then the first N others are kept, then those that started strictly after T; everything else goes. Without either
// option everything is kept. Garbage: folders under basebackups_005/ without a sentinel. Also how one backup's
// objects are removed: its sentinel first, so a backup half deleted is never listed.

import { log } from '../core/log.ts';
import type { Storage } from '../storage/types.ts';
import { deleteObjects, listKeys } from '../backup/catalog.ts';
import { BASEBACKUPS_PATH, backupFolder, sentinelKey } from '../backup/layout.ts';
import { goList } from '../backup/retention.ts';
import type { RedisSentinel } from './sentinel.ts';

/** A backup as the planner sees it. */
export interface RedisRetentionBackup { name: string; sentinel: RedisSentinel }

/** The split: names in WAL-G's log order (newest finish first). */
export interface RedisPurgePlan { purge: string[]; retain: string[] }

const time = (s: string | undefined) => (s ? Date.parse(s) : Number.NEGATIVE_INFINITY) || Number.NEGATIVE_INFINITY;

/** Plans a purge. `retainCount` 0 or undefined and no `retainAfter` keeps everything. */
export function planRedisPurge(backups: readonly RedisRetentionBackup[], opts: { retainCount?: number; retainAfter?: Date }): RedisPurgePlan {
  const retainAll = opts.retainCount === undefined && opts.retainAfter === undefined;
  const byStart = [...backups].sort((a, b) => time(b.sentinel.StartLocalTime) - time(a.sentinel.StartLocalTime));
  const keep = new Set<string>();
  let kept = 0;
  for (const b of byStart) {
    if (b.sentinel.Permanent || retainAll) { keep.add(b.name); continue; }
    if (opts.retainCount !== undefined && kept < opts.retainCount) { kept++; keep.add(b.name); continue; }
    if (opts.retainAfter !== undefined && time(b.sentinel.StartLocalTime) > opts.retainAfter.getTime()) { keep.add(b.name); continue; }
  }
  const byFinish = [...backups].sort((a, b) => time(b.sentinel.FinishLocalTime) - time(a.sentinel.FinishLocalTime));
  return {
    purge: byFinish.filter((b) => !keep.has(b.name)).map((b) => b.name),
    retain: byFinish.filter((b) => keep.has(b.name)).map((b) => b.name),
  };
}

/** compat: the log lines of a purge plan. */
export function logPurgePlan(plan: RedisPurgePlan): void {
  log.info(`Backups selected to be deleted: ${goList(plan.purge)}`);
  log.info(`Backups selected to be retained: ${goList(plan.retain)}`);
}

/** compat: GetGarbageFromPrefix — the folders directly under basebackups_005/ that belong to no finished backup. */
export async function garbageFolders(storage: Storage, backups: ReadonlySet<string>, signal?: AbortSignal): Promise<string[]> {
  const out: string[] = [];
  for await (const e of storage.list(BASEBACKUPS_PATH, { signal })) {
    if (e.type !== 'dir') continue;
    const name = e.key.slice(BASEBACKUPS_PATH.length).replace(/\/$/, '');
    if (!backups.has(name)) out.push(name);
  }
  return out.sort();
}

/** Deletes backups: all their sentinels first, then every object under their folders. */
export async function deleteRedisBackups(storage: Storage, names: readonly string[], signal?: AbortSignal): Promise<void> {
  if (names.length === 0) return;
  await deleteObjects(storage, names.map((n) => sentinelKey(n)), { signal });
  const data: string[] = [];
  for (const n of names) data.push(...await listKeys(storage, backupFolder(n), signal));
  log.debug(`Backup keys will be deleted: ${goList(data)}`);
  await deleteObjects(storage, data, { signal });
}

/** Deletes every object under the garbage folders. */
export async function deleteGarbage(storage: Storage, folders: readonly string[], signal?: AbortSignal): Promise<void> {
  const keys: string[] = [];
  for (const f of folders) keys.push(...await listKeys(storage, backupFolder(f), signal));
  log.debug(`Garbage keys will be deleted: ${goList(keys)}`);
  await deleteObjects(storage, keys, { signal });
}
