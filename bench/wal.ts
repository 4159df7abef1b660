// WAL archiving benchmark against pgBackRest on a real PostgreSQL 15 (file storage / posix repo, lz4, no encryption):
//   (a) wall time of one archive_command call for a 16 MiB segment: `wal-g wal-push` vs `pgbackrest archive-push`;
//   (b) draining a backlog of .ready segments through sequential archive_command calls;
//   (c) archive recovery through restore_command: `wal-g wal-fetch` (with its prefetch) vs `pgbackrest archive-get`,
//       as segments/s of a real replay, plus the bare fetch loop without Postgres.
// Each of the three also runs through `wal-g daemon` and its native client (dist/walg-daemon-client, issue 15), and
// with WALG_REFERENCE_PG + WALG_REFERENCE_DAEMON_CLIENT through WAL-G's daemon and its client.
// usage: node bench/wal.ts [--scale N] [--seconds S]   (WALG_BIN=<binary> to pick the wal-g build; default dist/wal-g
// from make build). Needs postgresql-15 and pgbackrest (apt). Writes bench/results/wal.md.

import { chownSync, cpSync, existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execFileSync, spawn } from 'node:child_process';
import { initCluster, clusterFromDir, pgIdentity, userTempDir, writeUserFile, PG_BIN } from '../test/servers/postgres.ts';
import { execAs, pgbench, sql } from '../test/helpers/pg-exec.ts';
import type { PgCluster } from '../test/servers/postgres.ts';
import { isWalSegmentName } from '../src/pg/wal-name.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const arg = (name: string, def: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : def;
};
const SCALE = arg('scale', 20);
const SECONDS = arg('seconds', 20);
const WALG = process.env.WALG_BIN ?? join(ROOT, 'dist/wal-g');
const PGBR = '/usr/bin/pgbackrest';
// The reference WAL-G v3.0.9 (docs/compat.md), optional: with it every measurement also runs WAL-G, same data.
const REF = process.env.WALG_REFERENCE_PG;
const CLIENT = join(dirname(WALG), 'walg-daemon-client'); // built next to dist/wal-g by make build
const REF_CLIENT = REF ? process.env.WALG_REFERENCE_DAEMON_CLIENT : undefined;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const median = (xs: number[]) => { const s = [...xs].sort((a, b) => a - b); const m = s.length >> 1; return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2; };
const pct = (xs: number[], p: number) => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.floor(p * s.length))]!; };

async function until(what: string, ms: number, fn: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await fn())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

/** Runs a command as the cluster user and returns its wall time in ms. */
async function timed(cmd: string, args: string[]): Promise<number> {
  const t = performance.now();
  await execAs(cmd, args);
  return performance.now() - t;
}

/** mkdir -p owned by the cluster user. */
function userDir(d: string): void {
  mkdirSync(d, { recursive: true });
  const id = pgIdentity();
  chownSync(d, id.uid, id.gid);
}

/** A `daemon` of `bin` (ours or WAL-G's) running as the cluster user; stop() sends SIGTERM and waits. */
interface BenchDaemon { sock: string; stop(): Promise<void> }
async function startDaemon(bin: string, dir: string, name: string, settings: Record<string, string>): Promise<BenchDaemon> {
  const cfg = join(dir, `${name}.json`);
  writeUserFile(cfg, JSON.stringify({ WALG_COMPRESSION_METHOD: 'lz4', ...settings }));
  const sock = join(dir, `${name}.sock`);
  const id = pgIdentity();
  const p = spawn(bin, ['daemon', sock, '--config', cfg], {
    uid: id.uid, gid: id.gid, cwd: '/tmp', env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: id.home }, stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  p.stderr.on('data', (c) => { stderr += c; });
  const closed = new Promise((r) => p.once('close', r));
  await until(`${name} daemon (${stderr})`, 30_000, async () => existsSync(sock));
  return { sock, stop: async () => { if (p.exitCode === null) p.kill('SIGTERM'); await closed; } };
}

async function main(): Promise<void> {
  if (!existsSync(PGBR)) throw new Error('pgbackrest is not installed (apt-get install pgbackrest)');
  const work = userTempDir('walg-bench-');
  chmodSync(work, 0o755);
  const staging = join(work, 'pg_wal'); // a pg_wal-like directory holding the segments to push
  const walgStore = join(work, 'walg-store');
  const pgbrRepo = join(work, 'pgbr-repo');
  for (const d of [staging, join(staging, 'archive_status'), walgStore, pgbrRepo, join(work, 'pgbr-lock'), join(work, 'pgbr-spool')]) userDir(d);
  const walgCfg = join(work, 'walg.json');
  writeUserFile(walgCfg, JSON.stringify({ WALG_FILE_PREFIX: walgStore, WALG_COMPRESSION_METHOD: 'lz4' }));
  // WAL-G's own storages (it refuses a missing WALG_FILE_PREFIX root), same settings.
  const refStore = join(work, 'ref-store');
  const refStore2 = join(work, 'ref-store2');
  userDir(refStore);
  userDir(refStore2);
  const refCfg = join(work, 'ref.json');
  const refCfg2 = join(work, 'ref2.json');
  writeUserFile(refCfg, JSON.stringify({ WALG_FILE_PREFIX: refStore, WALG_COMPRESSION_METHOD: 'lz4' }));
  writeUserFile(refCfg2, JSON.stringify({ WALG_FILE_PREFIX: refStore2, WALG_COMPRESSION_METHOD: 'lz4' }));

  const primary = await initCluster({
    archive_mode: 'on', archive_command: `cp %p ${staging}/%f`, wal_keep_size: '4GB', max_wal_size: '4GB', checkpoint_timeout: '30min',
  });
  const pgbrConf = join(work, 'pgbackrest.conf');
  writeUserFile(pgbrConf, [
    '[global]', `repo1-path=${pgbrRepo}`, 'compress-type=lz4', 'archive-async=n', 'log-level-console=warn', 'log-level-file=off',
    `lock-path=${join(work, 'pgbr-lock')}`, `spool-path=${join(work, 'pgbr-spool')}`, 'start-fast=y',
    '[bench]', `pg1-path=${primary.dataDir}`, `pg1-socket-path=${primary.socketDir}`, `pg1-port=${primary.port}`, 'pg1-user=postgres', '',
  ].join('\n'));
  const pgbr = (...a: string[]) => [`--config=${pgbrConf}`, '--stanza=bench', ...a];
  // A second, empty repository for the backlog measurement (b).
  const pgbrRepo2 = join(work, 'pgbr-repo2');
  userDir(pgbrRepo2);
  // (b) compares with pgBackRest's asynchronous archiving (archive-async, process-max 2), as the issue asks: its
  // archive-push hands segments to a background process that pushes ahead from archive_status.
  const pgbr2 = (...a: string[]) => [`--config=${pgbrConf}`, '--stanza=bench', `--repo1-path=${pgbrRepo2}`, ...a];
  const pgbr2Async = (...a: string[]) => pgbr2('--archive-async', '--process-max=2', ...a);
  const walgStore2 = join(work, 'walg-store2');
  userDir(walgStore2);
  const walgCfg2 = join(work, 'walg2.json');
  writeUserFile(walgCfg2, JSON.stringify({ WALG_FILE_PREFIX: walgStore2, WALG_COMPRESSION_METHOD: 'lz4' }));
  const replicas: PgCluster[] = [];
  const lines: string[] = [];
  try {
    await primary.start();
    await execAs(PGBR, pgbr('stanza-create'));
    await execAs(PGBR, pgbr2('stanza-create'));
    const base = join(primary.baseDir, 'base');
    await execAs(join(PG_BIN, 'pg_basebackup'), ['-D', base, '-X', 'fetch', '-c', 'fast'], primary.env);
    await pgbench(primary, ['-i', '-s', String(SCALE), '-q']);
    await pgbench(primary, ['-T', String(SECONDS), '-c', '4', '-j', '2']);
    const lsn = await sql(primary, 'select pg_switch_wal()');
    const last = await sql(primary, `select pg_walfile_name('${lsn}')`);
    await until('archiving to the staging dir', 120_000, async () => (await sql(primary, 'select last_archived_wal from pg_stat_archiver')) === last);
    const segs = readdirSync(staging).filter(isWalSegmentName).sort();
    const mb = segs.length * 16;
    console.error(`${segs.length} segments (${mb} MiB) of pgbench WAL; wal-g binary ${WALG}`);

    // (a) one archive_command call per segment, alternating which tool goes first (both read the file from cache).
    const pushWalg: number[] = [];
    const pushPgbr: number[] = [];
    const pushRef: number[] = [];
    const pushClient: number[] = [];
    const pushRefClient: number[] = [];
    // The daemons' PGDATA is `work`, so `wal-push %f` names staging/<segment> for both daemons.
    const clientStore = join(work, 'client-store');
    const refClientStore = join(work, 'ref-client-store');
    for (const d of [clientStore, refClientStore]) userDir(d);
    const daemonA = await startDaemon(WALG, work, 'daemon-a', { WALG_FILE_PREFIX: clientStore, PGDATA: work });
    const refDaemonA = REF_CLIENT ? await startDaemon(REF!, work, 'ref-daemon-a', { WALG_FILE_PREFIX: refClientStore, PGDATA: work }) : undefined;
    for (const [i, s] of segs.entries()) {
      const p = join(staging, s);
      const runWalg = async () => pushWalg.push(await timed(WALG, ['wal-push', p, '--config', walgCfg]));
      const runPgbr = async () => pushPgbr.push(await timed(PGBR, pgbr('archive-push', p)));
      const runRef = async () => { if (REF) pushRef.push(await timed(REF, ['wal-push', p, '--config', refCfg])); };
      const runClient = async () => pushClient.push(await timed(CLIENT, [daemonA.sock, 'wal-push', s]));
      const runRefClient = async () => { if (refDaemonA) pushRefClient.push(await timed(REF_CLIENT!, [refDaemonA.sock, 'wal-push', s])); };
      if (i % 2 === 0) { await runWalg(); await runPgbr(); await runRef(); await runClient(); await runRefClient(); }
      else { await runRefClient(); await runClient(); await runRef(); await runPgbr(); await runWalg(); }
    }
    await daemonA.stop();
    await refDaemonA?.stop();
    const du = (d: string) => Number(execFileSync('du', ['-sb', d]).toString().split('\t')[0]);
    const sizeWalg = du(join(walgStore, 'wal_005'));
    const sizePgbr = du(join(pgbrRepo, 'archive'));

    // (b) a backlog of .ready segments (archiving was down for a while), drained the way Postgres' archiver does it:
    // one archive_command call per .ready file in order, renaming it to .done after success. wal-g's call uploads
    // the following .ready files in the background and the later calls find its markers.
    const drain = async (tool: 'walg' | 'pgbr' | 'ref' | 'client' | 'refclient'): Promise<number> => {
      const dir = join(work, `backlog-${tool}`, 'pg_wal');
      userDir(join(dir, 'archive_status'));
      for (const s of segs) {
        cpSync(join(staging, s), join(dir, s));
        writeUserFile(join(dir, 'archive_status', `${s}.ready`), '');
      }
      if (tool === 'pgbr') {
        // pgBackRest's async archive-push checks the cluster's pg_control below pg1-path (the backlog's parent).
        mkdirSync(join(dirname(dir), 'global'), { recursive: true });
        cpSync(join(primary.dataDir, 'global', 'pg_control'), join(dirname(dir), 'global', 'pg_control'));
        execFileSync('chown', ['-R', `${pgIdentity().uid}:${pgIdentity().gid}`, dirname(dir)]);
      }
      execFileSync('chown', ['-R', `${pgIdentity().uid}:${pgIdentity().gid}`, dir]);
      // Through a daemon: its PGDATA is the backlog's parent; it is started (warm) before the clock starts.
      const store = join(work, `${tool}-store2`);
      const daemon = tool === 'client' || tool === 'refclient' ? await (async () => {
        userDir(store);
        return startDaemon(tool === 'client' ? WALG : REF!, work, `daemon-b-${tool}`, { WALG_FILE_PREFIX: store, PGDATA: dirname(dir) });
      })() : undefined;
      const t = performance.now();
      for (const s of segs) {
        if (daemon) await execAs(tool === 'client' ? CLIENT : REF_CLIENT!, [daemon.sock, 'wal-push', s]);
        else if (tool === 'walg') await execAs(WALG, ['wal-push', join(dir, s), '--config', walgCfg2]);
        else if (tool === 'ref') await execAs(REF!, ['wal-push', join(dir, s), '--config', refCfg2]);
        // The async process reads archive_status below pg1-path: the backlog directory stands in for the data dir.
        else await execAs(PGBR, pgbr2Async(`--pg1-path=${dirname(dir)}`, 'archive-push', join(dir, s)));
        renameSync(join(dir, 'archive_status', `${s}.ready`), join(dir, 'archive_status', `${s}.done`));
      }
      const ms = performance.now() - t;
      await daemon?.stop();
      return ms;
    };
    const drainWalg = await drain('walg');
    const drainPgbr = await drain('pgbr');
    const drainRef = REF ? await drain('ref') : NaN;
    const drainClient = await drain('client');
    const drainRefClient = REF_CLIENT ? await drain('refclient') : NaN;
    // Both must really hold every segment afterwards (the calls returned 0 only for stored segments).
    const stored = (dir: string) => execFileSync('find', [dir, '-type', 'f']).toString().split('\n').filter((f) => /\/[0-9A-F]{24}(-[0-9a-f]{40})?\.lz4$/.test(f)).length;
    const checked: Array<readonly [string, string]> = [['wal-g', join(walgStore2, 'wal_005')], ['pgBackRest', join(pgbrRepo2, 'archive')]];
    if (REF) checked.push(['WAL-G', join(refStore2, 'wal_005')]);
    checked.push(['wal-g daemon', join(work, 'client-store2', 'wal_005')]);
    if (REF_CLIENT) checked.push(['WAL-G daemon', join(work, 'refclient-store2', 'wal_005')]);
    for (const [tool, dir] of checked) {
      const n = stored(dir);
      if (n !== segs.length) throw new Error(`(b) ${tool} stored ${n} of ${segs.length} segments`);
    }

    // (c1) bare fetch loop: what restore_command does, without Postgres replaying in between.
    const fetchLoop = async (tool: 'walg' | 'pgbr' | 'ref' | 'client' | 'refclient'): Promise<number> => {
      const dir = join(work, `fetch-${tool}`);
      userDir(dir);
      userDir(join(dir, 'pg_wal'));
      // Through a daemon whose PGDATA is `dir`, reading what (a) stored through the same tool.
      const daemon = tool === 'client' ? await startDaemon(WALG, work, 'daemon-c1', { WALG_FILE_PREFIX: walgStore, PGDATA: dir })
        : tool === 'refclient' ? await startDaemon(REF!, work, 'ref-daemon-c1', { WALG_FILE_PREFIX: refStore, PGDATA: dir }) : undefined;
      const t = performance.now();
      for (const s of segs) {
        const dest = join(dir, 'RECOVERYXLOG');
        if (daemon) await execAs(tool === 'client' ? CLIENT : REF_CLIENT!, [daemon.sock, 'wal-fetch', s, dest]);
        else if (tool === 'walg') await execAs(WALG, ['wal-fetch', s, dest, '--config', walgCfg]);
        else if (tool === 'ref') await execAs(REF!, ['wal-fetch', s, dest, '--config', refCfg]);
        else await execAs(PGBR, pgbr('archive-get', s, dest));
        rmSync(dest);
      }
      const ms = performance.now() - t;
      await daemon?.stop();
      return ms;
    };
    const loopWalg = await fetchLoop('walg');
    const loopPgbr = await fetchLoop('pgbr');
    const loopRef = REF ? await fetchLoop('ref') : NaN;
    const loopClient = await fetchLoop('client');
    const loopRefClient = REF_CLIENT ? await fetchLoop('refclient') : NaN;

    // (c2) real archive recovery of the base backup.
    await primary.stop();
    const recover = async (tool: 'walg' | 'pgbr' | 'ref' | 'client' | 'refclient'): Promise<{ ms: number; restored: number }> => {
      const dir = join(primary.baseDir, `replica-${tool}`);
      cpSync(base, dir, { recursive: true });
      const r = await clusterFromDir(primary.baseDir, dir);
      replicas.push(r);
      const daemon = tool === 'client' ? await startDaemon(WALG, work, 'daemon-c2', { WALG_FILE_PREFIX: walgStore, PGDATA: dir })
        : tool === 'refclient' ? await startDaemon(REF!, work, 'ref-daemon-c2', { WALG_FILE_PREFIX: refStore, PGDATA: dir }) : undefined;
      r.configure({
        archive_mode: 'off', recovery_target_timeline: 'latest',
        restore_command: daemon ? `${tool === 'client' ? CLIENT : REF_CLIENT} ${daemon.sock} wal-fetch %f %p`
          : tool === 'walg' ? `${WALG} wal-fetch %f %p --config ${walgCfg}`
          : tool === 'ref' ? `${REF} wal-fetch %f %p --config ${refCfg}`
          : `${PGBR} --config=${pgbrConf} --stanza=bench --pg1-path=${dir} archive-get %f "%p"`,
      });
      writeUserFile(join(dir, 'recovery.signal'), '');
      const t = performance.now();
      await r.start();
      await until('recovery', 600_000, async () => (await sql(r, 'select pg_is_in_recovery()')) === 'f');
      const ms = performance.now() - t;
      const restored = (readFileSync(r.logFile, 'utf8').match(/restored log file "[0-9A-F]{24}" from archive/g) ?? []).length;
      await r.stop('immediate');
      await daemon?.stop();
      return { ms, restored };
    };
    const recWalg = await recover('walg');
    const recPgbr = await recover('pgbr');
    const recRef = REF ? await recover('ref') : undefined;
    const recClient = await recover('client');
    const recRefClient = REF_CLIENT ? await recover('refclient') : undefined;
    const rate = (x: { ms: number; restored: number }) => x.restored / (x.ms / 1000);

    const f1 = (x: number) => x.toFixed(1);
    const ratio = (a: number, b: number) => `${(a / b).toFixed(2)}×`;
    // A copy of the single executable (e.g. built into a scratch tree) is still "dist/wal-g".
    const walgLabel = WALG.endsWith('dist/wal-g') ? 'dist/wal-g (single executable from scripts/build.ts)' : `\`${WALG.replace(ROOT + '/', '')}\` (from source)`;
    const pgbrVersion = execFileSync(PGBR, ['version']).toString().trim();
    const pgVersion = execFileSync(join(PG_BIN, 'postgres'), ['--version']).toString().trim();
    lines.push(
      '# WAL archiving: wal-g (TypeScript) vs pgBackRest',
      '',
      `Host: ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}; ${pgVersion}; ${pgbrVersion}; node ${process.version}; wal-g: ${walgLabel}.`,
      `Workload: pgbench -i -s ${SCALE}, then pgbench -T ${SECONDS} -c 4: ${segs.length} segments (${mb} MiB) of real WAL.`,
      'Both tools: local file repository, lz4, no encryption, default concurrency; pgBackRest synchronous (archive-async=n)',
      'for (a) and (c), asynchronous (archive-async=y, process-max=2) for (b).',
      'Every command runs as the cluster user, exactly as archive_command / restore_command would.',
      '',
      '| measurement | wal-g | pgBackRest | wal-g / pgBackRest |',
      '|---|---|---|---|',
      `| (a) archive_command, one 16 MiB segment: median wall time | ${f1(median(pushWalg))} ms | ${f1(median(pushPgbr))} ms | ${ratio(median(pushWalg), median(pushPgbr))} |`,
      `| (a) same, p90 | ${f1(pct(pushWalg, 0.9))} ms | ${f1(pct(pushPgbr, 0.9))} ms | ${ratio(pct(pushWalg, 0.9), pct(pushPgbr, 0.9))} |`,
      `| (b) backlog of ${segs.length} .ready segments drained by sequential archive_command calls | ${f1(drainWalg / 1000)} s (${f1(segs.length / (drainWalg / 1000))} seg/s) | ${f1(drainPgbr / 1000)} s (${f1(segs.length / (drainPgbr / 1000))} seg/s) | ${ratio(drainWalg, drainPgbr)} |`,
      `| archive size for ${mb} MiB of WAL | ${f1(sizeWalg / 1048576)} MiB | ${f1(sizePgbr / 1048576)} MiB | ${ratio(sizeWalg, sizePgbr)} |`,
      `| (c) restore_command loop without Postgres (${segs.length} fetches) | ${f1(segs.length / (loopWalg / 1000))} seg/s | ${f1(segs.length / (loopPgbr / 1000))} seg/s | ${ratio(loopPgbr, loopWalg)} (speed) |`,
      `| (c) archive recovery of the base backup (${recWalg.restored} / ${recPgbr.restored} segments restored) | ${f1(recWalg.restored / (recWalg.ms / 1000))} seg/s (${f1(recWalg.ms / 1000)} s) | ${f1(recPgbr.restored / (recPgbr.ms / 1000))} seg/s (${f1(recPgbr.ms / 1000)} s) | ${ratio(recPgbr.ms, recWalg.ms)} (speed) |`,
      '',
      'Through `wal-g daemon` and dist/walg-daemon-client (issue 15; the daemon started before the clock):',
      '',
      '| measurement | client + daemon | pgBackRest | client / pgBackRest | issue target |',
      '|---|---|---|---|---|',
      `| (a) one archive call, 16 MiB segment: median | ${f1(median(pushClient))} ms | ${f1(median(pushPgbr))} ms | ${ratio(median(pushClient), median(pushPgbr))} the time | ≤ 0.5× |`,
      `| (a) same, p90 | ${f1(pct(pushClient, 0.9))} ms | ${f1(pct(pushPgbr, 0.9))} ms | ${ratio(pct(pushClient, 0.9), pct(pushPgbr, 0.9))} the time | |`,
      `| (b) backlog of ${segs.length} .ready segments drained | ${f1(drainClient / 1000)} s (${f1(segs.length / (drainClient / 1000))} seg/s) | ${f1(drainPgbr / 1000)} s (async, process-max 2) | ${ratio(drainPgbr, drainClient)} the rate | ≥ 1.3× |`,
      `| (c) restore_command loop without Postgres | ${f1(segs.length / (loopClient / 1000))} seg/s | ${f1(segs.length / (loopPgbr / 1000))} seg/s | ${ratio(loopPgbr, loopClient)} the speed | |`,
      `| (c) archive recovery (${recClient.restored} / ${recPgbr.restored} segments restored) | ${f1(rate(recClient))} seg/s (${f1(recClient.ms / 1000)} s) | ${f1(rate(recPgbr))} seg/s (synchronous archive-get) | ${ratio(rate(recClient), rate(recPgbr))} the rate | ≥ 1.2× (vs archive-async) |`,
      '',
      ...(REF_CLIENT && recRefClient ? [
        'Through daemons and their clients: ours against WAL-G v3.0.9\'s `wal-g daemon` + `walg-daemon-client`, same run:',
        '',
        '| measurement | ours | WAL-G | rate ours / WAL-G | issue target |',
        '|---|---|---|---|---|',
        `| (a) one archive call: median | ${f1(median(pushClient))} ms | ${f1(median(pushRefClient))} ms | ${ratio(median(pushRefClient), median(pushClient))} | ≥ 1.0× |`,
        `| (b) backlog drained | ${f1(drainClient / 1000)} s | ${f1(drainRefClient / 1000)} s | ${ratio(drainRefClient, drainClient)} | ≥ 1.0× |`,
        `| (c) restore_command loop without Postgres | ${f1(segs.length / (loopClient / 1000))} seg/s | ${f1(segs.length / (loopRefClient / 1000))} seg/s | ${ratio(loopRefClient, loopClient)} | |`,
        `| (c) archive recovery (${recClient.restored} / ${recRefClient.restored} restored) | ${f1(rate(recClient))} seg/s | ${f1(rate(recRefClient))} seg/s | ${ratio(rate(recClient), rate(recRefClient))} | ≥ 1.0× |`,
        '',
      ] : []),
      ...(REF ? [
        'Against WAL-G v3.0.9 (`WALG_REFERENCE_PG`), same segments, same run (its own file storage, lz4, its defaults):',
        '',
        '| measurement | wal-g | WAL-G | wal-g / WAL-G |',
        '|---|---|---|---|',
        `| (a) archive_command, one 16 MiB segment: median wall time | ${f1(median(pushWalg))} ms | ${f1(median(pushRef))} ms | ${ratio(median(pushWalg), median(pushRef))} |`,
        `| (a) same, p90 | ${f1(pct(pushWalg, 0.9))} ms | ${f1(pct(pushRef, 0.9))} ms | ${ratio(pct(pushWalg, 0.9), pct(pushRef, 0.9))} |`,
        `| (b) backlog of ${segs.length} .ready segments drained by sequential archive_command calls | ${f1(drainWalg / 1000)} s | ${f1(drainRef / 1000)} s | ${ratio(drainWalg, drainRef)} |`,
        `| archive size for ${mb} MiB of WAL | ${f1(sizeWalg / 1048576)} MiB | ${f1(du(join(refStore, 'wal_005')) / 1048576)} MiB | ${ratio(sizeWalg, du(join(refStore, 'wal_005')))} |`,
        `| (c) restore_command loop without Postgres (${segs.length} fetches) | ${f1(segs.length / (loopWalg / 1000))} seg/s | ${f1(segs.length / (loopRef / 1000))} seg/s | ${ratio(loopRef, loopWalg)} (speed) |`,
        `| (c) archive recovery of the base backup (${recWalg.restored} / ${recRef!.restored} segments restored) | ${f1(recWalg.ms / 1000)} s | ${f1(recRef!.ms / 1000)} s | ${ratio(recRef!.ms, recWalg.ms)} (speed) |`,
        '',
      ] : []),
      'Time ratios (a), (b): below 1× means wal-g is faster. Speed ratios (c): above 1× means wal-g is faster.',
      'wal-g (b): WALG_UPLOAD_CONCURRENCY 16 gives 15 background uploaders; pgBackRest (b): archive-async=y, process-max=2.',
      'wal-g fetches the next WALG_DOWNLOAD_CONCURRENCY (10) segments in a detached prefetch process; pgBackRest without',
      'archive-async fetches one segment per call. Recovery time includes Postgres start-up, replay and promotion.',
      '',
      `Reproduce: \`make build && node_modules/.bin/node bench/wal.ts --scale ${SCALE} --seconds ${SECONDS}\` (as root; needs postgresql-15 and pgbackrest).`,
      '',
    );
    const md = lines.join('\n');
    console.log(md);
    mkdirSync(join(ROOT, 'bench/results'), { recursive: true });
    writeFileSync(join(ROOT, 'bench/results/wal.md'), md);
  } finally {
    for (const r of replicas) await r.stop('immediate').catch(() => {});
    await primary.destroy();
    rmSync(work, { recursive: true, force: true });
  }
}

void main().catch((err) => { console.error(err); process.exitCode = 1; });
