// Shared helpers of the backup benchmarks (bench/backup.ts, bench/delta.ts): timing a command run as the cluster user
// with the peak RSS of its whole process tree, waiting for the archiver, and directory sizes.

import { spawn, execFileSync } from 'node:child_process';
import { chmodSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pgIdentity, PG_BIN } from '../test/servers/postgres.ts';
import type { PgCluster } from '../test/servers/postgres.ts';

/** Sum of VmRSS (KiB) of `pid` and every descendant. */
export function treeRssKb(pid: number): number {
  const children = new Map<number, number[]>();
  const rss = new Map<number, number>();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const status = readFileSync(`/proc/${d}/status`, 'utf8');
      const ppid = Number(/^PPid:\s+(\d+)/m.exec(status)?.[1]);
      const vm = Number(/^VmRSS:\s+(\d+)/m.exec(status)?.[1] ?? 0);
      rss.set(Number(d), vm);
      if (!children.has(ppid)) children.set(ppid, []);
      children.get(ppid)!.push(Number(d));
    } catch { /* process gone */ }
  }
  let total = 0;
  const stack = [pid];
  while (stack.length) {
    const p = stack.pop()!;
    total += rss.get(p) ?? 0;
    stack.push(...(children.get(p) ?? []));
  }
  return total;
}

export interface Measure { seconds: number; peakMb: number }

/** Runs a command as the cluster user, measuring wall time and peak tree RSS. Throws on a non-zero exit. */
export function measure(cmd: string, args: string[], env: Record<string, string>): Promise<Measure> {
  const id = pgIdentity();
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(cmd, args, {
      uid: id.uid, gid: id.gid, cwd: '/tmp',
      env: { PATH: `${PG_BIN}:/usr/bin:/bin`, HOME: id.home, LC_ALL: 'C', ...env }, stdio: ['ignore', 'ignore', 'pipe'],
    });
    let peak = 0;
    let err = '';
    child.stderr.on('data', (d: Buffer) => { err += d.toString(); });
    const timer = setInterval(() => { peak = Math.max(peak, treeRssKb(child.pid!)); }, 50);
    child.on('error', reject);
    child.on('close', (code) => {
      clearInterval(timer);
      const seconds = (performance.now() - t0) / 1000;
      if (code !== 0) reject(new Error(`${cmd} ${args.join(' ')} exited ${code}: ${err.slice(-3000)}`));
      else resolve({ seconds, peakMb: peak / 1024 });
    });
  });
}

/** Switches WAL and waits until the archiver has caught up (the backlog of pgbench -i must not be timed). */
export async function waitArchived(c: PgCluster): Promise<void> {
  const t0 = Date.now();
  const lsn = await c.psql('select pg_switch_wal()');
  const seg = await c.psql(`select pg_walfile_name('${lsn}')`);
  for (;;) {
    // compat note: last_archived_wal may be a .backup file archived after a later segment, so also look for .done.
    if ((await c.psql(`select (coalesce(left(last_archived_wal, 24), '') >= '${seg}') or exists (select 1 from pg_ls_archive_statusdir() where name = '${seg}.done') from pg_stat_archiver`)) === 't') return;
    // Failures are retried by the archiver; only give up if it makes no progress for a long time.
    if (Date.now() - t0 > 600_000) throw new Error('archiving stuck');
    await new Promise((r) => setTimeout(r, 200));
  }
}

export function dirSizeMb(dir: string): number {
  return Number(execFileSync('du', ['-sb', dir]).toString().split('\t')[0]) / 1e6;
}

/**
 * Writes the pgBackRest configuration both backup benchmarks use (posix repo in `work`, lz4, process-max 2, fast
 * start) for cluster `c`, and returns a builder of `pgbackrest` argument lists for stanza "bench".
 */
export function pgbackrestConfig(work: string, repo: string, c: PgCluster): { conf: string; args: (cmd: string, ...extra: string[]) => string[] } {
  const conf = join(work, 'pgbackrest.conf');
  writeFileSync(conf, [
    '[global]', `repo1-path=${repo}`, 'repo1-retention-full=100', 'compress-type=lz4', 'process-max=2', 'start-fast=y',
    `log-path=${join(work, 'pgbr-log')}`, `lock-path=${join(work, 'pgbr-lock')}`, `spool-path=${join(work, 'pgbr-spool')}`,
    'log-level-console=warn', 'log-level-file=off',
    '[bench]', `pg1-path=${c.dataDir}`, `pg1-socket-path=${c.socketDir}`, `pg1-port=${c.port}`, 'pg1-user=postgres', '',
  ].join('\n'));
  chmodSync(conf, 0o644);
  return { conf, args: (cmd, ...extra) => ['--config', conf, '--stanza=bench', ...extra, cmd] };
}
