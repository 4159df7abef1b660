// Shared helpers of the backup benchmarks (bench/backup.ts, bench/delta.ts): timing a command run as the cluster user
// with the peak RSS of its whole process tree, waiting for the archiver, and directory sizes.

import { spawn, execFileSync } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { initCluster, pgIdentity, userTempDir, PG_BIN } from '../test/servers/postgres.ts';
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

export interface Measure {
  seconds: number;
  peakMb: number;
  /** CPU-seconds (user + system) of the command and every descendant it waited for. */
  cpuSeconds: number;
}

/**
 * CPU-seconds of this process's children that have been waited for (cutime + cstime of /proc/self/stat): the
 * difference across one measured command is that command's CPU, its own descendants included. Clock ticks are
 * 100 per second on Linux (USER_HZ).
 */
function childCpuSeconds(): number {
  const stat = readFileSync('/proc/self/stat', 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // After the command name: state is field 3, cutime 16 and cstime 17 (1-based, man 5 proc).
  return (Number(fields[16 - 3]) + Number(fields[17 - 3])) / 100;
}

const settled = new Set<string>();

/**
 * Puts a program's file in the page cache as an installed binary is: read from disk by the kernel's readahead.
 * RSS counts the mapped pages of the binary, and a file just written in one big write (as `make build` writes
 * dist/wal-g) sits in the page cache as large folios that are mapped whole: 114 MB instead of 73 for our start-up.
 * So every program is written back and evicted from the cache (posix_fadvise DONTNEED, through dd) and started once before it is
 * measured (again after it changed), ours and its peers alike.
 */
function settleBinary(cmd: string): void {
  const path = cmd.includes('/') ? cmd : `/usr/bin/${cmd}`;
  // Again whenever the file changed (a rebuild during a long bench writes it anew).
  const st = statSync(path);
  const key = `${path} ${st.ino} ${st.mtimeMs}`;
  if (settled.has(key)) return;
  settled.add(key);
  // Dirty pages cannot be dropped: write the file back first (sync FILE is fsync).
  execFileSync('sync', [path]);
  execFileSync('dd', [`if=${path}`, 'iflag=nocache', 'count=0', 'status=none']);
  try { execFileSync(path, ['--version'], { stdio: 'ignore' }); } catch { /* only the page cache matters */ }
}

/** Runs a command as the cluster user, measuring wall time and peak tree RSS. Throws on a non-zero exit. */
export function measure(cmd: string, args: string[], env: Record<string, string>): Promise<Measure> {
  const id = pgIdentity();
  settleBinary(cmd);
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const cpu0 = childCpuSeconds();
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
      else resolve({ seconds, peakMb: peak / 1024, cpuSeconds: childCpuSeconds() - cpu0 });
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

/** A pgbench cluster archived by both tools, ready for backup benchmarks (see startBenchCluster). */
export interface BenchCluster {
  work: string;
  c: PgCluster;
  walgStore: string;
  walgCfg: string;
  pgbrRepo: string;
  /** `pgbackrest` arguments for stanza "bench". */
  pgbr: (cmd: string, ...extra: string[]) => string[];
  /** Size of all databases after pgbench -i, MB. */
  dbMb: number;
  /** Stops the cluster and removes every file of the run. */
  destroy(): Promise<void>;
}

/**
 * Makes the setup both backup benchmarks share: a temp work dir owned by the cluster user, our file storage and a
 * pgBackRest posix repo in it, a PostgreSQL 15 cluster whose archive_command runs `bin wal-push` then
 * `pgbackrest archive-push` (both tools need the backup's WAL archived before their stop returns), the stanza,
 * and `pgbench -i -s scale` checkpointed and archived. On failure everything is removed again.
 */
export async function startBenchCluster(opts: {
  prefix: string; bin: string; scale: number; walgSettings?: Record<string, string>; clusterSettings?: Record<string, string>;
}): Promise<BenchCluster> {
  const work = userTempDir(opts.prefix);
  const id = pgIdentity();
  const walgStore = join(work, 'walg-store');
  const pgbrRepo = join(work, 'pgbackrest-repo');
  for (const d of [walgStore, pgbrRepo, join(work, 'pgbr-log'), join(work, 'pgbr-lock'), join(work, 'pgbr-spool')]) {
    mkdirSync(d, { recursive: true });
    chownSync(d, id.uid, id.gid);
  }
  const walgCfg = join(work, 'walg.json');
  writeFileSync(walgCfg, JSON.stringify({ WALG_FILE_PREFIX: walgStore, WALG_COMPRESSION_METHOD: 'lz4', ...opts.walgSettings }));
  chmodSync(walgCfg, 0o644);
  const c = await initCluster({
    archive_mode: 'on', max_wal_size: '4GB', checkpoint_timeout: '30min', shared_buffers: '256MB', ...opts.clusterSettings,
    archive_command: `${opts.bin} wal-push %p --config ${walgCfg} && pgbackrest --config=${join(work, 'pgbackrest.conf')} --stanza=bench archive-push %p`,
  });
  const destroy = async () => {
    await c.destroy();
    rmSync(work, { recursive: true, force: true });
  };
  try {
    const pgbr = pgbackrestConfig(work, pgbrRepo, c).args;
    await c.start();
    await measure('pgbackrest', pgbr('stanza-create'), {});
    console.log(`pgbench -i -s ${opts.scale} ...`);
    await c.pgbench(['-i', '-s', String(opts.scale), '-q']);
    await c.psql('checkpoint');
    await waitArchived(c);
    const dbMb = Number(await c.psql('select sum(pg_database_size(oid)) from pg_database')) / 1e6;
    return { work, c, walgStore, walgCfg, pgbrRepo, pgbr, dbMb, destroy };
  } catch (err) {
    await destroy();
    throw err;
  }
}
