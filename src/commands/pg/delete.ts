// `wal-g delete retain|before|everything|target|garbage`: loads the catalog, asks the pure planner
// (src/pg/basebackup/retention-wal.ts) what to delete, logs it like WAL-G, and deletes only with --confirm (sentinels first).

import type { CommandContext } from '../context.ts';
import { UsageError } from '../../core/errors.ts';
import { log } from '../../core/log.ts';
import type { Storage } from '../../storage/types.ts';
import { deleteObjects, listKeys, loadCatalog, toRetentionBackup } from '../../backup/catalog.ts';
import { parseJsonExact } from '../../backup/json.ts';
import { BASEBACKUPS_PATH } from '../../backup/layout.ts';
import { parseBeforeArgs, parseEverythingArgs, parseGarbageArgs, parseRetainArgs, parseTargetArgs } from '../../backup/retention-args.ts';
import type { DeletePlan, PlanMessage } from '../../backup/retention.ts';
import { planBefore, planEverything, planGarbage, planRetain, planTarget } from '../../pg/basebackup/retention-wal.ts';
import type { PgRetentionInput as RetentionInput } from '../../pg/basebackup/retention-wal.ts';
import { DEFAULT_WAL_SEGMENT_SIZE, walSegmentSizeFromConfig } from '../../pg/wal-name.ts';

export type DeleteMode = 'retain' | 'before' | 'everything' | 'target' | 'garbage';

/** Flags of delete and its subcommands. */
export interface DeleteOptions {
  confirm?: boolean;
  useSentinelTime?: boolean;
  /** retain -a/--after <name|RFC3339>. */
  after?: string;
  /** target --target-user-data <json>. */
  targetUserData?: string;
  /** garbage --without-backup-check. */
  withoutBackupCheck?: boolean;
}

/** Tunables of one run (from the config in the CLI; pinned in tests). */
export interface DeleteRuntime {
  segmentSize?: number;
  concurrency?: number;
  batchSize?: number;
  signal?: AbortSignal;
  now?: Date;
}

function emit(m: PlanMessage): void {
  if (m.level === 'warn') log.warn(m.text);
  else if (m.level === 'debug') log.debug(m.text);
  else log.info(m.text);
}

/** A validated request: the arguments are checked before anything is read, as cobra's validators do. */
type Planner = (input: RetentionInput, storageName: string) => DeletePlan;

function plannerFor(mode: DeleteMode, args: readonly string[], opts: DeleteOptions, now: Date): Planner {
  switch (mode) {
    case 'retain': {
      const { modifier, count } = parseRetainArgs(args);
      return (input, storageName) => planRetain(input, { count, modifier, after: opts.after, storageName });
    }
    case 'before': {
      const { modifier, target } = parseBeforeArgs(args, now);
      return (input, storageName) => planBefore(input, { target, modifier, storageName });
    }
    case 'everything': {
      const { force } = parseEverythingArgs(args);
      return (input, storageName) => planEverything(input, { force, storageName });
    }
    case 'target': {
      const { findFull, name, userData } = parseTargetArgs(args, opts.targetUserData);
      let parsed: unknown;
      if (userData !== undefined) {
        try { parsed = parseJsonExact(userData); } catch (err) {
          throw new UsageError(`failed to read the user data as a JSON object: ${(err as Error).message}`, { cause: err });
        }
      }
      return (input, storageName) => planTarget(input, { name, userData: parsed, findFull, storageName });
    }
    case 'garbage': {
      const { scope } = parseGarbageArgs(args);
      return (input, storageName) => planGarbage(input, { scope, withoutBackupCheck: opts.withoutBackupCheck, storageName });
    }
  }
}

/**
 * Runs one delete against `storage`: validates the arguments, loads the catalog and the object listing, plans,
 * logs every object as WAL-G does, and deletes (sentinels first, in batches) only when `opts.confirm`.
 * Returns the plan (tests inspect it). Throws the planner's typed errors on refusal; nothing is deleted then.
 */
export async function executeDelete(storage: Storage, mode: DeleteMode, args: readonly string[], opts: DeleteOptions, rt: DeleteRuntime = {}): Promise<DeletePlan> {
  const now = rt.now ?? new Date();
  const planner = plannerFor(mode, args, opts, now);
  log.info(`Backup to delete will be searched in storages: [${storage.name}]`);
  const backups = (await loadCatalog(storage, { concurrency: rt.concurrency, signal: rt.signal })).map(toRetentionBackup);
  // `target` only ever deletes under basebackups_005/, so it does not need the (possibly huge) WAL listing.
  const objects = await listKeys(storage, mode === 'target' ? BASEBACKUPS_PATH : '', rt.signal);
  const plan = planner({
    backups, objects, now, onMessage: emit,
    segmentSize: rt.segmentSize ?? DEFAULT_WAL_SEGMENT_SIZE,
    useSentinelTime: !!opts.useSentinelTime,
  }, storage.name);
  if (!plan.evaluate) return plan;

  log.info('Evaluating objects for deletion...');
  for (const o of plan.marked) log.info(`Object marked for deletion: ${o.display} storage=${storage.name}`);
  if (log.isDevel) for (const o of plan.skipped) log.debug(`Object skipped: ${o.display} storage=${storage.name}`);
  const count = plan.marked.length;
  if (count === 0) {
    log.info('No objects matched the deletion criteria.');
    return plan;
  }
  if (opts.confirm) {
    await deleteObjects(storage, plan.marked.map((o) => o.key), { batchSize: rt.batchSize, signal: rt.signal });
    log.info(`Objects deleted successfully: count=${count}`);
  } else {
    log.info(`Dry run: objects would be deleted count=${count}, Run with --confirm to execute`);
  }
  return plan;
}

/** CLI entry of `delete <mode> [args...]`. */
export async function run(ctx: CommandContext, mode: DeleteMode, args: string[], opts: DeleteOptions): Promise<void> {
  plannerFor(mode, args, opts, new Date()); // compat: bad arguments fail before the storage is opened
  const storage = await ctx.storage();
  await executeDelete(storage, mode, args, opts, {
    segmentSize: walSegmentSizeFromConfig(ctx.config),
    concurrency: ctx.config.getInt('WALG_DOWNLOAD_CONCURRENCY'),
    signal: ctx.signal,
  });
}
