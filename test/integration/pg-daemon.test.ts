// The daemon on a real PostgreSQL 15: archive_command = `wal-g daemon-client <socket> wal-push %p` against a running
// `wal-g daemon` under pgbench load, every segment byte-identical in storage; a pg_basebackup copy replays the
// archive through restore_command = `daemon-client <socket> wal-fetch %f %p` and holds the same data; wal-verify says
// OK on the complete archive (live database) and names the segment deleted afterwards (--timeline/--lsn).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { initCluster, clusterFromDir, userTempDir, writeUserFile, PG_BIN } from '../servers/postgres.ts';
import type { PgCluster } from '../servers/postgres.ts';
import { WALG_BIN, baseEnv, walg } from '../helpers/cli.ts';
import { sql, pgbench, execAs, until, fingerprint, switchAndWaitForArchiver } from '../helpers/pg-exec.ts';
import { ClusterDaemon } from '../helpers/cluster-daemon.ts';
import { FileStorage } from '../../src/storage/drivers/fs.ts';
import { readAll } from '../../src/storage/body.ts';
import { openArchivedWal } from '../../src/pg/wal/fetch.ts';
import { isWalSegmentName } from '../../src/pg/wal-name.ts';




test('PG 15 through wal-g daemon: archive under load, replay via daemon-client, wal-verify', { timeout: 240_000 }, async (t) => {
  const t0 = Date.now();
  const mark = (what: string) => t.diagnostic(`${((Date.now() - t0) / 1000).toFixed(1)} s: ${what}`);
  const work = userTempDir('walg-pgd-');
  const store = join(work, 'store');
  const pushSock = join(work, 'push.sock');
  const fetchSock = join(work, 'fetch.sock');
  const pushLog = join(work, 'push.log');
  const fetchLog = join(work, 'fetch.log');
  const pushCfg = join(work, 'push.json');
  const fetchCfg = join(work, 'fetch.json');
  for (const f of [pushLog, fetchLog]) writeUserFile(f, '');

  const primary = await initCluster({
    archive_mode: 'on', archive_command: `${WALG_BIN} daemon-client ${pushSock} wal-push %p`,
    wal_keep_size: '4GB', max_wal_size: '4GB', checkpoint_timeout: '30min',
  });
  const base = join(primary.baseDir, 'basebackup');
  writeUserFile(pushCfg, JSON.stringify({
    WALG_FILE_PREFIX: store, WALG_COMPRESSION_METHOD: 'lz4', PGDATA: primary.dataDir, WALG_UPLOAD_CONCURRENCY: '4', WALG_LOG_DESTINATION: pushLog,
  }));
  writeUserFile(fetchCfg, JSON.stringify({
    WALG_FILE_PREFIX: store, PGDATA: base, WALG_DOWNLOAD_CONCURRENCY: '4', WALG_LOG_LEVEL: 'DEVEL', WALG_LOG_DESTINATION: fetchLog,
  }));
  for (const f of [pushCfg, fetchCfg]) chmodSync(f, 0o644);
  const pusher = new ClusterDaemon(pushSock, pushCfg);
  let fetcher: ClusterDaemon | undefined;
  let replica: PgCluster | undefined;
  try {
    await pusher.ready();
    await primary.start();
    await execAs(join(PG_BIN, 'pg_basebackup'), ['-D', base, '-X', 'fetch', '-c', 'fast'], primary.env);
    mark('daemon up, cluster started, base backup taken');

    await pgbench(primary, ['-i', '-s', '5', '-q']);
    await pgbench(primary, ['-T', '15', '-c', '4', '-j', '2']);
    mark('pgbench done');
    const expected = await fingerprint(primary);
    const { switchLsn, lastSeg, count: archivedCount } = await switchAndWaitForArchiver(primary);
    mark(`archived ${archivedCount} files up to ${lastSeg} through the daemon`);

    // Every archived segment still in pg_wal is in storage and decodes to the same bytes.
    const storage = new FileStorage(store);
    const pgWal = join(primary.dataDir, 'pg_wal');
    const done = readdirSync(join(pgWal, 'archive_status')).filter((f) => f.endsWith('.done')).map((f) => f.slice(0, -5))
      .filter(isWalSegmentName).sort();
    assert.ok(done.length >= 6, `${done.length} archived segments`);
    for (const seg of done) {
      const obj = await openArchivedWal(storage, seg, { decompressorCache: null });
      assert.equal(obj.key, `wal_005/${seg}.lz4`);
      assert.ok((await readAll(obj.stream)).equals(readFileSync(join(pgWal, seg))), `${seg} decodes byte-identical`);
    }
    assert.equal(done[0], '000000010000000000000001', 'archive starts at the first segment');
    mark(`${done.length} segments compared`);
    const plog = readFileSync(pushLog, 'utf8');
    assert.ok((plog.match(/^INFO: \S+ \S+ FILE PATH: wal_005\/[0-9A-F]{24}\.lz4$/mg) ?? []).length >= done.length - 1, 'the daemon uploaded the segments');
    assert.doesNotMatch(plog, /^ERROR: /m);
    assert.doesNotMatch(readFileSync(primary.logFile, 'utf8'), /archive command failed/);

    // wal-verify against the live cluster: the whole archive, no backups → scanned down to segment 1.
    const verifyEnv = baseEnv({ WALG_FILE_PREFIX: store, ...primary.env });
    const live = await walg(['wal-verify', 'integrity', 'timeline', '--json'], verifyEnv);
    assert.equal(live.code, 0, live.stderr);
    const liveOut = JSON.parse(live.stdout.toString()) as { integrity: { status: string; details: Array<{ start_segment: string; status: string }> }; timeline: { status: string } };
    assert.equal(liveOut.integrity.status, 'OK', live.stdout.toString());
    assert.equal(liveOut.timeline.status, 'OK');
    assert.equal(liveOut.integrity.details[0]!.start_segment, '000000010000000000000001');
    assert.match(live.stderr, /INFO: \S+ \S+ Current WAL segment: [0-9A-F]{24}/);
    await primary.stop();
    mark('wal-verify OK on the live cluster');

    // Archive recovery of the base backup through a second daemon whose PGDATA is the copy.
    fetcher = new ClusterDaemon(fetchSock, fetchCfg);
    await fetcher.ready();
    replica = await clusterFromDir(primary.baseDir, base);
    replica.configure({
      archive_mode: 'off', recovery_target_timeline: 'latest',
      restore_command: `${WALG_BIN} daemon-client ${fetchSock} wal-fetch %f %p`,
    });
    writeUserFile(join(base, 'recovery.signal'), '');
    const r0 = Date.now();
    await replica.start();
    await until('recovery to finish', 120_000, async () => (await sql(replica!, 'select pg_is_in_recovery()')) === 'f');
    mark(`replayed the archive through the daemon in ${((Date.now() - r0) / 1000).toFixed(1)} s`);
    assert.equal(await fingerprint(replica), expected);
    const flog = readFileSync(fetchLog, 'utf8');
    assert.ok((flog.match(/Successful prefetch for file/g) ?? []).length >= 3, 'segments served from the daemon\'s in-process prefetch');
    assert.match(flog, /^WARNING: \S+ \S+ ArchiveNonExistenceError: Archive '[0-9A-F]{24}' does not exist\.$/m, 'end of archive answered N (exit 74)');
    assert.doesNotMatch(flog, /^ERROR: /m);
    const rserver = readFileSync(replica.logFile, 'utf8');
    assert.match(rserver, /restored log file "[0-9A-F]{24}" from archive/);
    assert.match(rserver, /archive recovery complete/);
    await replica.stop();

    // Delete the second segment. With an upload window of 1 (only the newest segment may still be uploading), it is
    // MISSING_LOST however few segments the load produced on a slow machine: wal-verify and wal-show name it.
    const victim = done.filter((n) => /^[0-9A-F]{24}$/.test(n)).sort()[1]!;
    await storage.delete([`wal_005/${victim}.lz4`]);
    const env = baseEnv({ WALG_FILE_PREFIX: store, WALG_UPLOAD_CONCURRENCY: '1' });
    const v = await walg(['wal-verify', 'integrity', 'timeline', '--json', '--timeline', '1', '--lsn', switchLsn], env);
    assert.equal(v.code, 0, 'wal-verify exits 0 on FAILURE');
    const out = JSON.parse(v.stdout.toString()) as { integrity: { status: string; details: Array<{ start_segment: string; end_segment: string; status: string }> } };
    assert.equal(out.integrity.status, 'FAILURE');
    const bad = out.integrity.details.filter((d) => d.status !== 'FOUND');
    assert.deepEqual(bad.map((d) => [d.start_segment, d.end_segment, d.status]), [[victim, victim, 'MISSING_LOST']]);
    const table = await walg(['wal-verify', 'integrity', '--timeline', '1', '--lsn', switchLsn], env);
    assert.match(table.stdout.toString(), new RegExp(`\\| ${victim} \\| ${victim} \\|\\s+1 \\| MISSING_LOST \\|`));
    const show = await walg(['wal-show', '--detailed-json'], env);
    const tl1 = (JSON.parse(show.stdout.toString()) as Array<{ id: number; missing_segments: string[]; status: string }>).find((x) => x.id === 1)!;
    assert.deepEqual([tl1.missing_segments, tl1.status], [[victim], 'LOST_SEGMENTS']);
    mark(`deleted ${victim}: wal-verify FAILURE and wal-show LOST_SEGMENTS name it`);

    assert.deepEqual([await pusher.stop(), await fetcher.stop()], [0, 0], 'daemons stop cleanly on SIGTERM');
    assert.deepEqual([existsSync(pushSock), existsSync(fetchSock)], [false, false], 'and remove their sockets');
  } finally {
    await replica?.stop('immediate');
    await pusher.stop();
    await fetcher?.stop();
    await primary.destroy();
    rmSync(work, { recursive: true, force: true });
  }
});
