// Settings shared by the PostgreSQL WAL commands, read and validated once per run.

import type { CommandContext } from '../context.ts';
import { ConfigError } from '../../core/errors.ts';

/**
 * compat: WAL-G's GetMaxConcurrency — a concurrency setting must be a positive integer; the message is WAL-G's.
 */
export function positiveConcurrency(ctx: CommandContext, name: 'WALG_UPLOAD_CONCURRENCY' | 'WALG_DOWNLOAD_CONCURRENCY'): number {
  const v = ctx.config.getInt(name);
  if (v < 1) throw new ConfigError(`${name} value is expected to be positive but is: ${v}`);
  return v;
}

/** The storage a WAL command uses: --target-storage, else WALG_TARGET_STORAGE, else the primary. */
export function targetStorageName(ctx: CommandContext, flag: string | undefined): string {
  return flag || ctx.config.get('WALG_TARGET_STORAGE') || 'default';
}
