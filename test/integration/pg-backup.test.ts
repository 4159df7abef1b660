// Issue #4 acceptance 1 and 3 on a real PostgreSQL 15: WAL archived with wal-push, backup-push while pgbench
// writes, a named restore point, later writes, the cluster destroyed, backup-fetch LATEST + wal-fetch recovery to
// the restore point -> same pg_dumpall, clean amcheck, later writes absent. Variants: a tablespace outside PGDATA
// (restored in place, then relocated with --restore-spec), S3 (Swift s3api) with libsodium; plus kill -9 of a
// backup-push mid-upload (no backup listed, the next push works).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { chmodSync, existsSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { initCluster, clusterFromDir, runAs, userTempDir, writeUserFile, pgIdentity, PG_BIN } from '../servers/postgres.ts';
import type { PgCluster } from '../servers/postgres.ts';
import { startSwift, createContainer } from '../servers/swift.ts';
import type { SwiftServer } from '../servers/swift.ts';
import { WALG_BIN, walg, baseEnv, LOG_LINE } from '../helpers/cli.ts';
import { until } from '../helpers/pg-exec.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));


let swiftP: Promise<SwiftServer> | undefined;
after(async () => { if (swiftP) await (await swiftP).stop(); });

/** Storage + codec settings of one scenario, as a config file readable by the cluster user (archive/restore_command). */
interface Setup { settings: Record<string, string>; cfg: string; work: string }

function makeSetup(work: string, settings: Record<string, string>): Setup {
  const cfg = join(work, 'walg.json');
  writeUserFile(cfg, JSON.stringify(settings));
  chmodSync(cfg, 0o644);
  return { settings, cfg, work };
}

/** Runs the CLI as root (like an operator) with the scenario's config and the cluster's PG* variables. */
async function cli(s: Setup, args: string[], pg?: PgCluster): Promise<{ code: number; stderr: string }> {
  const r = await walg([...args, '--config', s.cfg], baseEnv(pg ? pg.env : {}));
  for (const l of r.stderr.split('\n').filter(Boolean)) assert.match(l, LOG_LINE, `log line shape: ${l}`);
  return { code: r.code, stderr: r.stderr };
}

async function listNames(s: Setup): Promise<string[]> {
  const r = await walg(['backup-list', '--json', '--config', s.cfg], baseEnv());
  if (r.code !== 0) throw new Error(`backup-list failed: ${r.stderr}`);
  const out = r.stdout.toString().trim();
  return out ? (JSON.parse(out) as { backup_name: string }[]).map((b) => b.backup_name) : [];
}

/** Waits until the archiver has shipped `seg`. */
async function archived(c: PgCluster, seg: string): Promise<void> {
  await until(`archiving of ${seg}`, 90_000, async () => {
    assert.equal(await c.psql('select failed_count from pg_stat_archiver'), '0', 'archive_command never fails');
    // last_archived_wal may be a .backup file archived after a later segment: also look for <seg>.done.
    return (await c.psql(`select (coalesce(left(last_archived_wal, 24), '') >= '${seg}') or exists (select 1 from pg_ls_archive_statusdir() where name = '${seg}.done') from pg_stat_archiver`)) === 't';
  });
}

async function switchAndArchive(c: PgCluster): Promise<void> {
  const lsn = await c.psql('select pg_switch_wal()');
  await archived(c, await c.psql(`select pg_walfile_name('${lsn}')`));
}

/** amcheck over every table and btree index of every database. */
async function amcheck(c: PgCluster): Promise<void> {
  const r = await runAs(join(PG_BIN, 'pg_amcheck'), ['--all', '--install-missing', '--heapallindexed'], { env: c.env, allowFail: true });
  assert.equal(r.code, 0, `pg_amcheck: ${r.stdout}${r.stderr}`);
}

interface Source {
  cluster: PgCluster;
  dump: string;
  tablespace?: string;
  /** pg_tblspc/<oid> of the tablespace. */
  tablespaceOid?: string;
  backup: string;
}

/**
 * Builds the source side: cluster archiving through wal-push, optional tablespace, pgbench running during
 * backup-push, then rp1 with a dump taken at that moment, then later writes (absent after recovery).
 */
async function makeSource(t: { diagnostic(s: string): void }, s: Setup, opts: { tablespace: boolean; killFirst?: boolean }): Promise<Source> {
  const c = await initCluster({
    archive_mode: 'on', archive_command: `${WALG_BIN} wal-push %p --config ${s.cfg}`, max_wal_size: '1GB', checkpoint_timeout: '30min',
  });
  try {
    return await prepareSource(t, s, opts, c);
  } catch (err) {
    await c.destroy();
    throw err;
  }
}

async function prepareSource(t: { diagnostic(s: string): void }, s: Setup, opts: { tablespace: boolean; killFirst?: boolean }, c: PgCluster): Promise<Source> {
  const t0 = Date.now();
  const mark = (what: string) => t.diagnostic(`${((Date.now() - t0) / 1000).toFixed(1)} s: ${what}`);
  await c.start();
  let tablespace: string | undefined;
  let tablespaceOid: string | undefined;
  if (opts.tablespace) {
    tablespace = join(userTempDir('walg-ts-'), 'ts1');
    await runAs('mkdir', ['-m', '700', tablespace]);
    await c.psql(`create tablespace ts1 location '${tablespace}'`);
    tablespaceOid = await c.psql(`select oid from pg_tablespace where spcname = 'ts1'`);
  }
  await c.pgbench(['-i', '-s', '3', '-q']);
  await c.psql(`create table marker (id int primary key, tag text not null, at timestamptz default now())${opts.tablespace ? ' tablespace ts1' : ''};
    create index marker_tag on marker(tag)${opts.tablespace ? ' tablespace ts1' : ''};
    insert into marker(id, tag) select g, 'initial-' || g from generate_series(1, 1000) g`);
  if (opts.tablespace) await c.psql('create table ts_accounts tablespace ts1 as select * from pgbench_accounts where aid % 7 = 0; create index on ts_accounts(aid) tablespace ts1');
  await switchAndArchive(c);
  mark('cluster ready, WAL archived');

  if (opts.killFirst) {
    // acceptance 3: kill -9 in the middle of the upload (slowed down by a network rate limit).
    const before = await listNames(s);
    const child = spawn(WALG_BIN, ['backup-push', c.dataDir, '--config', s.cfg], {
      env: baseEnv({ ...c.env, WALG_NETWORK_RATE_LIMIT: String(2 * 1024 * 1024), WALG_TAR_SIZE_THRESHOLD: String(8 * 1024 * 1024) }),
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let err = '';
    child.stderr!.on('data', (d: Buffer) => { err += d.toString(); });
    const exited = new Promise<number | null>((r) => child.on('close', (code) => r(code)));
    // Killed once a part is complete and others are still being written and uploaded.
    await until('a first finished tar part', 60_000, async () => /Finished writing part /.test(err));
    await sleep(300);
    child.kill('SIGKILL');
    assert.equal(await exited, null, `killed (stderr: ${err})`);
    assert.deepEqual(await listNames(s), before, 'a killed backup-push is not listed');
    const objects = (await walg(['st', 'ls', '-r', 'basebackups_005/', '--config', s.cfg], baseEnv())).stdout.toString();
    assert.match(objects, /part_\d+\.tar\.lz4/, 'some tar parts of the killed push reached the storage');
    assert.doesNotMatch(objects, /_backup_stop_sentinel\.json/);
    const latest = await cli(s, ['backup-fetch', join(s.work, 'never'), 'LATEST']);
    if (before.length === 0) assert.match(latest.stderr, /No backups found/);
    mark('killed backup-push left no backup');
  }

  // pgbench writes during backup-push.
  const bench = c.pgbench(['-T', '12', '-c', '2', '-j', '2', '-n']);
  await sleep(1000);
  const push = await cli(s, ['backup-push', c.dataDir], c);
  assert.equal(push.code, 0, push.stderr);
  assert.match(push.stderr, /INFO: .* Backup will be pushed to storage: default$/m);
  const backup = /Wrote backup with name (base_[0-9A-F]{24}) to storage default$/m.exec(push.stderr)?.[1];
  assert.ok(backup, push.stderr);
  const benchResult = await bench;
  assert.match(benchResult.stdout, /number of transactions actually processed: [1-9]/);
  mark(`backup-push ${backup} done while pgbench ran`);

  // The restore point, with the data it must show.
  // (no sequences: their WAL-logged prefetch would make a replayed setval differ from the dump)
  await c.psql(`insert into marker(id, tag) values (5000, 'before-rp')`);
  const dump = await c.dumpAll();
  await c.psql(`select pg_create_restore_point('rp1')`);
  await switchAndArchive(c);
  // Later writes that recovery must not replay.
  await c.psql(`insert into marker(id, tag) select 100000 + g, 'after-rp-' || g from generate_series(1, 500) g; update pgbench_accounts set abalance = abalance + 1 where aid < 100`);
  await switchAndArchive(c);
  mark('restore point rp1, later writes archived');
  return { cluster: c, dump, tablespace, tablespaceOid, backup };
}

/** backup-fetch + recovery to rp1; checks the dump, amcheck, and that later writes are absent. */
async function restoreAndCheck(t: { diagnostic(s: string): void }, s: Setup, src: Source, opts: { name: string; relocateTo?: string } ): Promise<void> {
  const t0 = Date.now();
  const base = userTempDir('walg-restore-');
  const data = join(base, 'data');
  try {
    const args = ['backup-fetch', data, opts.name];
    let expected = src.dump;
    if (opts.relocateTo) {
      const spec = join(base, 'spec.json');
      writeFileSync(spec, JSON.stringify({ base_prefix: data, tablespaces: ['TSOID'], TSOID: { loc: opts.relocateTo, link: 'pg_tblspc/TSOID' } })
        .replaceAll('TSOID', src.tablespaceOid!));
      args.push('--restore-spec', spec);
      expected = expected.replaceAll(src.tablespace!, opts.relocateTo);
    }
    const r = await cli(s, args);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /Backup extraction complete\.$/m);
    assert.equal((execFileSync('stat', ['-c', '%a', data]).toString().trim()), '700');
    const tsDir = opts.relocateTo ?? src.tablespace;
    if (tsDir) {
      const id = pgIdentity();
      execFileSync('chown', ['-R', `${id.uid}:${id.gid}`, tsDir]);
      assert.ok(readdirSync(tsDir).some((n) => n.startsWith('PG_15_')), 'tablespace files restored to their location');
    }
    assert.ok(existsSync(join(data, 'pg_wal')) && readdirSync(join(data, 'pg_wal')).length === 0, 'pg_wal recreated empty');
    const restored = await clusterFromDir(base, data);
    restored.configure({
      archive_mode: 'off', restore_command: `${WALG_BIN} wal-fetch %f %p --config ${s.cfg}`,
      recovery_target_name: 'rp1', recovery_target_action: 'promote',
    });
    writeUserFile(join(data, 'recovery.signal'), '');
    await restored.start();
    try {
      await until('recovery to reach rp1 and promote', 120_000, async () => (await restored.psql('select pg_is_in_recovery()')) === 'f');
      assert.match(readFileSync(restored.logFile, 'utf8'), /recovery stopping at restore point "rp1"/);
      const dump = await restored.dumpAll();
      assert.ok(dump === expected, 'pg_dumpall after recovery equals the dump at the restore point');
      assert.equal(await restored.psql(`select count(*) from marker where tag like 'after-rp%'`), '0', 'later writes absent');
      assert.equal(await restored.psql(`select count(*) from marker where tag = 'before-rp'`), '1');
      await amcheck(restored);
      t.diagnostic(`restore of ${opts.name}${opts.relocateTo ? ' (relocated)' : ''} verified in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    } finally {
      await restored.stop('immediate');
    }
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
}

test('file storage, tablespace outside PGDATA: kill -9 leaves nothing; PITR to rp1 in place and relocated', { timeout: 240_000 }, async (t) => {
  const work = userTempDir('walg-pgbackup-');
  const s = makeSetup(work, {
    WALG_FILE_PREFIX: join(work, 'store'), WALG_COMPRESSION_METHOD: 'lz4', WALG_UPLOAD_DISK_CONCURRENCY: '2',
    WALG_TAR_SIZE_THRESHOLD: String(16 * 1024 * 1024), WALG_DOWNLOAD_CONCURRENCY: '4',
  });
  let src: Source | undefined;
  let tsParent: string | undefined;
  try {
    src = await makeSource(t, s, { tablespace: true, killFirst: true });
    assert.deepEqual(await listNames(s), [src.backup]);
    tsParent = join(src.tablespace!, '..');
    await src.cluster.destroy();
    rmSync(src.tablespace!, { recursive: true, force: true });
    assert.ok(!existsSync(src.cluster.dataDir));
    // restored to its original place, once the original is gone
    await restoreAndCheck(t, s, src, { name: 'LATEST' });
    // the same backup relocated with --restore-spec (the in-place copy is still there)
    await restoreAndCheck(t, s, src, { name: src.backup, relocateTo: join(tsParent, 'ts-relocated') });
  } finally {
    await src?.cluster.destroy();
    if (tsParent) rmSync(tsParent, { recursive: true, force: true });
    rmSync(work, { recursive: true, force: true });
  }
});

test('S3 (Swift s3api) with libsodium encryption: PITR to rp1', { timeout: 240_000 }, async (t) => {
  swiftP ??= startSwift();
  const srv = await swiftP;
  const bucket = `walg-pgb-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
  await createContainer(srv, bucket);
  const work = userTempDir('walg-pgbackup-s3-');
  const s = makeSetup(work, {
    WALG_S3_PREFIX: `s3://${bucket}/cluster1`, AWS_ENDPOINT: srv.s3Endpoint, AWS_S3_FORCE_PATH_STYLE: 'true', AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: srv.user, AWS_SECRET_ACCESS_KEY: srv.key,
    WALG_LIBSODIUM_KEY: randomBytes(32).toString('hex'), WALG_LIBSODIUM_KEY_TRANSFORM: 'hex',
    WALG_COMPRESSION_METHOD: 'zstd', WALG_UPLOAD_CONCURRENCY: '4',
  });
  let src: Source | undefined;
  try {
    src = await makeSource(t, s, { tablespace: false });
    // The tars in the bucket are encrypted: the libsodium header, not a zstd frame.
    const raw = await walg(['st', 'cat', `basebackups_005/${src.backup}/tar_partitions/pg_control.tar.zst`, '--config', s.cfg], baseEnv());
    assert.equal(raw.code, 0, raw.stderr);
    assert.notEqual(raw.stdout.readUInt32LE(0), 0xfd2fb528, 'not a plain zstd frame');
    await src.cluster.destroy();
    await restoreAndCheck(t, s, src, { name: 'LATEST' });
  } finally {
    await src?.cluster.destroy();
    rmSync(work, { recursive: true, force: true });
  }
});
