// `wal-g delete retain|before|everything|target|garbage`: loads the catalog, asks the pure planner
// (src/pg/basebackup/retention-wal.ts) what to delete, logs it like WAL-G, and deletes only with --confirm (sentinels first).

import type { CommandContext } from '../context.ts';
import { UsageError, WalgError } from '../../core/errors.ts';
import { log } from '../../core/log.ts';
import type { Storage } from '../../storage/types.ts';
import { deleteObjects, listKeys, loadCatalog, toRetentionBackup } from '../../backup/catalog.ts';
import { parseJsonExact } from '../../backup/json.ts';
import { BASEBACKUPS_PATH } from '../../backup/layout.ts';
import { parseBeforeArgs, parseEverythingArgs, parseGarbageArgs, parseRetainArgs, parseTargetArgs } from '../../backup/retention-args.ts';
import { sentinelBackupName } from '../../backup/retention.ts';
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
  /**
   * The storages objects are listed in and deleted from one by one, each with its name (failover storages: every
   * alive one). Default: `storage` alone. compat: WAL-G lists every storage and logs, counts and deletes each
   * object once per storage holding it.
   */
  members?: ReadonlyArray<{ name: string; storage: Storage }>;
}

/** An object of the listing and the storage holding it. */
interface HeldObject { key: string; storage: string }

/**
 * compat: multistorage.ListFolderRecursively over several storages — folders breadth first from `root`; in each
 * folder every storage's objects in turn (each in name order), subfolders in the order the storages first show them.
 */
export function unitedListing(lists: ReadonlyArray<{ name: string; keys: readonly string[] }>, root: string): HeldObject[] {
  const folders = lists.map(() => new Map<string, { objs: string[]; subs: Set<string> }>());
  const at = (i: number, folder: string) => {
    let f = folders[i]!.get(folder);
    if (!f) folders[i]!.set(folder, (f = { objs: [], subs: new Set() }));
    return f;
  };
  lists.forEach((l, i) => {
    for (const key of l.keys) {
      const slash = key.lastIndexOf('/') + 1;
      const folder = slash > root.length ? key.slice(0, slash) : root;
      at(i, folder).objs.push(key);
      for (let f = folder; f !== root;) {
        const cut = f.lastIndexOf('/', f.length - 2) + 1;
        const parent = cut > root.length ? f.slice(0, cut) : root;
        at(i, parent).subs.add(f);
        f = parent;
      }
    }
  });
  const byName = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
  const out: HeldObject[] = [];
  const queue = [root];
  const queued = new Set(queue);
  for (let q = 0; q < queue.length; q++) {
    lists.forEach((l, i) => {
      const f = folders[i]!.get(queue[q]!);
      if (!f) return;
      for (const key of [...f.objs].sort(byName)) out.push({ key, storage: l.name });
      // Folder names compare without their trailing slash, as a directory listing sorts them.
      for (const sub of [...f.subs].sort((a, b) => byName(a.slice(0, -1), b.slice(0, -1)))) {
        if (!queued.has(sub)) { queued.add(sub); queue.push(sub); }
      }
    });
  }
  return out;
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
  const members = rt.members ?? [{ name: storage.name, storage }];
  log.info(`Backup to delete will be searched in storages: [${members.map((m) => m.name).join(' ')}]`);
  const backups = (await loadCatalog(storage, { concurrency: rt.concurrency, signal: rt.signal })).map(toRetentionBackup);
  // `target` only ever deletes under basebackups_005/, so it does not need the (possibly huge) WAL listing.
  const root = mode === 'target' ? BASEBACKUPS_PATH : '';
  const lists: Array<{ name: string; keys: string[] }> = [];
  for (const m of members) lists.push({ name: m.name, keys: await listKeys(m.storage, root, rt.signal) });
  const held = lists.length === 1 ? lists[0]!.keys.map((key) => ({ key, storage: lists[0]!.name })) : unitedListing(lists, root);
  const plan = planner({
    backups, objects: held.map((o) => o.key), now, onMessage: emit,
    segmentSize: rt.segmentSize ?? DEFAULT_WAL_SEGMENT_SIZE,
    useSentinelTime: !!opts.useSentinelTime,
  }, storage.name);
  if (!plan.evaluate) return plan;

  log.info('Evaluating objects for deletion...');
  // The plan keeps the listing's order, so its marked and skipped objects pair with `held` in one pass.
  const marked: Array<{ display: string; key: string; storage: string }> = [];
  let mi = 0;
  let si = 0;
  for (const o of held) {
    const m = plan.marked[mi];
    if (m && m.key === o.key) { marked.push({ ...m, storage: o.storage }); mi++; continue; }
    const sk = plan.skipped[si];
    if (sk && sk.key === o.key) { si++; if (log.isDevel) log.debug(`Object skipped: ${sk.display} storage=${o.storage}`); }
  }
  if (mi !== plan.marked.length) throw new WalgError(`internal: ${plan.marked.length - mi} planned deletions not found in the listing`);
  for (const o of marked) log.info(`Object marked for deletion: ${o.display} storage=${o.storage}`);
  const count = marked.length;
  if (count === 0) {
    log.info('No objects matched the deletion criteria.');
    return plan;
  }
  if (opts.confirm) {
    // Sentinels first in every storage, then the rest (see deleteObjects).
    for (const sentinels of [true, false]) {
      for (const m of members) {
        const keys = marked.filter((o) => o.storage === m.name && (sentinelBackupName(o.key) !== undefined) === sentinels).map((o) => o.key);
        if (keys.length > 0) await deleteObjects(m.storage, keys, { batchSize: rt.batchSize, signal: rt.signal });
      }
    }
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
    members: await ctx.memberStorages(),
    segmentSize: walSegmentSizeFromConfig(ctx.config),
    concurrency: ctx.config.getInt('WALG_DOWNLOAD_CONCURRENCY'),
    signal: ctx.signal,
  });
}
