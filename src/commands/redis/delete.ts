// `wal-g redis delete [--retain-count N] [--retain-after RFC3339] [--purge-garbage] [--confirm]`: loads every
// sentinel, asks the planner (src/redis/retention.ts) and deletes only with --confirm (compat: HandlePurge).

import type { CommandContext } from '../context.ts';
import { UsageError } from '../../core/errors.ts';
import { log } from '../../core/log.ts';
import { mapLimit } from '../../core/concurrency.ts';
import { listBackups } from '../../backup/sentinel.ts';
import { goList, parseRfc3339 } from '../../backup/retention.ts';
import { readRedisSentinel } from '../../redis/sentinel.ts';
import { deleteGarbage, deleteRedisBackups, garbageFolders, logPurgePlan, planRedisPurge } from '../../redis/retention.ts';

/** Flags of delete (commander's values: undefined when not given). */
export interface RedisDeleteOptions { retainCount?: string; retainAfter?: string; purgeGarbage?: boolean; confirm?: boolean }

/** Validates the flags before anything is read. compat: "Retain count can not be 0"; Go's time.RFC3339 parse. */
export function purgeOptions(o: RedisDeleteOptions): { retainCount?: number; retainAfter?: Date } {
  const out: { retainCount?: number; retainAfter?: Date } = {};
  if (o.retainAfter !== undefined) {
    const t = parseRfc3339(o.retainAfter);
    if (!t) throw new UsageError(`Can not parse retain time: parsing time "${o.retainAfter}" as "2006-01-02T15:04:05Z07:00": cannot parse`);
    out.retainAfter = t;
  }
  if (o.retainCount !== undefined) {
    if (!/^\d+$/.test(o.retainCount)) throw new UsageError(`invalid argument "${o.retainCount}" for "--retain-count" flag: strconv.ParseUint: parsing "${o.retainCount}": invalid syntax`);
    const n = Number(o.retainCount);
    if (n === 0) throw new UsageError('Retain count can not be 0');
    out.retainCount = n;
  }
  return out;
}

/** CLI entry of delete. */
export async function run(ctx: CommandContext, opts: RedisDeleteOptions): Promise<void> {
  const plan = purgeOptions(opts);
  const storage = await ctx.storage();
  const refs = await listBackups(storage, undefined, ctx.signal);
  if (refs.length === 0) log.info('No backups found');
  else {
    const backups = await mapLimit(refs, ctx.config.getInt('WALG_DOWNLOAD_CONCURRENCY'), async (r) => ({ name: r.name, sentinel: await readRedisSentinel(storage, r.name, ctx.signal) }));
    const split = planRedisPurge(backups, plan);
    logPurgePlan(split);
    if (opts.confirm) {
      await deleteRedisBackups(storage, split.purge, ctx.signal);
      log.info(`Backups were purged: deleted: ${split.purge.length}, retained: ${split.retain.length}`);
    }
  }
  if (opts.purgeGarbage) {
    const garbage = await garbageFolders(storage, new Set(refs.map((r) => r.name)), ctx.signal);
    log.info(`Garbage prefixes in backups folder: ${goList(garbage)}`);
    if (opts.confirm) await deleteGarbage(storage, garbage, ctx.signal);
  }
}
