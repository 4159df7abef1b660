// `wal-g mysql binlog-fetch [--since <backup|LATEST>] [--until <time>] [--until-binlog-last-modified-time <time>]`:
// downloads the binlogs a point-in-time restore from the backup needs into WALG_MYSQL_BINLOG_DST and writes their
// order to WALG_MYSQL_BINLOG_DST/binlogs_order, one name a line (compat).

import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { CommandContext } from '../context.ts';
import { log } from '../../core/log.ts';
import { fetchBinlogs } from '../../mysql/binlog-storage.ts';
import { binlogWindow } from './binlog-window.ts';
import type { BinlogWindowOptions } from './binlog-window.ts';

/** CLI entry of binlog-fetch. */
export async function run(ctx: CommandContext, opts: BinlogWindowOptions): Promise<void> {
  const dst = ctx.config.require('WALG_MYSQL_BINLOG_DST');
  const storage = await ctx.storage();
  const { start, end, endBinlog } = await binlogWindow(storage, opts, ctx.signal);
  await mkdir(dst, { recursive: true });
  log.info(`Fetching binlogs since ${start.toISOString()} until ${end.toISOString()}`);
  const names: string[] = [];
  await fetchBinlogs({
    storage, crypter: await ctx.crypter(), dstDir: dst, start, end, endBinlog, signal: ctx.signal,
    handle: async (_path, b) => { names.push(b.name); },
  });
  await writeFile(join(dst, 'binlogs_order'), names.map((n) => `${n}\n`).join(''));
}
