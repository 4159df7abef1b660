// `wal-g st transfer files <prefix> | pg-wals | backups [name]`: moves objects from a failover storage (--source)
// to another (st --target, usually the primary), byte for byte. Exit 0 only when every file was moved.

import type { CommandContext } from '../context.ts';
import { ConfigError, UsageError, WalgError } from '../../core/errors.ts';
import { log } from '../../core/log.ts';
import { BASEBACKUPS_PATH, SENTINEL_SUFFIX, WAL_PATH } from '../../backup/layout.ts';
import type { MoveGroup } from '../../storage/transfer.ts';

/** Flags shared by the transfer subcommands (names as commander gives them), plus st's --target. */
export interface TransferFlags {
  target: string;
  source?: string;
  overwrite: boolean;
  preserve: boolean;
  failFast: boolean;
  concurrency: string;
  maxFiles?: string;
  appearanceChecks: string;
  appearanceChecksInterval: string;
  maxBackups?: string;
}

function positiveInt(name: string, v: string | undefined, fallback: number): number {
  if (v === undefined) return fallback;
  if (!/^\d+$/.test(v)) throw new UsageError(`--${name} must be a non-negative integer, got '${v}'`);
  return Number(v);
}

/** Which objects under `prefix` are missing at the target (all of them with --overwrite). */
async function missing(ctx: CommandContext, flags: TransferFlags, prefix: string): Promise<{ keys: string[]; from: import('../../storage/types.ts').Storage; to: import('../../storage/types.ts').Storage }> {
  if (!flags.source) throw new UsageError('required flag(s) "source" not set');
  if (flags.source === 'all' || flags.target === 'all') throw new UsageError("'all' storages are not supported by transfer");
  if (flags.source === flags.target) throw new ConfigError('source and target storages must be different');
  const from = await ctx.storage(flags.source);
  const to = await ctx.storage(flags.target);
  const { inventory } = await import('../../storage/transfer.ts');
  const [src, dst] = await Promise.all([inventory(from, prefix, ctx.signal), inventory(to, prefix, ctx.signal)]);
  log.info(`Total files in the source storage: ${src.size}`);
  const keys: string[] = [];
  for (const [k, size] of src) {
    const have = dst.get(k);
    if (have === undefined) { keys.push(k); continue; }
    if (!flags.overwrite) continue;
    if (have !== size) log.warn(`File present in both storages and its size is different: '${k}' (source ${size} bytes VS target ${have} bytes)`);
    keys.push(k);
  }
  log.info(`Files missing in the target storage: ${keys.length}`);
  return { keys: keys.sort(), from, to };
}

async function move(ctx: CommandContext, flags: TransferFlags, groups: MoveGroup[], from: import('../../storage/types.ts').Storage, to: import('../../storage/types.ts').Storage): Promise<void> {
  const { moveGroups } = await import('../../storage/transfer.ts');
  const { parseDurationMs } = await import('../../config/load.ts');
  const failed = await moveGroups(from, to, groups, {
    preserve: flags.preserve,
    failFast: flags.failFast,
    concurrency: Math.max(1, positiveInt('concurrency', flags.concurrency, 10)),
    appearanceChecks: positiveInt('appearance-checks', flags.appearanceChecks, 3),
    appearanceIntervalMs: parseDurationMs('--appearance-checks-interval', flags.appearanceChecksInterval),
    signal: ctx.signal,
  });
  if (failed > 0) throw new WalgError(`finished with ${failed} errors`);
}

/** st transfer files <prefix>: every missing object under the prefix, one by one. */
export async function runFiles(ctx: CommandContext, prefix: string, flags: TransferFlags): Promise<void> {
  const { keys, from, to } = await missing(ctx, flags, prefix.replace(/^\/+/, ''));
  const limited = keys.slice(0, positiveInt('max-files', flags.maxFiles, Number.MAX_SAFE_INTEGER));
  log.info(`Files will be transferred: ${limited.length}`);
  await move(ctx, flags, limited.map((k) => ({ data: [k] })), from, to);
}

/** st transfer pg-wals: the same as `files wal_005/`. */
export function runPgWals(ctx: CommandContext, flags: TransferFlags): Promise<void> {
  return runFiles(ctx, WAL_PATH, flags);
}

/** st transfer backups [name]: whole backups, data before the sentinel (and the sentinel deleted first). */
export async function runBackups(ctx: CommandContext, name: string | undefined, flags: TransferFlags): Promise<void> {
  const { keys, from, to } = await missing(ctx, flags, BASEBACKUPS_PATH);
  const backups = new Map<string, MoveGroup>();
  for (const k of keys) {
    const rel = k.slice(BASEBACKUPS_PATH.length);
    const slash = rel.indexOf('/');
    const backup = slash < 0 ? (rel.endsWith(SENTINEL_SUFFIX) ? rel.slice(0, -SENTINEL_SUFFIX.length) : undefined) : rel.slice(0, slash);
    if (!backup || (name && backup !== name)) continue;
    const g = backups.get(backup) ?? { data: [] };
    if (slash < 0) g.sentinel = k; else g.data.push(k);
    backups.set(backup, g);
  }
  const maxFiles = positiveInt('max-files', flags.maxFiles, Number.MAX_SAFE_INTEGER);
  const maxBackups = name ? 1 : positiveInt('max-backups', flags.maxBackups, Number.MAX_SAFE_INTEGER);
  const groups: MoveGroup[] = [];
  let files = 0;
  for (const [b, g] of [...backups].sort(([a], [c]) => (a < c ? -1 : 1))) {
    if (!g.sentinel) { log.info(`Skip incomplete backup without sentinel file: ${b}`); continue; }
    if (g.data.length === 0) { log.warn(`Backup doesn't have any data: ${b}`); continue; }
    if (files + g.data.length + 1 > maxFiles || groups.length >= maxBackups) break;
    files += g.data.length + 1;
    groups.push(g);
  }
  log.info(`Backups will be transferred: ${groups.length}`);
  log.info(`Files will be transferred: ${files}`);
  await move(ctx, flags, groups, from, to);
}
