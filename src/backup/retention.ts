// Backup retention, the shared part (walg-features.md §1.1): the vocabulary of `wal-g delete` plans, WAL-G's typed
// refusals, the contract a database's retention rules fulfil (RetentionRules: how objects sort, which archive
// objects kept backups need), and the deletion order. The planners are in retention-plan.ts, argument parsing in
// retention-args.ts; PostgreSQL's rules (WAL) are in src/pg/basebackup/retention-wal.ts. No I/O here.

import { WalgError } from '../core/errors.ts';
import { BASEBACKUPS_PATH, SENTINEL_SUFFIX } from './layout.ts';

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

/** The first argument of retain/before/target: none, FULL (count full backups only) or FIND_FULL (extend to a full). */
export type DeleteModifier = 'NONE' | 'FULL' | 'FIND_FULL';

/** Go's %v of a string slice, as WAL-G's messages print lists: "[a b c]". */
export const goList = (xs: readonly string[]): string => `[${xs.join(' ')}]`;

/** WAL-G's "less" on object names (keys or sentinel names): true when `a` sorts before `b`. */
export type Less = (a: string, b: string) => boolean;

/**
 * What the archive (PostgreSQL: WAL) must keep for a set of kept backups. protects() is false for every key
 * outside the archive; describe() lists the protected objects in Go's %v form ("{<name> <storage>}:true"), sorted,
 * for the "Found permanent objects" line.
 */
export interface ArchiveProtection {
  protects(key: string): boolean;
  describe(storageName: string): string[];
}

/**
 * The database-specific rules the planners of retention-plan.ts apply.
 * - less(startTimes): the order of objects. With `startTimes` (backup name -> start ms, --use-sentinel-time) backups
 *   compare by start time; without, by what their names encode. Objects that cannot be placed never sort before.
 * - protectArchive(kept, byName): the archive objects that the backups named in `kept` need.
 */
export interface RetentionRules {
  less(startTimes?: ReadonlyMap<string, number>): Less;
  protectArchive(kept: ReadonlySet<string>, byName: ReadonlyMap<string, RetentionBackup>): ArchiveProtection;
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

/** The backup whose sentinel `key` is (a sentinel directly under basebackups_005/), or undefined. */
export function sentinelBackupName(key: string): string | undefined {
  if (!key.startsWith(BASEBACKUPS_PATH) || !key.endsWith(SENTINEL_SUFFIX)) return undefined;
  const rel = key.slice(BASEBACKUPS_PATH.length);
  return rel.includes('/') ? undefined : rel.slice(0, -SENTINEL_SUFFIX.length);
}

/** Deletion order: sentinels first, so an interrupted delete never leaves a listed backup without its data. */
export function deletionOrder(keys: readonly string[]): string[] {
  const sentinels = keys.filter((k) => sentinelBackupName(k) !== undefined);
  const rest = keys.filter((k) => sentinelBackupName(k) === undefined);
  return [...sentinels, ...rest];
}
