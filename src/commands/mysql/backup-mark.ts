// `wal-g mysql backup-mark -b <backup_name> [-i]`: sets or clears IsPermanent in the backup's sentinel (MySQL
// backups keep permanence there; there is no metadata.json). Every other sentinel field is written back as read.

import type { CommandContext } from '../context.ts';
import { UsageError, WalgError } from '../../core/errors.ts';
import { log } from '../../core/log.ts';
import { readAll } from '../../storage/body.ts';
import type { Storage } from '../../storage/types.ts';
import { parseJsonExact, stringifyGo } from '../../backup/json.ts';
import { sentinelKey } from '../../backup/layout.ts';
import { resolveStreamBackup } from '../../mysql/catalog.ts';

/**
 * Rewrites IsPermanent in `backup`'s sentinel, keeping every other key (even ones this tool does not know) and
 * the existing spelling of the key. Returns false when it already had the wanted value (nothing written).
 */
export async function markStreamBackup(storage: Storage, backup: string, toPermanent: boolean, signal?: AbortSignal): Promise<boolean> {
  const name = (await resolveStreamBackup(storage, backup, signal)).name;
  const key = sentinelKey(name);
  const raw = parseJsonExact((await readAll(await storage.get(key, { signal }))).toString('utf8'));
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new WalgError(`${key}: not a JSON object`);
  const o = raw as Record<string, unknown>;
  const k = Object.keys(o).find((x) => x.toLowerCase() === 'ispermanent') ?? 'IsPermanent';
  if (o[k] === toPermanent) {
    log.warn(`Backup ${name} is already marked as ${toPermanent ? 'permanent' : 'impermanent'}, ignoring...`);
    return false;
  }
  o[k] = toPermanent;
  await storage.put(key, Buffer.from(stringifyGo(o)), { signal });
  return true;
}

/** CLI entry of backup-mark. */
export async function run(ctx: CommandContext, opts: { backup?: string; impermanent?: boolean }): Promise<void> {
  if (!opts.backup) throw new UsageError('backup name is required: backup-mark -b <backup_name>');
  log.info(`Retrieving previous related backups to be marked: toPermanent=${!opts.impermanent}`);
  const changed = await markStreamBackup(await ctx.storage(), opts.backup, !opts.impermanent, ctx.signal);
  if (changed) log.info(`Marked backup ${opts.backup} as ${opts.impermanent ? 'impermanent' : 'permanent'}`);
}
