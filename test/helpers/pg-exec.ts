// Shared helpers of the PostgreSQL integration tests and bench/wal.ts: client tools run as the cluster user with
// stdin closed (cheap to poll often), polling with a deadline, and a fingerprint of the pgbench tables.

import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { pgIdentity, PG_BIN } from '../servers/postgres.ts';
import type { PgCluster } from '../servers/postgres.ts';

/** Runs `cmd args` as the cluster user; resolves to stdout, rejects with the stderr tail on a non-zero exit. */
export function execAs(cmd: string, args: string[], env: Record<string, string> = {}): Promise<string> {
  const id = pgIdentity();
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      uid: id.uid, gid: id.gid, cwd: '/tmp', stdio: ['ignore', 'pipe', 'pipe'],
      env: { PATH: `${PG_BIN}:${process.env.PATH}`, HOME: id.home, LC_ALL: 'C', ...env },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c) => { stdout += c; });
    child.stderr.on('data', (c) => { stderr += c; });
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(stdout)
      : reject(new Error(`${cmd} ${args.join(' ')} exited ${code}: ${stderr.trim().slice(-2000)}`))));
  });
}

/** psql -At -c `query` against the cluster; returns trimmed stdout. */
export async function sql(c: PgCluster, query: string): Promise<string> {
  return (await execAs(join(PG_BIN, 'psql'), ['-X', '-v', 'ON_ERROR_STOP=1', '-At', '-d', 'postgres', '-c', query], c.env)).trim();
}

/** pgbench with the given arguments against database postgres. */
export async function pgbench(c: PgCluster, args: string[]): Promise<void> {
  await execAs(join(PG_BIN, 'pgbench'), [...args, 'postgres'], c.env);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `fn` every 250 ms until it returns a truthy value; throws naming `what` after `ms`. */
export async function until<T>(what: string, ms: number, fn: () => Promise<T | undefined | false>): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(250);
  }
}

/** Data fingerprint of the pgbench tables: balances, counts and an md5 over pgbench_history in a fixed order. */
export async function fingerprint(c: PgCluster): Promise<string> {
  return sql(c, `select (select sum(abalance)||'/'||count(*) from pgbench_accounts)
    ||' '||(select sum(bbalance) from pgbench_branches)||' '||(select sum(tbalance) from pgbench_tellers)
    ||' '||(select count(*)||'/'||md5(coalesce(string_agg(tid||','||bid||','||aid||','||delta||','||mtime, ';'
      order by tid, bid, aid, mtime, delta), '')) from pgbench_history)`);
}

/**
 * Switches WAL and waits until the archiver has archived the switched segment, asserting failed_count stays 0.
 * Returns the switch LSN, that segment's name and pg_stat_archiver.archived_count.
 */
export async function switchAndWaitForArchiver(c: PgCluster): Promise<{ switchLsn: string; lastSeg: string; count: number }> {
  const switchLsn = await sql(c, 'select pg_switch_wal()');
  const lastSeg = await sql(c, `select pg_walfile_name('${switchLsn}')`);
  const { count } = await until('the archiver to reach the last segment', 120_000, async () => {
    const row = await sql(c, 'select last_archived_wal, failed_count, archived_count from pg_stat_archiver');
    const [last, failed, archived] = row.split('|');
    if (failed !== '0') throw new Error(`archiving failed: ${row}`);
    return last === lastSeg ? { count: Number(archived) } : undefined;
  });
  return { switchLsn, lastSeg, count };
}
