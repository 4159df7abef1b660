// Backlog drain by PostgreSQL's own archiver (issue 15, acceptance 5b): a real PostgreSQL 15 accumulates a backlog
// of .ready segments under pgbench while archiving is not configured, then archiving is switched on with a reload and
// the time until the archiver has handed over the last segment is measured. Once each:
//   - archive_command = 'dist/walg-daemon-client SOCK wal-push %p' with `wal-g daemon` (started before the clock);
//   - archive_library = 'walg_archive' (dist/walg_archive.so from a private dynamic_library_path) with `wal-g daemon`;
//   - archive_command = 'pgbackrest archive-push %p' with archive-async=y, process-max=2;
//   - with WALG_REFERENCE_PG and WALG_REFERENCE_DAEMON_CLIENT: WAL-G's client (`wal-push %f`) and WAL-G's daemon.
// usage: node bench/wal-archiver.ts [--scale N] [--seconds S]   (WALG_BIN as in bench/wal.ts; the client and the
// module are taken from the same directory). File storage / posix repository, lz4. Prints a markdown table.

import { copyFileSync, existsSync, mkdirSync, readdirSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawn, spawnSync } from 'node:child_process';
import { initCluster, pgIdentity, userTempDir, writeUserFile } from '../test/servers/postgres.ts';
import type { PgCluster } from '../test/servers/postgres.ts';
import { execAs, pgbench, sql, until } from '../test/helpers/pg-exec.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const arg = (name: string, def: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : def;
};
const SCALE = arg('scale', 10);
const SECONDS = arg('seconds', 20);
const WALG = process.env.WALG_BIN ?? join(ROOT, 'dist/wal-g');
const CLIENT = join(dirname(WALG), 'walg-daemon-client');
const MODULE = join(dirname(WALG), 'walg_archive.so');
const PGBR = '/usr/bin/pgbackrest';
const REF = process.env.WALG_REFERENCE_PG;
const REF_CLIENT = REF ? process.env.WALG_REFERENCE_DAEMON_CLIENT : undefined;

type Tool = 'client' | 'module' | 'pgbackrest' | 'walg-client';

/** A daemon as the cluster user; stop() sends SIGTERM and waits. */
async function startDaemon(bin: string, dir: string, settings: Record<string, string>): Promise<{ sock: string; stop(): Promise<void> }> {
  const cfg = join(dir, 'daemon.json');
  writeUserFile(cfg, JSON.stringify({ WALG_COMPRESSION_METHOD: 'lz4', ...settings }));
  const sock = join(dir, 'daemon.sock');
  const id = pgIdentity();
  const p = spawn(bin, ['daemon', sock, '--config', cfg], {
    uid: id.uid, gid: id.gid, cwd: '/tmp', env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: id.home }, stdio: ['ignore', 'ignore', 'ignore'],
  });
  const closed = new Promise((r) => p.once('close', r));
  await until('daemon socket', 30_000, async () => existsSync(sock));
  return { sock, stop: async () => { if (p.exitCode === null) p.kill('SIGTERM'); await closed; } };
}

/** One run: backlog under pgbench with archiving unconfigured, then `tool` switched on; returns segments and ms. */
async function run(tool: Tool): Promise<{ segments: number; ms: number }> {
  const c: PgCluster = await initCluster({
    archive_mode: 'on', archive_command: '', wal_keep_size: '4GB', max_wal_size: '4GB', checkpoint_timeout: '30min',
  });
  if (tool === 'module') {
    // Loaded from the start with no socket (not configured: the archiver waits); a reload later only sets the socket,
    // as a change of archive_library itself would restart the archiver process.
    const lib = join(c.baseDir, 'lib');
    mkdirSync(lib);
    copyFileSync(MODULE, join(lib, 'walg_archive.so'));
    c.configure({ dynamic_library_path: `${lib}:$libdir`, archive_library: 'walg_archive' });
  }
  const work = userTempDir('walg-archiver-');
  const store = join(work, 'store');
  mkdirSync(store);
  execAsRoot('chown', ['-R', `${pgIdentity().uid}:${pgIdentity().gid}`, work]);
  let daemon: { sock: string; stop(): Promise<void> } | undefined;
  try {
    await c.start();
    await pgbench(c, ['-i', '-s', String(SCALE), '-q']);
    await pgbench(c, ['-T', String(SECONDS), '-c', '4', '-j', '2']);
    const last = await sql(c, 'select pg_walfile_name(pg_switch_wal())');
    const ready = readdirSync(join(c.dataDir, 'pg_wal', 'archive_status')).filter((f) => f.endsWith('.ready')).length;
    let settings: Record<string, string>;
    if (tool === 'pgbackrest') {
      const conf = join(work, 'pgbackrest.conf');
      for (const d of ['repo', 'lock', 'spool']) mkdirSync(join(work, d));
      execAsRoot('chown', ['-R', `${pgIdentity().uid}:${pgIdentity().gid}`, work]);
      writeUserFile(conf, ['[global]', `repo1-path=${join(work, 'repo')}`, 'compress-type=lz4', 'archive-async=y', 'process-max=2',
        'log-level-console=warn', 'log-level-file=off', `lock-path=${join(work, 'lock')}`, `spool-path=${join(work, 'spool')}`,
        '[bench]', `pg1-path=${c.dataDir}`, `pg1-socket-path=${c.socketDir}`, `pg1-port=${c.port}`, 'pg1-user=postgres', ''].join('\n'));
      await execAs(PGBR, [`--config=${conf}`, '--stanza=bench', 'stanza-create']);
      settings = { archive_command: `${PGBR} --config=${conf} --stanza=bench archive-push %p` };
    } else {
      daemon = await startDaemon(tool === 'walg-client' ? REF! : WALG, work, { WALG_FILE_PREFIX: store, PGDATA: c.dataDir });
      if (tool === 'client') settings = { archive_command: `${CLIENT} ${daemon.sock} wal-push %p` };
      else if (tool === 'walg-client') settings = { archive_command: `${REF_CLIENT} ${daemon.sock} wal-push %f` };
      else settings = { 'walg_archive.socket': daemon.sock };
    }
    const t = performance.now();
    c.configure(settings);
    await sql(c, 'select pg_reload_conf()');
    await until(`${tool} to archive ${last}`, 600_000, async () => (await sql(c, 'select last_archived_wal from pg_stat_archiver')) === last);
    const ms = performance.now() - t;
    const failed = await sql(c, 'select failed_count from pg_stat_archiver');
    if (failed !== '0') console.error(`${tool}: failed_count ${failed}`);
    return { segments: ready, ms };
  } finally {
    await c.destroy();
    await daemon?.stop();
    execAsRoot('rm', ['-rf', work]);
  }
}

/** Runs a command as ourselves (root: chown, rm of the cluster user's files); throws on a non-zero exit. */
function execAsRoot(cmd: string, args: string[]): void {
  const r = spawnSync(cmd, args, { stdio: 'inherit' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}`);
}

async function main(): Promise<void> {
  const tools: Tool[] = ['client', ...(existsSync(MODULE) ? ['module' as const] : []), 'pgbackrest', ...(REF_CLIENT ? ['walg-client' as const] : [])];
  const results = new Map<Tool, { segments: number; ms: number }>();
  for (const tool of tools) {
    results.set(tool, await run(tool));
    console.error(`${tool}: ${JSON.stringify(results.get(tool))}`);
  }
  const rate = (r: { segments: number; ms: number }) => r.segments / (r.ms / 1000);
  const pgbr = results.get('pgbackrest')!;
  const label: Record<Tool, string> = {
    client: '`walg-daemon-client` + `wal-g daemon` (archive_command)', module: '`walg_archive` + `wal-g daemon` (archive_library)',
    pgbackrest: 'pgBackRest archive-push, archive-async=y process-max=2', 'walg-client': 'WAL-G v3.0.9 `walg-daemon-client` + its daemon',
  };
  const lines = [
    `Backlog drain by PostgreSQL's archiver (bench/wal-archiver.ts --scale ${SCALE} --seconds ${SECONDS}; ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}):`,
    '',
    '| archiving | segments | time | seg/s | rate / pgBackRest |',
    '|---|---|---|---|---|',
    ...[...results].map(([tool, r]) => `| ${label[tool]} | ${r.segments} | ${(r.ms / 1000).toFixed(2)} s | ${rate(r).toFixed(1)} | ${(rate(r) / rate(pgbr)).toFixed(2)}× |`),
    '',
  ];
  console.log(lines.join('\n'));
}

void main().catch((err) => { console.error(err); process.exitCode = 1; });
