// `make soak` (issue 21 acceptance 3): a long archive run with faults, and proof that nothing was lost. A
// PostgreSQL 15 cluster with 1 MiB WAL segments archives through `wal-g daemon` (dist/wal-g) and
// dist/walg-daemon-client as archive_command, while a writer commits rows and switches segments until SEGMENTS
// (default 10000) were archived. Every FAULT_EVERY segments one fault is injected, in turn: the storage made
// unwritable for 2 s, the daemon stopped (SIGSTOP) for 3 s, the daemon killed with -9 and restarted. A base
// backup is pushed every BACKUP_EVERY segments. At the end: wal-verify integrity must be OK with no lost segment,
// and the newest backup plus the archive must recover to the last committed row. Prints segments, backups,
// faults, gaps, restores checked, and the daemon's RSS and open file descriptors at its start and at the end.
// Usage: node test/soak/run.ts [segments]   (SOAK_FAULT_EVERY=500, SOAK_BACKUP_EVERY=2500)

import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { PgCluster, clusterFromDir, freePort, pgIdentity, runAs, userTempDir, writeUserFile, PG_BIN } from '../servers/postgres.ts';
import { WALG_BIN, walg, baseEnv } from '../helpers/cli.ts';
import { until } from '../helpers/pg-exec.ts';

const SEGMENTS = Number(process.argv[2] ?? 10_000);
const FAULT_EVERY = Number(process.env.SOAK_FAULT_EVERY ?? 500);
const BACKUP_EVERY = Number(process.env.SOAK_BACKUP_EVERY ?? 2500);
const CLIENT = join(dirname(WALG_BIN), 'walg-daemon-client');

/** VmRSS (MB) and open descriptors of a process. */
function usage(pid: number): { rssMb: number; fds: number } {
  const rss = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
  return { rssMb: Number(rss ?? 0) / 1024, fds: readdirSync(`/proc/${pid}/fd`).length };
}

class Daemon {
  proc!: ChildProcess;
  tail = '';
  readonly socket: string;
  readonly cfg: string;
  constructor(socket: string, cfg: string) { this.socket = socket; this.cfg = cfg; }
  async start(): Promise<void> {
    rmSync(this.socket, { force: true });
    const id = pgIdentity();
    this.proc = spawn(WALG_BIN, ['daemon', this.socket, '--config', this.cfg], {
      uid: id.uid, gid: id.gid, cwd: '/tmp', env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: id.home }, stdio: ['ignore', 'ignore', 'pipe'],
    });
    this.proc.stderr!.on('data', (c: Buffer) => { this.tail = (this.tail + c.toString()).slice(-4000); });
    await until('daemon socket', 30_000, async () => existsSync(this.socket));
  }
  async kill(): Promise<void> {
    const gone = new Promise((r) => this.proc.once('close', r));
    this.proc.kill('SIGKILL');
    await gone;
  }
}

async function main(): Promise<void> {
  const work = userTempDir('walg-soak-');
  chmodSync(work, 0o755);
  const id = pgIdentity();
  const store = join(work, 'store');
  mkdirSync(store);
  chownSync(store, id.uid, id.gid);
  const data = join(work, 'data');
  const cfg = join(work, 'walg.json');
  // PGDATA: the daemon resolves the relative pg_wal/<segment> paths PostgreSQL passes.
  writeFileSync(cfg, JSON.stringify({ WALG_FILE_PREFIX: store, WALG_COMPRESSION_METHOD: 'lz4', WALG_PG_WAL_SIZE: '1', PGDATA: data }));
  chmodSync(cfg, 0o644);
  mkdirSync(join(work, 'sock'));
  chownSync(join(work, 'sock'), id.uid, id.gid);
  await runAs(join(PG_BIN, 'initdb'), ['-k', '-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--locale=C', '--wal-segsize=1'], { cwd: work });
  const c = new PgCluster(work, data, await freePort());
  const daemon = new Daemon(join(work, 'walg.sock'), cfg);
  c.configure({
    fsync: 'off', wal_level: 'replica', archive_mode: 'on', max_wal_size: '64MB', min_wal_size: '2MB',
    archive_command: `${CLIENT} ${daemon.socket} wal-push %p`,
  });
  const t0 = Date.now();
  const faults = { unwritable: 0, stopped: 0, killed: 0 };
  let backups = 0;
  try {
    await daemon.start();
    await c.start();
    await c.psql('create table soak (id bigint primary key, at timestamptz default now())');
    const first = usage(daemon.proc.pid!);
    let instanceStart = first;
    let seg = 0;
    let id2 = 0;
    for (let s = 1; s <= SEGMENTS; s++) {
      id2 += 10;
      await c.psql(`insert into soak(id) select g from generate_series(${id2 - 9}, ${id2}) g; select pg_switch_wal()`);
      seg++;
      if (s % FAULT_EVERY === 0) {
        const kind = (s / FAULT_EVERY) % 3;
        if (kind === 1 && existsSync(join(store, "wal_005"))) {
          const wal = join(store, 'wal_005');
          chmodSync(wal, 0o500); // wal-push fails: PostgreSQL keeps the segment and retries
          await new Promise((r) => setTimeout(r, 2000));
          chmodSync(wal, 0o755);
          faults.unwritable++;
        } else if (kind === 2) {
          daemon.proc.kill('SIGSTOP');
          await new Promise((r) => setTimeout(r, 3000));
          daemon.proc.kill('SIGCONT');
          faults.stopped++;
        } else {
          await daemon.kill();
          await new Promise((r) => setTimeout(r, 1000));
          await daemon.start();
          instanceStart = usage(daemon.proc.pid!);
          faults.killed++;
        }
      }
      if (s % BACKUP_EVERY === 0) {
        const r = await walg(['backup-push', data, '--config', cfg], baseEnv(c.env));
        if (r.code !== 0) throw new Error(`backup-push at segment ${s}: ${r.stderr.slice(-2000)}`);
        backups++;
      }
      if (s === 20) {
        const a = await c.psql('select archived_count, failed_count, last_failed_wal from pg_stat_archiver');
        if (a.startsWith('0|')) throw new Error(`nothing archived after 20 segments (${a}): ${readFileSync(c.logFile, 'utf8').slice(-1500)} ${daemon.tail}`);
      }
      if (s % 1000 === 0) console.log(`${s} segments, ${((Date.now() - t0) / 1000).toFixed(0)} s, daemon ${JSON.stringify(usage(daemon.proc.pid!))}`);
    }
    const lastId = await c.psql('select max(id) from soak');
    const lastSeg = await c.psql('select pg_walfile_name(pg_current_wal_lsn())');
    await c.psql('select pg_switch_wal()');
    await until('archiving caught up', 300_000, async () =>
      (await c.psql(`select coalesce(left(last_archived_wal, 24), '') >= '${lastSeg}' from pg_stat_archiver`)) === 't');
    const end = usage(daemon.proc.pid!);
    const failed = await c.psql('select failed_count from pg_stat_archiver');
    const verify = await walg(['wal-verify', 'integrity', '--json', '--config', cfg], baseEnv(c.env));
    const integrity = (JSON.parse(verify.stdout.toString()) as { integrity: { status: string; details: { status: string; segments_count: number }[] } }).integrity;
    const gaps = integrity.details.filter((d) => d.status === 'MISSING_LOST').reduce((n, d) => n + d.segments_count, 0);
    await c.stop('fast');

    // The newest backup and the archive recover to the last committed row.
    const base = userTempDir('walg-soak-restore-');
    const rdata = join(base, 'data');
    let restores = 0;
    try {
      const f = await walg(['backup-fetch', rdata, 'LATEST', '--config', cfg], baseEnv());
      if (f.code !== 0) throw new Error(`backup-fetch: ${f.stderr.slice(-2000)}`);
      const r = await clusterFromDir(base, rdata);
      r.configure({ archive_mode: 'off', restore_command: `${WALG_BIN} wal-fetch %f %p --config ${cfg}`, recovery_target_action: 'promote' });
      writeUserFile(join(rdata, 'recovery.signal'), '');
      await r.start();
      await until('recovery', 600_000, async () => (await r.psql('select pg_is_in_recovery()')) === 'f');
      const got = await r.psql('select max(id) from soak');
      await r.stop('immediate');
      if (got !== lastId) throw new Error(`recovered max(id) ${got}, expected ${lastId}`);
      restores++;
    } finally {
      rmSync(base, { recursive: true, force: true });
    }
    const result = {
      segments: seg, seconds: Math.round((Date.now() - t0) / 1000), backups, faults, archiveFailuresRetried: Number(failed),
      integrity: integrity.status, gaps, restoresChecked: restores,
      daemonFirstStart: first, daemonLastInstanceStart: instanceStart, daemonEnd: end,
    };
    console.log(JSON.stringify(result, null, 2));
    if (integrity.status !== 'OK' || gaps !== 0) process.exitCode = 1;
  } finally {
    await c.stop('immediate').catch(() => {});
    await daemon.kill().catch(() => {});
    rmSync(work, { recursive: true, force: true });
  }
}

await main();
