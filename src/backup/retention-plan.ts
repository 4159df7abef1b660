// Pure planners for `wal-g delete retain|before|everything|target|garbage` (walg-features.md §1.1): from a catalog
// snapshot (backups + every object key) to the exact objects to delete, with WAL-G's rules and messages. How
// objects sort and which archive objects kept backups need come from the database's RetentionRules
// (PostgreSQL: src/pg/basebackup/retention-wal.ts binds them). No I/O here, so every rule is unit-testable.

import { UsageError } from '../core/errors.ts';
import { BASEBACKUPS_PATH, SENTINEL_SUFFIX, WAL_PATH } from './layout.ts';
import { BackupNotFoundError, DeleteRefusedError, goList, parseRfc3339, sentinelBackupName } from './retention.ts';
import type {
  ArchiveProtection, DeleteModifier, DeletePlan, Less, PlanMessage, RetentionBackup, RetentionInput, RetentionRules,
} from './retention.ts';

/** The object name WAL-G compares a backup by: its sentinel's name inside basebackups_005/. */
const sentinelName = (b: RetentionBackup) => `${b.name}${SENTINEL_SUFFIX}`;

/** compat: utility.StripLeftmostBackupName — the first path element, cut at "_backup". */
function leftmostBackupName(rel: string): string {
  const first = rel.replace(/^\/+|\/+$/g, '').split('/')[0] ?? '';
  return first.split('_backup')[0] ?? '';
}

// ---------------------------------------------------------------------------------------------------------------
// Permanence

interface Permanence {
  /** Backups never deleted: permanent ones plus their delta ancestors. */
  backups: Set<string>;
  /** Names with the permanent flag itself, sorted (for messages). */
  flagged: string[];
  /** The archive objects (WAL) the kept backups need. */
  archive: ArchiveProtection;
}

function computePermanence(backups: readonly RetentionBackup[], rules: RetentionRules): Permanence {
  const byName = new Map(backups.map((b) => [b.name, b]));
  const flagged = backups.filter((b) => b.permanent).map((b) => b.name).sort();
  const keep = new Set<string>();
  for (const name of flagged) {
    // Safety beyond WAL-G: a permanent delta is useless without its chain, so its ancestors are kept too
    // (backup-mark and backup-push --permanent already mark them; this covers storages where they are not).
    let cur: string | undefined = name;
    while (cur !== undefined && !keep.has(cur)) {
      keep.add(cur);
      cur = byName.get(cur)?.deltaFrom;
    }
  }
  return { backups: keep, flagged, archive: rules.protectArchive(keep, byName) };
}

function isPermanentObject(key: string, perm: Permanence): boolean {
  // Archive keys (wal_005/) and backup keys (basebackups_005/) are disjoint prefixes.
  if (perm.archive.protects(key)) return true;
  if (key.startsWith(BASEBACKUPS_PATH)) return perm.backups.has(leftmostBackupName(key.slice(BASEBACKUPS_PATH.length)));
  return false;
}

/** Go's %v of map[PermanentObject]bool, for the "Found permanent objects" line. */
function permanentObjectsLine(perm: Permanence, storageName: string): string {
  const backups = [...perm.backups].sort().map((n) => `{${n} ${storageName}}:true`);
  return `Found permanent objects: backups=map[${backups.join(' ')}], wals=map[${perm.archive.describe(storageName).join(' ')}]`;
}

// ---------------------------------------------------------------------------------------------------------------
// The planner

interface Ctx {
  input: RetentionInput;
  less: Less;
  perm: Permanence;
  messages: PlanMessage[];
  /** Records a message (and forwards it to input.onMessage). */
  say: (m: PlanMessage) => void;
  /** The backup's "time": sentinel LastModified, or its start time with --use-sentinel-time. */
  timeOf: (b: RetentionBackup) => number;
  storageName: string;
}

function makeCtx(input: RetentionInput, rules: RetentionRules, storageName: string, useSentinelTime: boolean): Ctx {
  const messages: PlanMessage[] = [];
  const say = (m: PlanMessage) => { messages.push(m); input.onMessage?.(m); };
  const perm = computePermanence(input.backups, rules);
  say({ level: 'info', text: 'retrieving permanent objects' });
  if (perm.backups.size > 0) say({ level: 'info', text: permanentObjectsLine(perm, storageName) });
  let startTimes: Map<string, number> | undefined;
  if (useSentinelTime) {
    const missing = input.backups.find((b) => b.startTime === undefined);
    if (missing) {
      say({ level: 'warn', text: `Failed to get sentinel backup start times: Failed to get metadata of backup ${missing.name},`
        + ' will fall back to timeline and segment number for ordering...' });
    } else {
      startTimes = new Map(input.backups.map((b) => [b.name, b.startTime!.getTime()]));
    }
  }
  return {
    input, perm, messages, say, storageName,
    less: rules.less(startTimes),
    timeOf: (b) => (startTimes ? startTimes.get(b.name)! : b.modified.getTime()),
  };
}

/** Backups sorted oldest first by the plan's order (ties: sentinel time, then name, for determinism). */
function sortedOldestFirst(c: Ctx): RetentionBackup[] {
  return [...c.input.backups].sort((a, b) => {
    const sa = sentinelName(a); const sb = sentinelName(b);
    if (c.less(sa, sb)) return -1;
    if (c.less(sb, sa)) return 1;
    return a.modified.getTime() - b.modified.getTime() || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
  });
}
const newestFirst = (c: Ctx) => sortedOldestFirst(c).reverse();

/** compat: getRetainChoiceFunc — walks newest first; returns the backup the retention window ends at. */
function retainTarget(c: Ctx, count: number, modifier: DeleteModifier): RetentionBackup | undefined {
  const seen = new Set<string>();
  for (const b of newestFirst(c)) {
    if (modifier === 'FULL') {
      if (b.isFull) seen.add(b.name);
      if (seen.size === count) return b;
    } else if (modifier === 'FIND_FULL') {
      seen.add(b.name);
      if (seen.size >= count && b.isFull) return b;
    } else {
      seen.add(b.name);
      if (seen.size === count) return b;
    }
  }
  return undefined;
}

/**
 * compat: getBeforeChoiceFunc — the newest backup whose sentinel name starts with `name` (FIND_FULL: its full).
 * `named` receives the backup the name matched (FIND_FULL walks on from it to a full).
 */
function beforeNameTarget(c: Ctx, name: string, modifier: DeleteModifier, named?: { backup?: RetentionBackup }): RetentionBackup {
  let met = false;
  for (const b of newestFirst(c)) {
    if (!met && sentinelName(b).startsWith(name)) {
      met = true;
      if (named) named.backup = b;
    }
    if (modifier === 'FIND_FULL' ? met && b.isFull : met) return b;
  }
  // compat: WAL-G fails with its bare errNotFound ("not found"); the name is added for the operator.
  throw new BackupNotFoundError(met ? `not found: no full backup before '${name}'` : `not found: no backup named '${name}'`);
}

/** compat: FindTargetBeforeTime — the oldest backup taken at or after `time`, then as by name. */
function beforeTimeTarget(c: Ctx, time: Date, modifier: DeleteModifier, named?: { backup?: RetentionBackup }): RetentionBackup | undefined {
  const t = time.getTime();
  const potential = sortedOldestFirst(c).find((b) => c.timeOf(b) >= t);
  return potential ? beforeNameTarget(c, sentinelName(potential), modifier, named) : undefined;
}

/** compat: FindTargetRetainAfterName/Time — the older of the retain target and the oldest backup to keep by --after. */
function retainAfterTarget(c: Ctx, count: number, modifier: DeleteModifier, after: string): RetentionBackup | undefined {
  const t1 = retainTarget(c, count, modifier);
  const time = parseRfc3339(after);
  let met = false;
  const t2 = sortedOldestFirst(c).find((b) => {
    const hit = time ? c.timeOf(b) >= time.getTime() : (met = met || sentinelName(b).startsWith(after));
    return modifier === 'NONE' ? hit : hit && b.isFull;
  });
  if (!t1) return t2;
  if (!t2) return t1;
  // compat: if greater(t2, t1) keep t1, else t2 — i.e. the older one wins, so more is kept.
  return c.less(sentinelName(t1), sentinelName(t2)) ? t1 : t2;
}

function emptyPlan(c: Ctx, evaluate: boolean, target?: string): DeletePlan {
  return { messages: c.messages, evaluate, target, marked: [], skipped: [], deletedBackups: [] };
}

/** Fills marked/skipped/deletedBackups from a per-object predicate over `keys`. */
function markObjects(plan: DeletePlan, keys: readonly string[], pick: (key: string) => boolean, display = (k: string) => k): DeletePlan {
  const names = new Set<string>();
  for (const key of keys) {
    if (pick(key)) {
      plan.marked.push({ key, display: display(key) });
      const b = sentinelBackupName(key);
      if (b !== undefined) names.add(b);
    } else {
      plan.skipped.push({ key, display: display(key) });
    }
  }
  plan.deletedBackups = [...names];
  return plan;
}

/**
 * Refuses a plan that would leave a listed backup without an ancestor it needs (a delta whose parent chain is
 * deleted while the delta stays). WAL-G does not check this; it can only happen with unusual delta bases, and a
 * restore of such a backup would fail, so refusing is the safe answer.
 */
function checkDependencies(c: Ctx, plan: DeletePlan, hint?: string): void {
  const deleted = new Set(plan.deletedBackups);
  const byName = new Map(c.input.backups.map((b) => [b.name, b]));
  for (const b of c.input.backups) {
    if (deleted.has(b.name)) continue;
    const seen = new Set<string>();
    for (let p = b.deltaFrom; p !== undefined && !seen.has(p); p = byName.get(p)?.deltaFrom) {
      seen.add(p);
      if (deleted.has(p)) {
        throw new DeleteRefusedError(`backup ${b.name} depends on ${p}, which this delete would remove; `
          + `refusing (${hint ?? `delete ${b.name} too, e.g. with a later target or FIND_FULL`})`);
      }
    }
  }
}

/**
 * The kept backups sorting before `named` whose delta chain reaches a backup in `deleted` (transitively: a delta
 * of such a backup goes too). Sorted by name, for the log.
 */
function orphansBefore(c: Ctx, deleted: ReadonlySet<string>, named: RetentionBackup): string[] {
  const byName = new Map(c.input.backups.map((b) => [b.name, b]));
  const gone = new Set(deleted);
  const out: string[] = [];
  const broken = (b: RetentionBackup) => {
    const seen = new Set<string>();
    for (let p = b.deltaFrom; p !== undefined && !seen.has(p); p = byName.get(p)?.deltaFrom) {
      if (gone.has(p)) return p;
      seen.add(p);
    }
    return undefined;
  };
  for (let changed = true; changed;) {
    changed = false;
    for (const b of c.input.backups) {
      if (gone.has(b.name) || c.perm.backups.has(b.name) || !c.less(sentinelName(b), sentinelName(named))) continue;
      const p = broken(b);
      if (p === undefined) continue;
      c.say({ level: 'info', text: `Backup ${b.name} depends on ${p}, which is deleted; deleting it too, as it is before ${named.name}` });
      gone.add(b.name);
      out.push(b.name);
      changed = true;
    }
  }
  return out.sort();
}

/**
 * compat: DeleteBeforeTargetWhere — the target must be a full backup; every object that sorts before it and is
 * not permanent (and passes `scope`) is deleted: older backups' sentinels and folders, leftover folders, WAL.
 * With `named` (before FIND_FULL: the backup the operator named, `target` being the full found from it), a backup
 * kept by that cut but sorting before `named` whose delta base is deleted goes too (WAL-G leaves it listed without
 * its base). Any other kept backup left without its base makes the plan refused (checkDependencies).
 */
function deleteBefore(c: Ctx, target: RetentionBackup, scope: (key: string) => boolean = () => true, named?: RetentionBackup): DeletePlan {
  if (!target.isFull) {
    // compat: WAL-G prints the sentinel object's name here.
    throw new DeleteRefusedError(`${sentinelName(target)} is incremental and it's predecessors cannot be deleted. Consider FIND_FULL option.`);
  }
  c.say({ level: 'info', text: 'Start delete' });
  const t = sentinelName(target);
  const pick = (key: string) => scope(key) && c.less(key, t) && !isPermanentObject(key, c.perm);
  let plan = markObjects(emptyPlan(c, true, target.name), c.input.objects, pick);
  const orphans = named ? new Set(orphansBefore(c, new Set(plan.deletedBackups), named)) : new Set<string>();
  if (orphans.size > 0) {
    const inOrphan = (key: string) => key.startsWith(BASEBACKUPS_PATH) && orphans.has(leftmostBackupName(key.slice(BASEBACKUPS_PATH.length)));
    plan = markObjects(emptyPlan(c, true, target.name), c.input.objects, (key) => pick(key) || inOrphan(key));
  }
  checkDependencies(c, plan, named ? `it is not before ${named.name}, so it is kept, but its base is older than ${target.name}` : undefined);
  return plan;
}

/** `delete retain [FULL|FIND_FULL] N [--after name|time]`: keeps the newest N (and everything after --after). */
export function planRetain(input: RetentionInput, opts: { count: number; modifier: DeleteModifier; after?: string; storageName?: string }, rules: RetentionRules): DeletePlan {
  if (!(opts.count > 0)) throw new UsageError('cannot retain less than one backup. Check out delete everything');
  const c = makeCtx(input, rules, opts.storageName ?? 'default', !!input.useSentinelTime);
  const target = opts.after !== undefined && opts.after !== ''
    ? retainAfterTarget(c, opts.count, opts.modifier, opts.after)
    : retainTarget(c, opts.count, opts.modifier);
  if (!target) {
    c.say({ level: 'info', text: 'No backup found for deletion' });
    return emptyPlan(c, false);
  }
  return deleteBefore(c, target);
}

/** `delete before [FIND_FULL] name|time`: deletes everything older than the named backup (or the first at/after time). */
export function planBefore(input: RetentionInput, opts: { target: string; modifier: DeleteModifier; storageName?: string }, rules: RetentionRules): DeletePlan {
  if (opts.modifier === 'FULL') throw new DeleteRefusedError("Not allowed modifier for 'delete before'");
  const now = input.now ?? new Date();
  const time = parseRfc3339(opts.target);
  if (time && time.getTime() > now.getTime()) throw new UsageError('cannot delete before future date');
  const c = makeCtx(input, rules, opts.storageName ?? 'default', !!input.useSentinelTime);
  const named: { backup?: RetentionBackup } = {};
  const target = time ? beforeTimeTarget(c, time, opts.modifier, named) : beforeNameTarget(c, opts.target, opts.modifier, named);
  if (!target) {
    c.say({ level: 'info', text: 'No backup found for deletion' });
    return emptyPlan(c, false);
  }
  return deleteBefore(c, target, undefined, opts.modifier === 'FIND_FULL' ? named.backup : undefined);
}

/** `delete everything [FORCE]`: every object in the storage; refused while permanent backups exist unless FORCE. */
export function planEverything(input: RetentionInput, opts: { force: boolean; storageName?: string }, rules: RetentionRules): DeletePlan {
  const c = makeCtx(input, rules, opts.storageName ?? 'default', false);
  if (c.perm.flagged.length > 0) {
    const line = `Found permanent backups=${goList(c.perm.flagged)}`;
    if (!opts.force) throw new DeleteRefusedError(line);
    c.say({ level: 'info', text: line });
  }
  return markObjects(emptyPlan(c, true), input.objects, () => true);
}

/** Compares parsed JSON values like Go's reflect.DeepEqual on encoding/json output (numbers by value). */
function jsonEqual(a: unknown, b: unknown): boolean {
  if ((typeof a === 'number' || typeof a === 'bigint') && (typeof b === 'number' || typeof b === 'bigint')) return Number(a) === Number(b);
  if (a === null || b === null || typeof a !== 'object' || typeof b !== 'object') return a === b;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) return a.length === (b as unknown[]).length && a.every((v, i) => jsonEqual(v, (b as unknown[])[i]));
  const ka = Object.keys(a); const kb = Object.keys(b as object);
  return ka.length === kb.length && ka.every((k) => Object.hasOwn(b as object, k) && jsonEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}

/**
 * `delete target [FIND_FULL] name|LATEST` or `--target-user-data`: the backup and every delta depending on it
 * (FIND_FULL: every backup sharing its full base). Fails when the target is missing or any affected backup is
 * permanent. Deletes only objects under basebackups_005/ — never WAL.
 */
export function planTarget(input: RetentionInput, opts: { name?: string; userData?: unknown; findFull: boolean; storageName?: string }, rules: RetentionRules): DeletePlan {
  const c = makeCtx(input, rules, opts.storageName ?? 'default', !!input.useSentinelTime);
  let target: RetentionBackup | undefined;
  if (opts.name === 'LATEST') {
    c.say({ level: 'info', text: 'Selecting the latest backup...' });
    // compat: LATEST is the sentinel with the greatest LastModified.
    target = [...input.backups].sort((a, b) => a.modified.getTime() - b.modified.getTime()).at(-1);
    if (!target) throw new BackupNotFoundError('No backups found');
    c.say({ level: 'info', text: `LATEST backup is: '${target.name}'` });
  } else if (opts.name !== undefined) {
    c.say({ level: 'info', text: `Selecting the backup with name ${opts.name}...` });
    target = input.backups.find((b) => b.name === opts.name);
    if (!target) throw new BackupNotFoundError(`Backup '${opts.name}' does not exist.`);
  } else {
    c.say({ level: 'info', text: 'Selecting the backup with the specified user data...' });
    const hits = input.backups.filter((b) => jsonEqual(b.userData ?? null, opts.userData ?? null));
    const names = [...new Set(hits.map((b) => b.name))];
    if (names.length > 1) {
      throw new DeleteRefusedError(`too many backups (${names.length}) found with specified user data: ${hits.map((b) => b.name).join(' ')}`);
    }
    target = hits[0];
    // compat: "no backup with that user data" is WAL-G's generic message for a missing target.
    if (!target) throw new BackupNotFoundError('Requested backup was not found');
  }

  let affected: RetentionBackup[];
  if (opts.findFull) {
    // compat: findRelatedBackups — the full base and every delta whose DeltaFullName is that base.
    const base = target.isFull ? target.name : target.deltaFullName;
    if (!base) throw new DeleteRefusedError(`backup ${target.name} is a delta without DeltaFullName; cannot find its full backup`);
    affected = input.backups.filter((b) => b.name === base || (!b.isFull && b.deltaFullName === base));
  } else {
    // compat: findDependantBackups — breadth-first over "DeltaFrom" links.
    const children = new Map<string, RetentionBackup[]>();
    for (const b of input.backups) if (!b.isFull && b.deltaFrom) children.set(b.deltaFrom, [...(children.get(b.deltaFrom) ?? []), b]);
    affected = [];
    const seen = new Set<string>();
    const queue = [target];
    while (queue.length) {
      const cur = queue.shift()!;
      if (seen.has(cur.name)) continue;
      seen.add(cur.name);
      affected.push(cur);
      queue.push(...(children.get(cur.name) ?? []));
    }
  }
  c.say({ level: 'debug', text: `backupsToDelete: ${goList(affected.map((b) => b.name))}` });
  for (const b of affected) {
    // compat: WAL-G's message. Ancestors of permanent deltas count as permanent here too.
    if (c.perm.backups.has(b.name)) throw new DeleteRefusedError(`Unable to delete permanent backup ${b.name}`);
  }
  const names = new Set(affected.map((b) => b.name));
  const keys = input.objects.filter((k) => k.startsWith(BASEBACKUPS_PATH));
  // compat: WAL-G lists basebackups_005/ here, so it prints names relative to that folder.
  return markObjects(emptyPlan(c, true, target.name), keys,
    (k) => names.has(leftmostBackupName(k.slice(BASEBACKUPS_PATH.length))), (k) => k.slice(BASEBACKUPS_PATH.length));
}

/**
 * `delete garbage [ARCHIVES|BACKUPS] [--without-backup-check]`: non-permanent objects older than the oldest
 * non-permanent backup (by start time): outdated WAL and leftovers of failed or partly deleted backups.
 */
export function planGarbage(input: RetentionInput, opts: { scope: 'ALL' | 'ARCHIVES' | 'BACKUPS'; withoutBackupCheck?: boolean; storageName?: string }, rules: RetentionRules): DeletePlan {
  // compat: garbage always orders by timeline and segment (WAL-G passes useSentinelTime=false).
  const c = makeCtx(input, rules, opts.storageName ?? 'default', false);
  let scope: (key: string) => boolean;
  if (opts.scope === 'ARCHIVES') {
    c.say({ level: 'info', text: 'Archive-only mode selected. Will remove only outdated WAL files.' });
    scope = (k) => k.startsWith(WAL_PATH);
  } else if (opts.scope === 'BACKUPS') {
    c.say({ level: 'info', text: 'Backups-only mode selected. Will remove only leftover backup files.' });
    scope = (k) => k.startsWith(BASEBACKUPS_PATH);
  } else {
    c.say({ level: 'info', text: 'Running in default mode. Will remove outdated WAL files and leftover backup files.' });
    scope = () => true;
  }
  let oldest: RetentionBackup | undefined;
  for (const b of input.backups) {
    if (b.permanent) {
      c.say({ level: 'info', text: `Backup ${b.name} is permanent, it is not eligible to be selected as the oldest backup` });
      continue;
    }
    // compat: OldestNonPermanentSelector keeps the first of equal start times. Unknown start times sort first,
    // which can only make the cut older, i.e. delete less.
    const t = b.startTime?.getTime() ?? Number.NEGATIVE_INFINITY;
    if (!oldest || t < (oldest.startTime?.getTime() ?? Number.NEGATIVE_INFINITY)) oldest = b;
  }
  if (!oldest) {
    c.say({ level: 'info', text: "Couldn't find any non-permanent backups in storage." });
    if (!opts.withoutBackupCheck) {
      c.say({ level: 'info', text: 'Not doing anything.' });
      return emptyPlan(c, false);
    }
    c.say({ level: 'info', text: 'Will delete garbage anyway.' });
    c.say({ level: 'info', text: 'Start delete' });
    const plan = markObjects(emptyPlan(c, true), input.objects, (k) => scope(k) && !isPermanentObject(k, c.perm));
    checkDependencies(c, plan);
    return plan;
  }
  // Garbage is about leftovers. If a listed, non-permanent backup sorts before the oldest one by timeline and
  // segment although it started later (timelines reset, e.g. after pg_upgrade), WAL-G would delete it and its WAL
  // as "garbage"; refuse instead.
  const t = sentinelName(oldest);
  const early = input.backups.find((b) => !c.perm.backups.has(b.name) && b.name !== oldest!.name && c.less(sentinelName(b), t));
  if (early) {
    throw new DeleteRefusedError(`backup ${early.name} sorts before the oldest non-permanent backup ${oldest.name} by timeline and segment `
      + 'although it started later; refusing to delete it as garbage (use delete before/retain with --use-sentinel-time)');
  }
  return deleteBefore(c, oldest, scope);
}

