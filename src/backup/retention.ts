// Pure planners for `wal-g delete retain|before|everything|target|garbage` on PostgreSQL (walg-features.md §1.1):
// from a catalog snapshot (backups + every object key) to the exact objects to delete, with WAL-G's rules and
// messages. No I/O here, so every rule is unit-testable; src/commands/pg/delete.ts does the listing and deleting.

import { UsageError, WalgError } from '../core/errors.ts';
import { BASEBACKUPS_PATH, SENTINEL_SUFFIX, WAL_PATH } from './layout.ts';
import { DEFAULT_WAL_SEGMENT_SIZE, formatWalName, tryParseWalName } from '../pg/wal-name.ts';

/** One finished backup (it has a sentinel), as the planners see it. */
export interface RetentionBackup {
  name: string;
  /** LastModified of the sentinel: WAL-G's backup time unless --use-sentinel-time. */
  modified: Date;
  /** Backup start time (metadata.json start_time, else the sentinel's StartTime); undefined when unknown. */
  startTime?: Date;
  /** True unless the sentinel has DeltaFrom (compat: WAL-G's IsIncremental is "DeltaFrom is set"). */
  isFull: boolean;
  /** Delta only: the parent backup (sentinel DeltaFrom). */
  deltaFrom?: string;
  /** Delta only: the full backup at the root of the chain (sentinel DeltaFullName). */
  deltaFullName?: string;
  /** metadata.json is_permanent (authoritative); the sentinel's IsPermanent when metadata.json is missing. */
  permanent: boolean;
  /** Start and finish LSN (metadata.json, else sentinel): the WAL range a permanent backup needs. */
  startLsn: bigint;
  finishLsn: bigint;
  /** UserData (metadata.json user_data, else sentinel UserData), for `delete target --target-user-data`. */
  userData?: unknown;
}

/** The storage snapshot a plan is computed from. */
export interface RetentionInput {
  backups: readonly RetentionBackup[];
  /** Every object key in the storage (recursive listing of the root), as the listing returned them. */
  objects: readonly string[];
  /** WAL segment size in bytes (WALG_PG_WAL_SIZE); 16 MiB by default. */
  segmentSize?: number;
  /** --use-sentinel-time: order backups by start time instead of timeline + segment from the name. */
  useSentinelTime?: boolean;
  /** "Now", for rejecting future times (tests pin it). */
  now?: Date;
  /** Called with each plan message as it is produced, so logs keep WAL-G's order even when planning throws. */
  onMessage?: (m: PlanMessage) => void;
}

/** A log line the command prints before evaluating objects, in WAL-G's order. */
export interface PlanMessage { level: 'info' | 'warn' | 'debug'; text: string }

/** One object the plan deletes: its storage key and the name WAL-G prints for it. */
export interface MarkedObject { key: string; display: string }

/** What a delete would do. `evaluate: false` means WAL-G stops before looking at objects (nothing to do). */
export interface DeletePlan {
  messages: PlanMessage[];
  evaluate: boolean;
  /** The backup everything older than which is deleted (retain/before/garbage), or the target backup. */
  target?: string;
  /** Objects to delete, in listing order (the order WAL-G logs them). */
  marked: MarkedObject[];
  /** Objects looked at and kept (DEBUG "Object skipped"). */
  skipped: MarkedObject[];
  /** Backups whose sentinel is deleted, i.e. that stop being listed. */
  deletedBackups: string[];
}

/** Refused on purpose: an incremental target, a permanent backup, a dependency that would break. */
export class DeleteRefusedError extends WalgError {
  override readonly code = 'DELETE_REFUSED';
}

/** The backup a delete names does not exist. */
export class BackupNotFoundError extends WalgError {
  override readonly code = 'BACKUP_NOT_FOUND';
}

export type DeleteModifier = 'NONE' | 'FULL' | 'FIND_FULL';

// ---------------------------------------------------------------------------------------------------------------
// Argument parsing (compat: WAL-G's cobra validators and Extract*FromArgs, with their messages)

const MODIFIERS = ['FULL', 'FIND_FULL'];
const goList = (xs: readonly string[]) => `[${xs.join(' ')}]`;

function checkArgs(args: readonly string[], modifiers: readonly string[], min: number, max: number): void {
  if (args.length < min || args.length > max) {
    throw new UsageError(`accepts between ${min} and ${max} arg(s), received ${args.length}`);
  }
  if (args.length === max && max > 0 && !modifiers.includes(args[0]!)) {
    throw new UsageError(`expected to get one of modifiers: ${goList(modifiers)} as first argument`);
  }
}

function modifierOf(args: readonly string[]): { modifier: DeleteModifier; value: string } {
  if (args.length === 1) return { modifier: 'NONE', value: args[0]! };
  return { modifier: args[0] === 'FULL' ? 'FULL' : 'FIND_FULL', value: args[1]! };
}

/** compat: Go's strconv.Atoi (optional sign, decimal digits, fits in int64). */
function atoi(s: string): number | undefined {
  if (!/^[+-]?\d+$/.test(s)) return undefined;
  const n = Number(s);
  return Number.isSafeInteger(n) ? n : undefined;
}

/**
 * compat: Go's time.Parse(time.RFC3339, s): "2006-01-02T15:04:05Z07:00", optional fraction, 'T' and 'Z' upper
 * case, fields range-checked. Returns undefined for anything else (WAL-G then treats the argument as a name).
 */
export function parseRfc3339(s: string): Date | undefined {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d+)?(Z|([+-])(\d{2}):(\d{2}))$/.exec(s);
  if (!m) return undefined;
  const [y, mo, d, h, mi, se] = [m[1], m[2], m[3], m[4], m[5], m[6]].map(Number) as [number, number, number, number, number, number];
  if (mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || se > 59) return undefined;
  const dt = new Date(0);
  dt.setUTCFullYear(y, mo - 1, d);
  dt.setUTCHours(h, mi, se, m[7] ? Math.floor(Number(`0${m[7]}`) * 1000) : 0);
  if (dt.getUTCDate() !== d) return undefined; // e.g. February 30th
  if (m[9]) {
    const oh = Number(m[10]);
    const om = Number(m[11]);
    if (oh > 23 || om > 59) return undefined;
    const sign = m[9] === '-' ? -1 : 1;
    dt.setTime(dt.getTime() - sign * (oh * 60 + om) * 60_000);
  }
  return dt;
}

/** `delete retain [FULL|FIND_FULL] <count>` (+ `--after`). Throws UsageError with WAL-G's messages. */
export function parseRetainArgs(args: readonly string[]): { modifier: DeleteModifier; count: number } {
  checkArgs(args, MODIFIERS, 1, 2);
  const { modifier, value } = modifierOf(args);
  const count = atoi(value);
  if (count === undefined) {
    // compat: the typo "retantion" and errors.Wrapf's ": strconv.Atoi: ..." tail are WAL-G's.
    throw new UsageError(`expected to get a number as retantion count, but got: '${value}': strconv.Atoi: parsing "${value}": invalid syntax`);
  }
  if (count <= 0) throw new UsageError('cannot retain less than one backup. Check out delete everything');
  return { modifier, count };
}

/** `delete before [FIND_FULL] <name|RFC3339 time>`: FULL and future times are rejected. */
export function parseBeforeArgs(args: readonly string[], now = new Date()): { modifier: DeleteModifier; target: string; time?: Date } {
  checkArgs(args, MODIFIERS, 1, 2);
  const { modifier, value } = modifierOf(args);
  // compat: the typo "moodifier" is WAL-G's.
  if (modifier === 'FULL') throw new UsageError('unsupported moodifier for delete before command');
  const time = parseRfc3339(value);
  if (time && time.getTime() > now.getTime()) throw new UsageError('cannot delete before future date');
  return { modifier, target: value, time };
}

/** `delete everything [FORCE]`. */
export function parseEverythingArgs(args: readonly string[]): { force: boolean } {
  checkArgs(args, ['FORCE'], 0, 1);
  return { force: args.length === 1 };
}

/** `delete target [FIND_FULL] <name|LATEST>` or `--target-user-data <json>`. */
export function parseTargetArgs(args: readonly string[], targetUserData?: string): { findFull: boolean; name?: string; userData?: string } {
  if (args.length > 2) throw new UsageError(`accepts between 0 and 2 arg(s), received ${args.length}`);
  // compat: WAL-G only allows zero arguments when --target-user-data was given, and two only with FIND_FULL first.
  if (args.length === 0 && targetUserData === undefined) throw new UsageError('incorrect arguments');
  if (args.length === 2 && args[0] !== 'FIND_FULL') throw new UsageError('incorrect arguments');
  const findFull = args.length >= 1 && args[0] === 'FIND_FULL';
  const rest = findFull ? args.slice(1) : args;
  const name = rest[0];
  const userData = targetUserData === '' ? undefined : targetUserData;
  if (name !== undefined && name !== '' && userData !== undefined) {
    throw new UsageError('incorrect arguments. Specify target backup name OR target userdata, not both');
  }
  if ((name === undefined || name === '') && userData === undefined) throw new UsageError('insufficient arguments');
  return { findFull, name: name || undefined, userData };
}

/** `delete garbage [ARCHIVES|BACKUPS]`. */
export function parseGarbageArgs(args: readonly string[]): { scope: 'ALL' | 'ARCHIVES' | 'BACKUPS' } {
  checkArgs(args, ['ARCHIVES', 'BACKUPS'], 0, 1);
  return { scope: args.length === 1 ? (args[0] as 'ARCHIVES' | 'BACKUPS') : 'ALL' };
}

// ---------------------------------------------------------------------------------------------------------------
// Ordering (compat: WAL-G's timelineAndSegmentNoLess and makeLessFunc in internal/databases/postgres/delete.go)

const HEX24 = /[0-9A-F]{24}/;
const BACKUP_NAME_IN = /base_[0-9A-F]{24}(_D_[0-9A-F]{24})?(_[0-9A-F]{8})?/;

/** Timeline and segment of the first 24-hex run in an object name, or undefined (then nothing compares less). */
function timelineAndSegment(name: string, segmentSize: number): { tl: number; seg: number } | undefined {
  const m = HEX24.exec(name);
  if (!m) return undefined;
  const p = tryParseWalName(m[0], segmentSize);
  return p ? { tl: p.timeline, seg: p.segNo } : undefined;
}

type Less = (a: string, b: string) => boolean;

/** Builds WAL-G's "less" on object names: by timeline then segment, or by backup start time (--use-sentinel-time). */
function makeLess(segmentSize: number, startTimes?: Map<string, number>): Less {
  const pos = (n: string) => timelineAndSegment(n, segmentSize);
  const tlSegLess: Less = (a, b) => {
    const x = pos(a); const y = pos(b);
    return !!x && !!y && (x.tl < y.tl || (x.tl === y.tl && x.seg < y.seg));
  };
  if (!startTimes) return tlSegLess;
  // compat: non-backup objects (WAL) compare by segment number only, ignoring the timeline.
  const segLess: Less = (a, b) => { const x = pos(a); const y = pos(b); return !!x && !!y && x.seg < y.seg; };
  return (a, b) => {
    const na = BACKUP_NAME_IN.exec(a)?.[0];
    const nb = BACKUP_NAME_IN.exec(b)?.[0];
    if (!na || !nb) return segLess(a, b);
    const ta = startTimes.get(na); const tb = startTimes.get(nb);
    return ta !== undefined && tb !== undefined && ta < tb;
  };
}

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
  /** WAL ranges permanent backups need, per timeline: [first, last] segment numbers. */
  walRanges: Array<{ tl: number; first: number; last: number }>;
}

function computePermanence(backups: readonly RetentionBackup[], segmentSize: number): Permanence {
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
  const seg = BigInt(segmentSize);
  const walRanges: Permanence['walRanges'] = [];
  for (const name of keep) {
    const b = byName.get(name);
    const fromName = timelineAndSegment(name, segmentSize);
    if (!fromName) continue; // not a PG name: nothing to map to WAL (WAL-G logs and ignores it too)
    // compat: WAL-G keeps segments (start_lsn-1)/size ..= (finish_lsn-1)/size on the timeline from the name.
    // The name's own segment is included as well (remote backups name the start without the -1).
    let first = fromName.seg;
    let last = fromName.seg;
    if (b && b.startLsn > 0n) first = Math.min(first, Number((b.startLsn - 1n) / seg));
    if (b && b.finishLsn > 0n) last = Math.max(last, Number((b.finishLsn - 1n) / seg));
    walRanges.push({ tl: fromName.tl, first, last });
  }
  return { backups: keep, flagged, walRanges };
}

function isPermanentObject(key: string, perm: Permanence, segmentSize: number): boolean {
  if (key.startsWith(WAL_PATH) && key.length >= WAL_PATH.length + 24) {
    // compat: a WAL object is permanent when its first 24 characters name a protected segment (so .partial,
    // .backup and _delta objects of that segment are kept as well).
    const p = tryParseWalName(key.slice(WAL_PATH.length, WAL_PATH.length + 24), segmentSize);
    return !!p && perm.walRanges.some((r) => r.tl === p.timeline && p.segNo >= r.first && p.segNo <= r.last);
  }
  if (key.startsWith(BASEBACKUPS_PATH)) return perm.backups.has(leftmostBackupName(key.slice(BASEBACKUPS_PATH.length)));
  return false;
}

/** Go's %v of map[PermanentObject]bool, for the "Found permanent objects" line. */
function permanentObjectsLine(perm: Permanence, segmentSize: number, storageName: string): string {
  const backups = [...perm.backups].sort().map((n) => `{${n} ${storageName}}:true`);
  const wals: string[] = [];
  for (const r of perm.walRanges) {
    if (r.last - r.first > 1000) { wals.push(`{${formatWalName(r.tl, r.first, segmentSize)}..${formatWalName(r.tl, r.last, segmentSize)} ${storageName}}:true`); continue; }
    for (let s = r.first; s <= r.last; s++) wals.push(`{${formatWalName(r.tl, s, segmentSize)} ${storageName}}:true`);
  }
  return `Found permanent objects: backups=map[${backups.join(' ')}], wals=map[${[...new Set(wals)].sort().join(' ')}]`;
}

// ---------------------------------------------------------------------------------------------------------------
// The planner

interface Ctx {
  input: RetentionInput;
  segmentSize: number;
  less: Less;
  perm: Permanence;
  messages: PlanMessage[];
  /** Records a message (and forwards it to input.onMessage). */
  say: (m: PlanMessage) => void;
  /** The backup's "time": sentinel LastModified, or its start time with --use-sentinel-time. */
  timeOf: (b: RetentionBackup) => number;
  storageName: string;
}

function makeCtx(input: RetentionInput, storageName: string, useSentinelTime: boolean): Ctx {
  const segmentSize = input.segmentSize ?? DEFAULT_WAL_SEGMENT_SIZE;
  const messages: PlanMessage[] = [];
  const say = (m: PlanMessage) => { messages.push(m); input.onMessage?.(m); };
  const perm = computePermanence(input.backups, segmentSize);
  say({ level: 'info', text: 'retrieving permanent objects' });
  if (perm.backups.size > 0) say({ level: 'info', text: permanentObjectsLine(perm, segmentSize, storageName) });
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
    input, segmentSize, perm, messages, say, storageName,
    less: makeLess(segmentSize, startTimes),
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

/** compat: getBeforeChoiceFunc — the newest backup whose sentinel name starts with `name` (FIND_FULL: its full). */
function beforeNameTarget(c: Ctx, name: string, modifier: DeleteModifier): RetentionBackup {
  let met = false;
  for (const b of newestFirst(c)) {
    met = met || sentinelName(b).startsWith(name);
    if (modifier === 'FIND_FULL' ? met && b.isFull : met) return b;
  }
  // compat: WAL-G fails with its bare errNotFound ("not found"); the name is added for the operator.
  throw new BackupNotFoundError(met ? `not found: no full backup before '${name}'` : `not found: no backup named '${name}'`);
}

/** compat: FindTargetBeforeTime — the oldest backup taken at or after `time`, then as by name. */
function beforeTimeTarget(c: Ctx, time: Date, modifier: DeleteModifier): RetentionBackup | undefined {
  const t = time.getTime();
  const potential = sortedOldestFirst(c).find((b) => c.timeOf(b) >= t);
  return potential ? beforeNameTarget(c, sentinelName(potential), modifier) : undefined;
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

function sentinelBackupName(key: string): string | undefined {
  if (!key.startsWith(BASEBACKUPS_PATH) || !key.endsWith(SENTINEL_SUFFIX)) return undefined;
  const rel = key.slice(BASEBACKUPS_PATH.length);
  return rel.includes('/') ? undefined : rel.slice(0, -SENTINEL_SUFFIX.length);
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
function checkDependencies(c: Ctx, plan: DeletePlan): void {
  const deleted = new Set(plan.deletedBackups);
  const byName = new Map(c.input.backups.map((b) => [b.name, b]));
  for (const b of c.input.backups) {
    if (deleted.has(b.name)) continue;
    const seen = new Set<string>();
    for (let p = b.deltaFrom; p !== undefined && !seen.has(p); p = byName.get(p)?.deltaFrom) {
      seen.add(p);
      if (deleted.has(p)) {
        throw new DeleteRefusedError(`backup ${b.name} depends on ${p}, which this delete would remove; `
          + `refusing (delete ${b.name} too, e.g. with a later target or FIND_FULL)`);
      }
    }
  }
}

/**
 * compat: DeleteBeforeTargetWhere — the target must be a full backup; every object that sorts before it and is
 * not permanent (and passes `scope`) is deleted: older backups' sentinels and folders, leftover folders, WAL.
 */
function deleteBefore(c: Ctx, target: RetentionBackup, scope: (key: string) => boolean = () => true): DeletePlan {
  if (!target.isFull) {
    // compat: WAL-G prints the sentinel object's name here.
    throw new DeleteRefusedError(`${sentinelName(target)} is incremental and it's predecessors cannot be deleted. Consider FIND_FULL option.`);
  }
  c.say({ level: 'info', text: 'Start delete' });
  const t = sentinelName(target);
  const plan = markObjects(emptyPlan(c, true, target.name), c.input.objects,
    (key) => scope(key) && c.less(key, t) && !isPermanentObject(key, c.perm, c.segmentSize));
  checkDependencies(c, plan);
  return plan;
}

/** `delete retain [FULL|FIND_FULL] N [--after name|time]`: keeps the newest N (and everything after --after). */
export function planRetain(input: RetentionInput, opts: { count: number; modifier: DeleteModifier; after?: string; storageName?: string }): DeletePlan {
  if (!(opts.count > 0)) throw new UsageError('cannot retain less than one backup. Check out delete everything');
  const c = makeCtx(input, opts.storageName ?? 'default', !!input.useSentinelTime);
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
export function planBefore(input: RetentionInput, opts: { target: string; modifier: DeleteModifier; storageName?: string }): DeletePlan {
  if (opts.modifier === 'FULL') throw new DeleteRefusedError("Not allowed modifier for 'delete before'");
  const now = input.now ?? new Date();
  const time = parseRfc3339(opts.target);
  if (time && time.getTime() > now.getTime()) throw new UsageError('cannot delete before future date');
  const c = makeCtx(input, opts.storageName ?? 'default', !!input.useSentinelTime);
  const target = time ? beforeTimeTarget(c, time, opts.modifier) : beforeNameTarget(c, opts.target, opts.modifier);
  if (!target) {
    c.say({ level: 'info', text: 'No backup found for deletion' });
    return emptyPlan(c, false);
  }
  return deleteBefore(c, target);
}

/** `delete everything [FORCE]`: every object in the storage; refused while permanent backups exist unless FORCE. */
export function planEverything(input: RetentionInput, opts: { force: boolean; storageName?: string }): DeletePlan {
  const c = makeCtx(input, opts.storageName ?? 'default', false);
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
export function planTarget(input: RetentionInput, opts: { name?: string; userData?: unknown; findFull: boolean; storageName?: string }): DeletePlan {
  const c = makeCtx(input, opts.storageName ?? 'default', !!input.useSentinelTime);
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
export function planGarbage(input: RetentionInput, opts: { scope: 'ALL' | 'ARCHIVES' | 'BACKUPS'; withoutBackupCheck?: boolean; storageName?: string }): DeletePlan {
  // compat: garbage always orders by timeline and segment (WAL-G passes useSentinelTime=false).
  const c = makeCtx(input, opts.storageName ?? 'default', false);
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
    const plan = markObjects(emptyPlan(c, true), input.objects, (k) => scope(k) && !isPermanentObject(k, c.perm, c.segmentSize));
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

/** Deletion order: sentinels first, so an interrupted delete never leaves a listed backup without its data. */
export function deletionOrder(keys: readonly string[]): string[] {
  const sentinels = keys.filter((k) => sentinelBackupName(k) !== undefined);
  const rest = keys.filter((k) => sentinelBackupName(k) === undefined);
  return [...sentinels, ...rest];
}
