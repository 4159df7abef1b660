// Continuous archiving and archive recovery on a real PostgreSQL 15: archive_command = wal-push (first draining a
// backlog of .ready files), pgbench load, every archived segment byte-identical in storage, then a pg_basebackup
// copy replays the whole archive through restore_command = wal-fetch (with prefetch) and holds the same data.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync, rmSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import { initCluster, clusterFromDir, userTempDir, writeUserFile, PG_BIN } from '../servers/postgres.ts';
import type { PgCluster } from '../servers/postgres.ts';
import { WALG_BIN } from '../helpers/cli.ts';
import { sql, pgbench, execAs, until, fingerprint, switchAndWaitForArchiver } from '../helpers/pg-exec.ts';
import { FileStorage } from '../../src/storage/drivers/fs.ts';
import { readAll } from '../../src/storage/body.ts';
import { openArchivedWal } from '../../src/pg/wal/fetch.ts';
import { isWalSegmentName } from '../../src/pg/wal-name.ts';




test('PG 15: wal-push archives everything byte-identically; wal-fetch replays the archive', { timeout: 300_000 }, async (t) => {
  const t0 = Date.now();
  const mark = (what: string) => t.diagnostic(`${((Date.now() - t0) / 1000).toFixed(1)} s: ${what}`);
  const work = userTempDir('walg-pgwal-');
  const store = join(work, 'store');
  const pushCfg = join(work, 'walg-push.json');
  const fetchCfg = join(work, 'walg-fetch.json');
  const fetchLog = join(work, 'wal-fetch.log');
  // archive_command runs as the cluster user with the server's environment: settings come from --config.
  writeUserFile(pushCfg, JSON.stringify({ WALG_FILE_PREFIX: store, WALG_COMPRESSION_METHOD: 'lz4', WALG_UPLOAD_CONCURRENCY: '4' }));
  writeUserFile(fetchCfg, JSON.stringify({
    WALG_FILE_PREFIX: store, WALG_DOWNLOAD_CONCURRENCY: '4', WALG_LOG_LEVEL: 'DEVEL', WALG_LOG_DESTINATION: fetchLog,
  }));
  for (const f of [pushCfg, fetchCfg]) chmodSync(f, 0o644);
  writeUserFile(fetchLog, '');

  // archive_mode on with an empty archive_command: Postgres keeps .ready files (a backlog) without failing.
  const primary = await initCluster({
    archive_mode: 'on', archive_command: '', wal_keep_size: '4GB', max_wal_size: '4GB', checkpoint_timeout: '30min',
  });
  let replica: PgCluster | undefined;
  try {
    await primary.start();
    const base = join(primary.baseDir, 'basebackup');
    await execAs(join(PG_BIN, 'pg_basebackup'), ['-D', base, '-X', 'fetch', '-c', 'fast'], primary.env);
    mark('base backup taken');

    await pgbench(primary, ['-i', '-s', '5', '-q']);
    for (let i = 0; i < 4; i++) await sql(primary, `insert into pgbench_history values (1, 1, ${i}, 0, now()); select pg_switch_wal()`);
    const statusDir = join(primary.dataDir, 'pg_wal', 'archive_status');
    const backlog = readdirSync(statusDir).filter((f) => f.endsWith('.ready'));
    assert.ok(backlog.length >= 5, `a backlog of .ready files exists (${backlog.length})`);
    mark(`${backlog.length} .ready files waiting`);

    const archiveCommand = `${WALG_BIN} wal-push %p --config ${pushCfg}`;
    await sql(primary, `alter system set archive_command = '${archiveCommand}'`);
    await sql(primary, 'select pg_reload_conf()');
    await pgbench(primary, ['-T', '30', '-c', '4', '-j', '2']);
    mark('pgbench done');

    const expected = await fingerprint(primary);
    const { lastSeg, count: archivedCount } = await switchAndWaitForArchiver(primary);
    mark(`archived ${archivedCount} files up to ${lastSeg}`);

    // Every archived segment still in pg_wal is in storage and decodes to the same bytes.
    const storage = new FileStorage(store);
    const pgWal = join(primary.dataDir, 'pg_wal');
    const done = readdirSync(statusDir).filter((f) => f.endsWith('.done')).map((f) => f.slice(0, -5)).filter(isWalSegmentName);
    assert.ok(done.length >= backlog.length, `${done.length} archived segments to compare`);
    for (const seg of done) {
      const obj = await openArchivedWal(storage, seg, { decompressorCache: null });
      assert.equal(obj.key, `wal_005/${seg}.lz4`);
      assert.ok((await readAll(obj.stream)).equals(readFileSync(join(pgWal, seg))), `${seg} decodes byte-identical`);
    }
    mark(`${done.length} segments compared`);
    // Backlog drained by background uploads: some wal-push call logged several uploads, and every marker was
    // consumed by Postgres' own later archive_command call.
    const serverLog = readFileSync(primary.logFile, 'utf8');
    const calls = serverLog.split(/^INFO: \S+ \S+ Files will be uploaded to storage: default$/m).slice(1);
    const maxPerCall = Math.max(...calls.map((c) => (c.match(/^INFO: \S+ \S+ FILE PATH: /mg) ?? []).length));
    assert.ok(maxPerCall >= 2, `one wal-push uploaded ${maxPerCall} files (background upload of .ready files)`);
    const markers = join(pgWal, 'walg_data', 'walg_archive_status');
    assert.deepEqual(existsSync(markers) ? readdirSync(markers) : [], [], 'no marker left behind');
    assert.doesNotMatch(serverLog, /^ERROR: /m);
    await primary.stop();

    // Archive recovery of the base backup through wal-fetch.
    replica = await clusterFromDir(primary.baseDir, base);
    replica.configure({
      archive_mode: 'off',
      restore_command: `${WALG_BIN} wal-fetch %f %p --config ${fetchCfg}`,
      recovery_target_timeline: 'latest',
    });
    writeUserFile(join(base, 'recovery.signal'), '');
    const r0 = Date.now();
    await replica.start();
    await until('recovery to finish', 180_000, async () => (await sql(replica!, 'select pg_is_in_recovery()')) === 'f');
    const replaySec = (Date.now() - r0) / 1000;
    mark(`replayed the archive in ${replaySec.toFixed(1)} s`);
    assert.equal(await fingerprint(replica), expected);

    const rlog = readFileSync(fetchLog, 'utf8');
    const served = (rlog.match(/Successful prefetch for file/g) ?? []).length;
    t.diagnostic(`segments served from the prefetch directory: ${served}; replay ${(done.length / replaySec).toFixed(1)} segments/s`);
    assert.ok(served >= 3, `prefetched segments were used (${served})`);
    assert.match(rlog, /^PREFETCH DEBUG: /m, 'the DEVEL prefetch child logs with the PREFETCH prefix');
    assert.match(rlog, /^ERROR: \S+ \S+ Archive '[0-9A-F]{24}' does not exist\.$/m, 'end of archive answered with 74');
    assert.ok(existsSync(join(base, 'pg_wal', '.wal-g', 'prefetch')));
    assert.deepEqual(readdirSync(join(base, 'pg_wal')).filter((f) => f.includes('wal-g-tmp')), [], 'no temp files in pg_wal');
    const rserver = readFileSync(replica.logFile, 'utf8');
    assert.match(rserver, /archive recovery complete/);
    assert.match(rserver, /restored log file "[0-9A-F]{24}" from archive/);
  } finally {
    await replica?.stop('immediate');
    await primary.destroy();
    rmSync(work, { recursive: true, force: true });
  }
});
