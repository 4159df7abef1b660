// `wal-g copy --from <config> --to <config> [-b backup|LATEST] [-w]`: copies backups (and their WAL) between two
// storages described by two config files, byte for byte, resumable, sentinels last (src/backup/copy.ts plans it,
// src/storage/transfer.ts executes it).

import type { CommandContext } from '../context.ts';
import { loadConfig } from '../../config/load.ts';
import { UsageError } from '../../core/errors.ts';
import { log } from '../../core/log.ts';
import type { Storage } from '../../storage/types.ts';

/** Flags of copy (names as commander gives them). */
export interface CopyFlags {
  from?: string; to?: string; backupName?: string; withHistory?: boolean;
  /** Standalone backups (Redis): each backup's objects and sentinel, no WAL and no delta chain. */
  standalone?: boolean;
  /** MySQL backups: incremental chains, and with -w the binlogs from the backups' BinLogStart (src/mysql/copy-plan.ts). */
  mysql?: boolean;
}

// compat: each side's storage comes only from its own file (storage prefixes in the environment are ignored);
// other storage settings fall back to the environment as WAL-G's loadSettings does.
async function storageFromConfigFile(path: string, name: string): Promise<Storage> {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^WAL[EG]_[A-Z]+_PREFIX$/.test(k)));
  const config = await loadConfig({ env, configPath: path });
  for (const w of config.warnings) log.warn(`${path}: ${w}`);
  const { openStorage } = await import('../../storage/registry.ts');
  return openStorage(config, name);
}

/** Runs copy. Throws (exit 1) on a missing backup, a missing WAL segment, a conflicting target object or any I/O error. */
export async function run(ctx: CommandContext, flags: CopyFlags): Promise<void> {
  if (!flags.from || !flags.to) throw new UsageError('required flag(s) "from", "to" not set');
  const from = await storageFromConfigFile(flags.from, 'from');
  const to = await storageFromConfigFile(flags.to, 'to');
  try {
    const { inventory, executePlan } = await import('../../storage/transfer.ts');
    const { pgCopyPlan, standaloneCopyPlan } = await import('../../backup/copy.ts');
    const { resolveBackup } = await import('../../backup/sentinel.ts');
    const source = await inventory(from, '', ctx.signal);
    const latest = async () => (await resolveBackup(from, 'LATEST')).name;
    const plan = flags.mysql
      ? await (await import('../../mysql/copy-plan.ts')).mysqlCopyPlan(from, source, flags.backupName ?? '', flags.withHistory ?? false, ctx.signal)
      : flags.standalone
      ? await standaloneCopyPlan(source, flags.backupName ?? '', latest)
      : await pgCopyPlan(from, source, flags.backupName ?? '', flags.withHistory ?? false, { latest });
    const { copied, skipped } = await executePlan(from, to, plan, { signal: ctx.signal });
    log.info(`Copied ${copied} objects, ${skipped} already present.`);
    log.info('Success copy.');
  } finally {
    await from.close();
    await to.close();
  }
}
