// Settings shared by the PostgreSQL WAL commands, read and validated once per run.

import type { CommandContext } from '../context.ts';
import { ConfigError } from '../../core/errors.ts';
import { log } from '../../core/log.ts';

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

/** compat: WAL-G's WalMetadataLevels, matched exactly. */
export const WAL_METADATA_LEVELS = ['BULK', 'INDIVIDUAL', 'NOMETADATA'] as const;

/**
 * WALG_UPLOAD_WAL_METADATA, validated as WAL-G validates it on every wal-push (a wrong value fails the push);
 * a level other than NOMETADATA is accepted and logged once as not acted on (no WAL metadata is uploaded).
 */
export function checkWalMetadataLevel(ctx: CommandContext): void {
  const level = ctx.config.get('WALG_UPLOAD_WAL_METADATA');
  if (!(WAL_METADATA_LEVELS as readonly string[]).includes(level)) {
    throw new ConfigError(`got incorrect Wal metadata  level: '${level}', expected one of: '[${WAL_METADATA_LEVELS.join(' ')}]'`);
  }
  if (level !== 'NOMETADATA') log.warn('WALG_UPLOAD_WAL_METADATA is not supported by this build; no WAL metadata is uploaded');
}
