// Argument parsing of `wal-g delete retain|before|everything|target|garbage`, shared by PostgreSQL and MySQL
// (compat: WAL-G's cobra validators and Extract*FromArgs, with their messages). Throws UsageError.

import { UsageError } from '../core/errors.ts';
import { goList, parseRfc3339 } from './retention.ts';
import type { DeleteModifier } from './retention.ts';

const MODIFIERS = ['FULL', 'FIND_FULL'];

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

