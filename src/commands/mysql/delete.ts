// `wal-g mysql delete retain|before|everything|target [--confirm]`: loads every sentinel and the object listing,
// asks the pure planner (src/mysql/retention.ts), logs each object like WAL-G, and deletes (sentinels first) only
// with --confirm. Backups older than the target go together with the binlogs no kept backup replays.

import type { CommandContext } from '../context.ts';
import { log } from '../../core/log.ts';
import type { Storage } from '../../storage/types.ts';
import { deleteObjects } from '../../backup/catalog.ts';
import { mapLimit } from '../../core/concurrency.ts';
import { listStreamBackups } from '../../mysql/catalog.ts';
import { parseBeforeArgs, parseEverythingArgs, parseRetainArgs, parseTargetArgs } from '../../backup/retention-args.ts';
import type { DeletePlan, PlanMessage } from '../../backup/retention.ts';
import { binlogSinceTime, listArchivedBinlogs } from '../../mysql/binlog-storage.ts';
import { readStreamSentinel } from '../../mysql/sentinel.ts';
import { planMysqlBefore, planMysqlEverything, planMysqlRetain, planMysqlTarget } from '../../mysql/retention.ts';
import type { MysqlObject, MysqlRetentionInput } from '../../mysql/retention.ts';

/** The delete modes MySQL has (no garbage, no --target-user-data: compat). */
export type MysqlDeleteMode = 'retain' | 'before' | 'everything' | 'target';

type Planner = (input: MysqlRetentionInput) => DeletePlan;

/** Validates the arguments (before anything is read, as cobra does) and returns the planner. */
export function mysqlPlanner(mode: MysqlDeleteMode, args: readonly string[], now = new Date()): Planner {
  switch (mode) {
    case 'retain': {
      const { modifier, count } = parseRetainArgs(args);
      return (input) => planMysqlRetain(input, { count, modifier });
    }
    case 'before': {
      const { modifier, target } = parseBeforeArgs(args, now);
      return (input) => planMysqlBefore(input, { target, modifier });
    }
    case 'everything': {
      const { force } = parseEverythingArgs(args);
      return (input) => planMysqlEverything(input, { force });
    }
    case 'target': {
      const { name } = parseTargetArgs(args);
      return (input) => planMysqlTarget(input, { name: name! });
    }
  }
}

function emit(m: PlanMessage): void {
  if (m.level === 'warn') log.warn(m.text);
  else if (m.level === 'debug') log.debug(m.text);
  else log.info(m.text);
}

/** Reads the storage snapshot the planner needs: backups with permanence and binlog since-time, every object. */
export async function loadMysqlRetentionInput(storage: Storage, opts: { concurrency?: number; signal?: AbortSignal } = {}): Promise<MysqlRetentionInput> {
  const refs = await listStreamBackups(storage, opts.signal);
  const binlogs = await listArchivedBinlogs(storage, opts.signal);
  const backups = await mapLimit(refs, opts.concurrency ?? 10, async (r) => {
    const s = await readStreamSentinel(storage, r.name, opts.signal);
    return { name: r.name, modified: r.modified, permanent: s.IsPermanent, binlogSince: binlogSinceTime(r.modified, s, binlogs) };
  });
  const objects: MysqlObject[] = [];
  for await (const e of storage.list('', { recursive: true, signal: opts.signal })) if (e.type === 'obj') objects.push({ key: e.key, lastModified: e.lastModified });
  return { backups, objects };
}

/** Runs one delete against `storage`; returns the plan (tests inspect it). */
export async function executeMysqlDelete(storage: Storage, mode: MysqlDeleteMode, args: readonly string[], opts: { confirm?: boolean; signal?: AbortSignal; concurrency?: number }): Promise<DeletePlan> {
  const planner = mysqlPlanner(mode, args);
  const input = await loadMysqlRetentionInput(storage, opts);
  const plan = planner({ ...input, onMessage: emit });
  if (!plan.evaluate) return plan;
  for (const o of plan.marked) log.info(`Object marked for deletion: ${o.display} storage=${storage.name}`);
  if (log.isDevel) for (const o of plan.skipped) log.debug(`Object skipped: ${o.display} storage=${storage.name}`);
  if (plan.marked.length === 0) {
    log.info('No objects matched the deletion criteria.');
    return plan;
  }
  if (opts.confirm) {
    await deleteObjects(storage, plan.marked.map((o) => o.key), { signal: opts.signal });
    log.info(`Objects deleted successfully: count=${plan.marked.length}`);
  } else {
    log.info(`Dry run: objects would be deleted count=${plan.marked.length}, Run with --confirm to execute`);
  }
  return plan;
}

/** CLI entry of `delete <mode> [args...]`. */
export async function run(ctx: CommandContext, mode: MysqlDeleteMode, args: string[], opts: { confirm?: boolean }): Promise<void> {
  mysqlPlanner(mode, args); // compat: bad arguments fail before the storage is opened
  await executeMysqlDelete(await ctx.storage(), mode, args, {
    confirm: opts.confirm, signal: ctx.signal, concurrency: ctx.config.getInt('WALG_DOWNLOAD_CONCURRENCY'),
  });
}
