// `wal-g mysql binlog-find [-g <gtid set>]`: logs the last archived binlog before the GTID set (default: the
// server's executed set), as WAL-G's binlog-find does (compat: internal/databases/mysql/binlog_find_handler.go).

import type { CommandContext } from '../context.ts';
import { UsageError, describeError } from '../../core/errors.ts';
import { log } from '../../core/log.ts';
import { parseGtidSet } from '../../mysql/binlog.ts';
import type { GtidSet } from '../../mysql/binlog.ts';
import { lastUploadedBinlogBeforeGtid } from '../../mysql/binlog-storage.ts';
import { connectMysql } from '../../mysql/connection.ts';
import { mysqlConnection } from './settings.ts';

/** CLI entry of binlog-find. */
export async function run(ctx: CommandContext, opts: { gtid?: string }): Promise<void> {
  ctx.config.require('WALG_MYSQL_DATASOURCE_NAME');
  const session = await connectMysql(mysqlConnection(ctx.config));
  let gtid: GtidSet;
  try {
    const flavor = await session.flavor();
    if (opts.gtid) {
      try { gtid = parseGtidSet(flavor, opts.gtid); } catch (err) {
        throw new UsageError(`failed to parse GTID set '${opts.gtid}': ${describeError(err)}`);
      }
    } else {
      gtid = await session.gtidExecuted(flavor);
    }
  } finally {
    await session.close();
  }
  log.info(await lastUploadedBinlogBeforeGtid(await ctx.storage(), await ctx.crypter(), gtid, ctx.signal));
}
