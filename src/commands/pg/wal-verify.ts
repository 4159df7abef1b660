// `wal-g wal-verify <integrity|timeline>... [--json] [--timeline N --lsn X/Y] [--backup-name NAME]`: checks the WAL
// archive and prints the result. compat: the exit code is 0 whatever the status; monitoring parses the output.

import type { CommandContext } from '../context.ts';
import { UsageError } from '../../core/errors.ts';
import { WAL_VERIFY_CHECKS, queryCurrentWalSegment, renderWalVerifyJson, renderWalVerifyTable, segmentFromLsn, walVerify } from '../../pg/wal/verify.ts';
import type { WalVerifyCheck } from '../../pg/wal/verify.ts';
import { walSegmentSizeFromConfig } from '../../pg/wal-name.ts';
import { positiveConcurrency } from './settings.ts';

/** Flags of wal-verify. */
export interface WalVerifyFlags { json?: boolean; timeline?: string; lsn?: string; backupName?: string }

/**
 * compat: the argument checks of WAL-G's wal-verify (cobra Args): at least one check, only known checks, and
 * --timeline and --lsn only together. Returns the checks without duplicates; throws UsageError.
 */
export function validateArgs(checks: readonly string[], flags: WalVerifyFlags): WalVerifyCheck[] {
  if (checks.length < 1) {
    throw new UsageError(`at least one of the following checks should be specified: ${WAL_VERIFY_CHECKS.join(', ')}`);
  }
  for (const c of checks) {
    if (!(WAL_VERIFY_CHECKS as readonly string[]).includes(c)) throw new UsageError(`invalid check specified: ${c}`);
  }
  if (flags.lsn !== undefined && flags.timeline === undefined) throw new UsageError('"--lsn" flag works only in conjunction with the "--timeline" flag');
  if (flags.lsn === undefined && flags.timeline !== undefined) throw new UsageError('"--timeline" flag works only in conjunction with the "--lsn" flag');
  return WAL_VERIFY_CHECKS.filter((c) => checks.includes(c));
}

/** compat: --timeline is a uint32 flag. */
function parseTimeline(v: string): number {
  const t = v.trim();
  const n = /^0[xX][0-9a-fA-F]+$/.test(t) ? Number.parseInt(t, 16) : /^\d+$/.test(t) ? Number(t) : Number.NaN;
  if (!Number.isSafeInteger(n) || n > 0xffffffff) throw new UsageError(`invalid argument "${v}" for "--timeline" flag: invalid syntax`);
  return n;
}

/** Runs the checks and prints the results (a table, or JSON with --json). */
export async function run(ctx: CommandContext, checks: readonly string[], flags: WalVerifyFlags): Promise<void> {
  const selected = validateArgs(checks, flags);
  const segmentSize = walSegmentSizeFromConfig(ctx.config);
  const uploadConcurrency = positiveConcurrency(ctx, 'WALG_UPLOAD_CONCURRENCY');
  const maxDelayedSegments = ctx.config.getInt('WALG_INTEGRITY_MAX_DELAYED_WALS');
  const storage = await ctx.storage();
  // Without --lsn the cluster tells where it is (compat: QueryCurrentWalSegment, before anything else).
  const current = flags.lsn !== undefined
    ? segmentFromLsn(parseTimeline(flags.timeline!), flags.lsn, segmentSize)
    : await queryCurrentWalSegment(segmentSize);
  const results = await walVerify(storage, {
    checks: selected, current, backupName: flags.backupName, segmentSize, uploadConcurrency, maxDelayedSegments,
    crypter: await ctx.crypter(), signal: ctx.signal, concurrency: ctx.config.getInt('WALG_DOWNLOAD_CONCURRENCY'),
  });
  process.stdout.write(flags.json ? renderWalVerifyJson(results) : renderWalVerifyTable(results));
}
