// Pure planner for the MySQL/MariaDB `delete retain|before|everything|target` (compat: internal/databases/mysql/
// delete.go on top of internal/delete_handler.go): backups are ordered by the time in their stream_<time> name,
// the target's older backups go, permanent backups (sentinel IsPermanent) stay. Binlogs: WAL-G deletes those
// uploaded before the target backup's name time; this planner keeps, in addition, every binlog a kept backup
// replays from (its BinLogStart and later, i.e. LastModified at or after its binlog since-time), so
// `binlog-replay --since <kept backup>` always finds what it needs. Argument parsing is shared with PostgreSQL.

import { UsageError } from '../core/errors.ts';
import { BASEBACKUPS_PATH, BINLOG_PATH, backupNameFromSentinel, sentinelKey } from '../backup/layout.ts';
import { BackupNotFoundError, DeleteRefusedError, parseRfc3339 } from '../backup/retention.ts';
import type { DeleteModifier, DeletePlan, MarkedObject, PlanMessage } from '../backup/retention.ts';
import { STREAM_BACKUP_NAME_LENGTH } from './sentinel.ts';

/** A finished MySQL backup as the planner sees it. */
export interface MysqlRetentionBackup {
  name: string;
  /** LastModified of the sentinel (compat: GetBackupTime for `delete before <time>`). */
  modified: Date;
  /** Sentinel IsPermanent. */
  permanent: boolean;
  /** Where binlog replay from this backup starts (binlogSinceTime). */
  binlogSince: Date;
}

/** One stored object. */
export interface MysqlObject { key: string; lastModified: Date }

/** The storage snapshot a plan is computed from. */
export interface MysqlRetentionInput {
  backups: readonly MysqlRetentionBackup[];
  objects: readonly MysqlObject[];
  now?: Date;
  onMessage?: (m: PlanMessage) => void;
}

/** compat: utility.BackupTimeFormat of a time: "20060102T150405Z" (UTC, seconds). */
export function backupTimeString(d: Date): string {
  return `${d.toISOString().slice(0, 19).replace(/[-:]/g, '')}Z`;
}

const TIME_IN_NAME = /[0-9]{8}T[0-9]{6}Z/;

/** compat: makeLessFunc's key — the first YYYYMMDDTHHMMSSZ in the name, else the LastModified in that format. */
export function objectTime(key: string, lastModified: Date): string {
  return TIME_IN_NAME.exec(key)?.[0] ?? backupTimeString(lastModified);
}

/** compat: internal.IsPermanent — an object under basebackups_005/<permanent backup name>. */
function isPermanentKey(key: string, permanent: ReadonlySet<string>): boolean {
  if (!key.startsWith(BASEBACKUPS_PATH) || key.length < BASEBACKUPS_PATH.length + STREAM_BACKUP_NAME_LENGTH) return false;
  return permanent.has(key.slice(BASEBACKUPS_PATH.length, BASEBACKUPS_PATH.length + STREAM_BACKUP_NAME_LENGTH));
}

interface Ctx {
  input: MysqlRetentionInput;
  messages: PlanMessage[];
  say: (m: PlanMessage) => void;
  permanent: Set<string>;
  /** Backups oldest first by name time (ties: sentinel time, name). */
  ordered: MysqlRetentionBackup[];
  backupTime: (b: MysqlRetentionBackup) => string;
}

function makeCtx(input: MysqlRetentionInput): Ctx {
  const messages: PlanMessage[] = [];
  const say = (m: PlanMessage) => { messages.push(m); input.onMessage?.(m); };
  const backupTime = (b: MysqlRetentionBackup) => objectTime(b.name, b.modified);
  const ordered = [...input.backups].sort((a, b) => {
    const ta = backupTime(a); const tb = backupTime(b);
    return ta < tb ? -1 : ta > tb ? 1 : a.modified.getTime() - b.modified.getTime() || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
  });
  const permanent = new Set(input.backups.filter((b) => b.permanent).map((b) => b.name));
  if (permanent.size > 0) say({ level: 'info', text: `Found permanent backups=[${[...permanent].join(' ')}]` });
  return { input, messages, say, permanent, ordered, backupTime };
}

function plan(c: Ctx, evaluate: boolean, target?: string): DeletePlan {
  return { messages: c.messages, evaluate, target, marked: [], skipped: [], deletedBackups: [] };
}

function mark(p: DeletePlan, objects: readonly MysqlObject[], pick: (o: MysqlObject) => boolean): DeletePlan {
  const names = new Set<string>();
  for (const o of objects) {
    const m: MarkedObject = { key: o.key, display: o.key };
    if (pick(o)) {
      p.marked.push(m);
      const b = backupNameFromSentinel(o.key);
      if (b !== undefined && o.key.startsWith(BASEBACKUPS_PATH) && !o.key.slice(BASEBACKUPS_PATH.length).includes('/')) names.add(b);
    } else p.skipped.push(m);
  }
  p.deletedBackups = [...names];
  return p;
}

/**
 * compat: DeleteBeforeTarget — objects under basebackups_005/ older than the target (by name time) and not
 * permanent; binlogs uploaded before both the target's name time and the binlog since-time of every kept
 * non-permanent backup. Objects elsewhere (binlog_sentinel_005.json) are state, not history: kept.
 */
function deleteBefore(c: Ctx, target: MysqlRetentionBackup): DeletePlan {
  c.say({ level: 'info', text: 'Start delete' });
  const t = c.backupTime(target);
  const kept = c.ordered.filter((b) => c.backupTime(b) >= t && !b.permanent);
  let binlogCut = Date.parse(`${t.slice(0, 4)}-${t.slice(4, 6)}-${t.slice(6, 8)}T${t.slice(9, 11)}:${t.slice(11, 13)}:${t.slice(13, 15)}Z`);
  for (const b of kept) binlogCut = Math.min(binlogCut, b.binlogSince.getTime());
  return mark(plan(c, true, target.name), c.input.objects, (o) => {
    if (o.key.startsWith(BINLOG_PATH)) return o.lastModified.getTime() < binlogCut;
    if (!o.key.startsWith(BASEBACKUPS_PATH)) return false;
    return objectTime(o.key, o.lastModified) < t && !isPermanentKey(o.key, c.permanent);
  });
}

/** `delete retain [FULL|FIND_FULL] N`: keeps the newest N backups (all stream backups are full). */
export function planMysqlRetain(input: MysqlRetentionInput, opts: { count: number; modifier: DeleteModifier }): DeletePlan {
  if (!(opts.count > 0)) throw new UsageError('cannot retain less than one backup. Check out delete everything');
  const c = makeCtx(input);
  const target = c.ordered.length >= opts.count ? c.ordered[c.ordered.length - opts.count] : undefined;
  if (!target) {
    c.say({ level: 'info', text: 'No backup found for deletion' });
    return plan(c, false);
  }
  return deleteBefore(c, target);
}

/** `delete before [FIND_FULL] name|time`: everything older than the named backup, or than the first one at/after time. */
export function planMysqlBefore(input: MysqlRetentionInput, opts: { target: string; modifier: DeleteModifier }): DeletePlan {
  if (opts.modifier === 'FULL') throw new DeleteRefusedError("Not allowed modifier for 'delete before'");
  const now = input.now ?? new Date();
  const time = parseRfc3339(opts.target);
  if (time && time.getTime() > now.getTime()) throw new UsageError('cannot delete before future date');
  const c = makeCtx(input);
  const target = time
    ? c.ordered.find((b) => b.modified.getTime() >= time.getTime())
    : [...c.ordered].reverse().find((b) => b.name.startsWith(opts.target));
  if (!target) {
    c.say({ level: 'info', text: 'No backup found for deletion' });
    return plan(c, false);
  }
  return deleteBefore(c, target);
}

/** `delete everything [FORCE]`: every object; refused while permanent backups exist unless FORCE. */
export function planMysqlEverything(input: MysqlRetentionInput, opts: { force: boolean }): DeletePlan {
  const c = makeCtx(input);
  if (c.permanent.size > 0 && !opts.force) throw new DeleteRefusedError(`Found permanent backups=[${[...c.permanent].join(' ')}]`);
  return mark(plan(c, true), input.objects, () => true);
}

/** `delete target [FIND_FULL] name|LATEST`: one backup's objects (never binlogs); refused for a permanent one. */
export function planMysqlTarget(input: MysqlRetentionInput, opts: { name: string }): DeletePlan {
  const c = makeCtx(input);
  let target: MysqlRetentionBackup | undefined;
  if (opts.name === 'LATEST') {
    target = c.ordered.at(-1);
    if (!target) throw new BackupNotFoundError('No backups found');
  } else {
    target = input.backups.find((b) => b.name === opts.name);
    if (!target) throw new BackupNotFoundError(`Backup '${opts.name}' does not exist.`);
  }
  if (target.permanent) throw new DeleteRefusedError(`Unable to delete permanent backup ${target.name}`);
  const name = target.name;
  return mark(plan(c, true, name), input.objects, (o) => o.key.startsWith(BASEBACKUPS_PATH)
    && (o.key === sentinelKey(name) || o.key.startsWith(`${BASEBACKUPS_PATH}${name}/`)));
}
