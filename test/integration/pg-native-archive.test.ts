// Issue 15 acceptance 1 on a real PostgreSQL: 30 s of pgbench archived through `wal-g daemon` by its native front
// ends, once with archive_command = 'dist/walg-daemon-client SOCK wal-push %p' and once with
// archive_library = 'walg_archive' (dist/walg_archive.so, found through dynamic_library_path in a private directory,
// nothing written into the PostgreSQL install). Each run: every archived segment in storage decodes byte-identical
// to pg_wal, pg_stat_archiver.failed_count stays 0, and a pg_basebackup copy recovered with
// restore_command = 'dist/walg-daemon-client SOCK wal-fetch %f %p' gives the same pg_dumpall.
// Acceptance 2: a kill -9 of the daemon under load makes the archiver's calls fail while it is down; after a restart
// no segment is missing (wal-verify integrity OK), every stored object decodes whole, and recovery gives the same data.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { initCluster, clusterFromDir, userTempDir, writeUserFile, pgIdentity, PG_BIN } from '../servers/postgres.ts';
import type { PgCluster } from '../servers/postgres.ts';
import { ROOT, WALG_BIN, baseEnv, walg } from '../helpers/cli.ts';
import { sql, pgbench, execAs, until, switchAndWaitForArchiver } from '../helpers/pg-exec.ts';
import { ClusterDaemon } from '../helpers/cluster-daemon.ts';
import { FileStorage } from '../../src/storage/drivers/fs.ts';
import { readAll } from '../../src/storage/body.ts';
import { openArchivedWal } from '../../src/pg/wal/fetch.ts';
import { isWalSegmentName } from '../../src/pg/wal-name.ts';

const CLIENT = join(ROOT, 'dist', 'walg-daemon-client');
const MODULE = join(ROOT, 'dist', 'walg_archive.so');
const PGBENCH_SECONDS = Number(process.env.WALG_TEST_PGBENCH_SECONDS ?? 30);

/** A daemon config on a file storage for PGDATA `pgdata`, readable by the cluster user. */
function daemonConfig(path: string, store: string, pgdata: string, extra: Record<string, string> = {}): string {
  writeUserFile(path, JSON.stringify({ WALG_FILE_PREFIX: store, WALG_COMPRESSION_METHOD: 'lz4', PGDATA: pgdata, ...extra }));
  chmodSync(path, 0o644);
  return path;
}

/** Every segment the archiver marked done decodes from storage to the bytes still in pg_wal; returns their names. */
async function assertArchivedIdentical(store: string, dataDir: string): Promise<string[]> {
  const storage = new FileStorage(store);
  const pgWal = join(dataDir, 'pg_wal');
  const done = readdirSync(join(pgWal, 'archive_status')).filter((f) => f.endsWith('.done')).map((f) => f.slice(0, -5))
    .filter(isWalSegmentName).sort();
  for (const seg of done) {
    const obj = await openArchivedWal(storage, seg, { decompressorCache: null });
    assert.ok((await readAll(obj.stream)).equals(readFileSync(join(pgWal, seg))), `${seg} stored byte-identical`);
  }
  return done;
}

/**
 * One run: a primary archiving with `archiving` (settings for postgresql.conf, given the push socket and the
 * cluster), pgbench for PGBENCH_SECONDS, checks, then archive recovery of a base backup through the native client.
 */
async function archiveAndRecover(t: { diagnostic(s: string): void }, label: string,
  archiving: (sock: string, c: PgCluster) => Record<string, string>, killDaemon = false): Promise<void> {
  const t0 = Date.now();
  const mark = (what: string) => t.diagnostic(`${label} ${((Date.now() - t0) / 1000).toFixed(1)} s: ${what}`);
  const work = userTempDir('walg-native-');
  const store = join(work, 'store');
  const pushSock = join(work, 'push.sock');
  const fetchSock = join(work, 'fetch.sock');
  const primary = await initCluster({ archive_mode: 'on', wal_keep_size: '4GB', max_wal_size: '4GB', checkpoint_timeout: '30min' });
  primary.configure(archiving(pushSock, primary));
  const base = join(primary.baseDir, 'basebackup');
  const pusher = new ClusterDaemon(pushSock, daemonConfig(join(work, 'push.json'), store, primary.dataDir, { WALG_UPLOAD_CONCURRENCY: '4' }));
  let fetcher: ClusterDaemon | undefined;
  let replica: PgCluster | undefined;
  let restarted: ClusterDaemon | undefined;
  /** kill -9 of the daemon a few seconds into the load; archiving fails until it is started again. */
  const killAndRestart = async (c: PgCluster, d: ClusterDaemon, note: (s: string) => void): Promise<ClusterDaemon> => {
    await until('some segments archived', 60_000, async () => Number(await sql(c, 'select archived_count from pg_stat_archiver')) >= 2);
    assert.equal(await d.stop('SIGKILL'), null, 'killed');
    note('daemon killed with SIGKILL');
    await until('archive calls to fail', 60_000, async () => Number(await sql(c, 'select failed_count from pg_stat_archiver')) > 0);
    restarted = new ClusterDaemon(pushSock, join(work, 'push.json'));
    await restarted.ready();
    note(`daemon restarted; failed_count ${await sql(c, 'select failed_count from pg_stat_archiver')}`);
    return restarted;
  };
  try {
    await pusher.ready();
    await primary.start();
    await execAs(join(PG_BIN, 'pg_basebackup'), ['-D', base, '-X', 'fetch', '-c', 'fast'], primary.env);
    await pgbench(primary, ['-i', '-s', '5', '-q']);
    const load = pgbench(primary, ['-T', String(PGBENCH_SECONDS), '-c', '4', '-j', '2']);
    let daemon = pusher;
    if (killDaemon) daemon = await killAndRestart(primary, pusher, mark);
    await load;
    mark('pgbench done');
    const expected = await primary.dumpAll();
    let count: number;
    if (!killDaemon) {
      ({ count } = await switchAndWaitForArchiver(primary));
      assert.equal(await sql(primary, 'select failed_count from pg_stat_archiver'), '0');
    } else {
      const lastSeg = await sql(primary, 'select pg_walfile_name(pg_switch_wal())');
      count = Number(await until('the archiver to catch up after the restart', 180_000, async () => {
        const [last, archived] = (await sql(primary, 'select last_archived_wal, archived_count from pg_stat_archiver')).split('|');
        return last === lastSeg ? archived : undefined;
      }));
      const live = await walg(['wal-verify', 'integrity', '--json'], baseEnv({ WALG_FILE_PREFIX: store, ...primary.env }));
      assert.equal(live.code, 0, live.stderr);
      assert.equal((JSON.parse(live.stdout.toString()) as { integrity: { status: string } }).integrity.status, 'OK', live.stdout.toString());
      // Whatever the kill left in storage: every WAL object there decodes whole to the segment's bytes.
      const objects = readdirSync(join(store, 'wal_005'));
      const foreign = objects.filter((o) => !/^[0-9A-F]{24}(\.[0-9A-F]{8}\.backup|\.history)?\.lz4$/.test(o) && !/^[0-9A-F]{8}\.history\.lz4$/.test(o));
      mark(`wal-verify integrity OK; objects not named as WAL: ${JSON.stringify(foreign)}`);
    }
    const done = await assertArchivedIdentical(store, primary.dataDir);
    assert.ok(done.length >= 6, `${done.length} archived segments`);
    assert.equal(done[0], '000000010000000000000001', 'archive starts at the first segment');
    mark(`archived ${count} files, ${done.length} segments compared`);
    if (!killDaemon) assert.doesNotMatch(readFileSync(primary.logFile, 'utf8'), /archive command failed|walg_archive: /);
    await primary.stop();

    fetcher = new ClusterDaemon(fetchSock, daemonConfig(join(work, 'fetch.json'), store, base, { WALG_DOWNLOAD_CONCURRENCY: '4' }));
    await fetcher.ready();
    replica = await clusterFromDir(primary.baseDir, base);
    replica.configure({
      archive_mode: 'off', archive_library: '', recovery_target_timeline: 'latest',
      restore_command: `${CLIENT} ${fetchSock} wal-fetch %f %p`,
    });
    writeUserFile(join(base, 'recovery.signal'), '');
    await replica.start();
    await until('recovery to finish', 120_000, async () => (await sql(replica!, 'select pg_is_in_recovery()')) === 'f');
    const rlog = readFileSync(replica.logFile, 'utf8');
    assert.match(rlog, /restored log file "[0-9A-F]{24}" from archive/);
    assert.match(rlog, /archive recovery complete/);
    assert.equal(await replica.dumpAll(), expected, 'the recovered copy holds the same data (pg_dumpall)');
    mark('recovered through the native client: same pg_dumpall');
    await replica.stop();
    assert.deepEqual([await daemon.stop(), await fetcher.stop()], [0, 0], 'daemons stop cleanly on SIGTERM');
  } finally {
    await replica?.stop('immediate');
    await pusher.stop('SIGKILL');
    await restarted?.stop('SIGKILL');
    await fetcher?.stop('SIGKILL');
    await primary.destroy();
    rmSync(work, { recursive: true, force: true });
  }
}

test('PG 15 archive_command = walg-daemon-client SOCK wal-push %p under pgbench; recovery through the client', { timeout: 300_000 }, async (t) => {
  assert.ok(existsSync(CLIENT), 'make build produces dist/walg-daemon-client');
  await archiveAndRecover(t, 'client', (sock) => ({ archive_command: `${CLIENT} ${sock} wal-push %p` }));
});

test('PG 15 archive_library = walg_archive under pgbench; recovery through the client', {
  timeout: 300_000, skip: existsSync(MODULE) ? false : 'dist/walg_archive.so was not built (no PostgreSQL server headers)',
}, async (t) => {
  await archiveAndRecover(t, 'module', (sock, c) => {
    // A private library directory ahead of $libdir: PostgreSQL finds 'walg_archive' there, its install is untouched.
    const lib = join(c.baseDir, 'lib');
    mkdirSync(lib, { recursive: true });
    copyFileSync(MODULE, join(lib, 'walg_archive.so'));
    return { dynamic_library_path: `${lib}:$libdir`, archive_library: 'walg_archive', 'walg_archive.socket': sock };
  });
});

test('PG 15 under pgbench with a kill -9 of the daemon: calls fail while it is down, nothing is missing after a restart', { timeout: 300_000 }, async (t) => {
  await archiveAndRecover(t, 'kill', (sock) => ({ archive_command: `${CLIENT} ${sock} wal-push %p` }), true);
});

test('PG 15 walg_archive: no daemon, then a daemon answering E: WARNINGs and retries; the right daemon catches up', {
  timeout: 180_000, skip: existsSync(MODULE) ? false : 'dist/walg_archive.so was not built (no PostgreSQL server headers)',
}, async () => {
  const work = userTempDir('walg-module-retry-');
  const store = join(work, 'store');
  const sock = join(work, 'push.sock');
  const primary = await initCluster({ archive_mode: 'on' });
  const lib = join(primary.baseDir, 'lib');
  mkdirSync(lib, { recursive: true });
  copyFileSync(MODULE, join(lib, 'walg_archive.so'));
  primary.configure({ dynamic_library_path: `${lib}:$libdir`, archive_library: 'walg_archive', 'walg_archive.socket': sock });
  const failed = async () => Number(await sql(primary, 'select failed_count from pg_stat_archiver'));
  let wrong: ClusterDaemon | undefined;
  let right: ClusterDaemon | undefined;
  try {
    await primary.start();
    const first = await sql(primary, 'select pg_walfile_name(pg_switch_wal())');
    await until('a failed attempt without a daemon', 60_000, async () => (await failed()) > 0);
    assert.match(readFileSync(primary.logFile, 'utf8'), new RegExp(`WARNING:  walg_archive: archiving "${first}" through "${sock.replace(/[.]/g, '\\.')}" failed: (connect|socket)`));
    // A daemon whose PGDATA is elsewhere: it cannot find the file and answers E.
    const elsewhere = join(work, 'elsewhere');
    mkdirSync(join(elsewhere, 'pg_wal'), { recursive: true });
    execFileSync('chown', ['-R', `${pgIdentity().uid}:${pgIdentity().gid}`, elsewhere]);
    wrong = new ClusterDaemon(sock, daemonConfig(join(work, 'wrong.json'), store, elsewhere));
    await wrong.ready();
    await until('the daemon\'s E reported', 60_000, async () => readFileSync(primary.logFile, 'utf8').includes(`walg_archive: the daemon at "${sock}" answered 'E' for "${first}"`));
    assert.equal(await sql(primary, 'select last_archived_wal is null from pg_stat_archiver'), 't', 'nothing counted as archived');
    assert.equal(await wrong.stop(), 0);
    right = new ClusterDaemon(sock, daemonConfig(join(work, 'right.json'), store, primary.dataDir));
    await right.ready();
    const before = await failed();
    await until('the archiver to catch up', 60_000, async () => (await sql(primary, 'select last_archived_wal from pg_stat_archiver')) === first);
    const seg = await openArchivedWal(new FileStorage(store), first, { decompressorCache: null });
    assert.ok((await readAll(seg.stream)).equals(readFileSync(join(primary.dataDir, 'pg_wal', first))), 'stored byte-identical');
    const next = await sql(primary, 'select pg_walfile_name(pg_switch_wal())');
    await until('the next segment', 60_000, async () => (await sql(primary, 'select last_archived_wal from pg_stat_archiver')) === next);
    assert.ok((await failed()) - before <= 1, 'no more failures once the daemon answers O');
  } finally {
    await wrong?.stop('SIGKILL');
    await right?.stop('SIGKILL');
    await primary.destroy();
    rmSync(work, { recursive: true, force: true });
  }
});
