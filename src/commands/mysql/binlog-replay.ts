// `wal-g mysql binlog-replay [--since <backup|LATEST>] [--until <time>] [--until-binlog-last-modified-time <t>]`:
// fetches the binlogs like binlog-fetch and runs WALG_MYSQL_BINLOG_REPLAY_COMMAND once per binlog, in upload
// order, with WALG_MYSQL_CURRENT_BINLOG (the file) and WALG_MYSQL_BINLOG_END_TS (--until in local time,
// "YYYY-MM-DD hh:mm:ss", for mysqlbinlog --stop-datetime) in its environment; each file is removed once replayed.

import { mkdir, rm } from 'node:fs/promises';
import type { CommandContext } from '../context.ts';
import { WalgError, describeError } from '../../core/errors.ts';
import { log } from '../../core/log.ts';
import { fetchBinlogs } from '../../mysql/binlog-storage.ts';
import { runShell } from '../../backup/command.ts';
import { binlogWindow } from './binlog-window.ts';
import type { BinlogWindowOptions } from './binlog-window.ts';

/** compat: TimeMysqlFormat ("2006-01-02 15:04:05") in the local zone. */
export function mysqlLocalTime(d: Date): string {
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${p(d.getFullYear(), 4)}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

/** CLI entry of binlog-replay. */
export async function run(ctx: CommandContext, opts: BinlogWindowOptions): Promise<void> {
  const command = ctx.config.require('WALG_MYSQL_BINLOG_REPLAY_COMMAND');
  const dst = ctx.config.require('WALG_MYSQL_BINLOG_DST');
  const storage = await ctx.storage();
  const { start, end, endBinlog } = await binlogWindow(storage, opts, ctx.signal);
  await mkdir(dst, { recursive: true });
  const endTs = mysqlLocalTime(end);
  log.info(`Fetching binlogs since ${start.toISOString()} until ${end.toISOString()}`);
  await fetchBinlogs({
    storage, crypter: await ctx.crypter(), dstDir: dst, start, end, endBinlog, signal: ctx.signal,
    handle: async (path, b) => {
      log.info(`replaying ${b.name} ...`);
      const env = { ...process.env, WALG_MYSQL_CURRENT_BINLOG: path, WALG_MYSQL_BINLOG_END_TS: endTs };
      const cmd = runShell(command, { what: 'binlog replay command', env, stdout: 'stderr', stderr: 'inherit', signal: ctx.signal });
      try { await cmd.done; } catch (err) {
        throw new WalgError(`Failed to apply binlogs: failed to replay ${b.name}: ${describeError(err)}`, { cause: err });
      } finally {
        await rm(path, { force: true });
      }
    },
  });
}
