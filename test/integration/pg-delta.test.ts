// Issue #5 acceptance 2 and 3 on a real PostgreSQL 15: a full backup then three deltas with pgbench writes between
// them; each of the four restored (backup-fetch rebuilds the chain, WAL replayed to the backup's end point) gives
// the pg_dumpall taken when it was pushed, amcheck clean; a chain longer than WALG_DELTA_MAX_STEPS starts a new
// full backup; delete target / retain on the real chain. And a page corrupted on disk is reported by
// `backup-push --verify` with its file and block number, and recorded in files_metadata.json.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, openSync, readFileSync, rmSync, writeSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import { initCluster, clusterFromDir, runAs, userTempDir, writeUserFile, PG_BIN } from '../servers/postgres.ts';
import type { PgCluster } from '../servers/postgres.ts';
import { WALG_BIN, walg, baseEnv, LOG_LINE } from '../helpers/cli.ts';
import { until } from '../helpers/pg-exec.ts';

interface Setup { cfg: string; work: string }

function makeSetup(work: string, settings: Record<string, string>): Setup {
  const cfg = join(work, 'walg.json');
  writeUserFile(cfg, JSON.stringify(settings));
  chmodSync(cfg, 0o644);
  return { cfg, work };
}

async function cli(s: Setup, args: string[], pg?: PgCluster): Promise<{ code: number; stdout: string; stderr: string }> {
  const r = await walg([...args, '--config', s.cfg], baseEnv(pg ? pg.env : {}));
  for (const l of r.stderr.split('\n').filter(Boolean)) assert.match(l, LOG_LINE, `log line shape: ${l}`);
  return { code: r.code, stdout: r.stdout.toString(), stderr: r.stderr };
}

async function push(s: Setup, c: PgCluster, extra: string[] = []): Promise<{ name: string; stderr: string }> {
  const r = await cli(s, ['backup-push', c.dataDir, ...extra], c);
  assert.equal(r.code, 0, r.stderr);
  const name = /Wrote backup with name (base_\S+) to storage default$/m.exec(r.stderr)?.[1];
  assert.ok(name, r.stderr);
  return { name, stderr: r.stderr };
}

async function listNames(s: Setup): Promise<string[]> {
  const r = await cli(s, ['backup-list', '--json']);
  assert.equal(r.code, 0, r.stderr);
  const out = r.stdout.trim();
  return out ? (JSON.parse(out) as { backup_name: string }[]).map((b) => b.backup_name) : [];
}

async function catJson(s: Setup, key: string): Promise<Record<string, any>> {
  const r = await cli(s, ['st', 'cat', key]);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as Record<string, any>;
}

/** Switches WAL and waits until that segment is archived (last_archived_wal may name a later .backup file). */
async function switchAndArchive(c: PgCluster): Promise<void> {
  const lsn = await c.psql('select pg_switch_wal()');
  const seg = await c.psql(`select pg_walfile_name('${lsn}')`);
  await until(`archiving of ${seg}`, 90_000, async () => {
    assert.equal(await c.psql('select failed_count from pg_stat_archiver'), '0', 'archive_command never fails');
    return (await c.psql(`select (coalesce(left(last_archived_wal, 24), '') >= '${seg}') or exists (select 1 from pg_ls_archive_statusdir() where name = '${seg}.done') from pg_stat_archiver`)) === 't';
  });
}

async function amcheck(c: PgCluster): Promise<void> {
  const r = await runAs(join(PG_BIN, 'pg_amcheck'), ['--all', '--install-missing', '--heapallindexed'], { env: c.env, allowFail: true });
  assert.equal(r.code, 0, `pg_amcheck: ${r.stdout}${r.stderr}`);
}

/** backup-fetch `name`, replay WAL to the backup's end point (recovery_target immediate), compare the dump. */
async function restoreAndCheck(s: Setup, name: string, expected: string): Promise<string> {
  const base = userTempDir('walg-delta-restore-');
  const data = join(base, 'data');
  try {
    const r = await cli(s, ['backup-fetch', data, name]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /Backup extraction complete\.$/m);
    const restored = await clusterFromDir(base, data);
    restored.configure({
      archive_mode: 'off', restore_command: `${WALG_BIN} wal-fetch %f %p --config ${s.cfg}`,
      recovery_target: 'immediate', recovery_target_action: 'promote',
    });
    writeUserFile(join(data, 'recovery.signal'), '');
    await restored.start();
    try {
      await until(`recovery of ${name} to promote`, 120_000, async () => (await restored.psql('select pg_is_in_recovery()')) === 'f');
      const dump = await restored.dumpAll();
      assert.ok(dump === expected, `pg_dumpall of restored ${name} equals the dump taken when it was pushed`);
      await amcheck(restored);
    } finally {
      await restored.stop('immediate');
    }
    return r.stderr;
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
}

test('full + three deltas with pgbench between: each restores to its own dump; max steps; delete on the chain', { timeout: 300_000 }, async (t) => {
  const work = userTempDir('walg-delta-');
  const s = makeSetup(work, {
    WALG_FILE_PREFIX: join(work, 'store'), WALG_COMPRESSION_METHOD: 'lz4', WALG_DELTA_MAX_STEPS: '3',
    WALG_UPLOAD_DISK_CONCURRENCY: '2', WALG_TAR_SIZE_THRESHOLD: String(16 * 1024 * 1024),
  });
  const c = await initCluster({
    archive_mode: 'on', archive_command: `${WALG_BIN} wal-push %p --config ${s.cfg}`, max_wal_size: '1GB', checkpoint_timeout: '30min',
    autovacuum: 'off',
  });
  const t0 = Date.now();
  const mark = (what: string) => t.diagnostic(`${((Date.now() - t0) / 1000).toFixed(1)} s: ${what}`);
  try {
    await c.start();
    await c.pgbench(['-i', '-s', '5', '-q']);
    await switchAndArchive(c);
    // No writes between a push and its dump: the restored state at the backup's end point is exactly the dump.
    const backups: { name: string; dump: string; stderr: string }[] = [];
    for (let i = 0; i < 4; i++) {
      if (i > 0) await c.pgbench(['-t', '300', '-c', '2', '-n']);
      const p = await push(s, c);
      backups.push({ ...p, dump: await c.dumpAll() });
      mark(`push ${i}: ${p.name}`);
    }
    const [full, d1, d2, d3] = backups as [typeof backups[0], typeof backups[0], typeof backups[0], typeof backups[0]];
    assert.match(full.name, /^base_[0-9A-F]{24}$/);
    assert.match(full.stderr, /Couldn't find previous backup\. Doing full backup\./);
    const walOf = (n: string) => n.slice(5, 29);
    assert.equal(d1.name, `base_${walOf(d1.name)}_D_${walOf(full.name)}`);
    assert.equal(d2.name, `base_${walOf(d2.name)}_D_${walOf(d1.name)}`);
    assert.equal(d3.name, `base_${walOf(d3.name)}_D_${walOf(d2.name)}`);

    // Sentinels chain as WAL-G's do.
    const sentinels = await Promise.all(backups.map((b) => catJson(s, `basebackups_005/${b.name}_backup_stop_sentinel.json`)));
    assert.equal(sentinels[0]!.DeltaFrom, undefined);
    for (let i = 1; i < 4; i++) {
      assert.equal(sentinels[i]!.DeltaFrom, backups[i - 1]!.name);
      assert.equal(sentinels[i]!.DeltaFullName, full.name);
      assert.equal(sentinels[i]!.DeltaCount, i);
      assert.equal(sentinels[i]!.DeltaLSN, sentinels[i - 1]!.LSN);
      // ~600 transactions touch a few percent of the pages: a delta is a small fraction of the full backup.
      assert.ok(sentinels[i]!.UncompressedSize < sentinels[0]!.UncompressedSize / 4,
        `delta ${i} stores ${sentinels[i]!.UncompressedSize} bytes, full ${sentinels[0]!.UncompressedSize}`);
    }
    const fm = await catJson(s, `basebackups_005/${d1.name}/files_metadata.json`);
    const accounts = await c.psql(`select pg_relation_filepath('pgbench_accounts')`);
    assert.equal(fm.Files[`/${accounts}`].IsIncremented, true, 'the updated table is stored as an increment');
    const skipped = Object.values(fm.Files as Record<string, { IsSkipped: boolean }>).filter((f) => f.IsSkipped).length;
    assert.ok(skipped > 100, `unchanged files are skipped (${skipped})`);
    t.diagnostic(`sizes: full ${sentinels[0]!.UncompressedSize}, deltas ${sentinels.slice(1).map((x) => x.UncompressedSize).join(', ')}; ${skipped} files skipped in delta 1`);

    // A fourth delta would exceed WALG_DELTA_MAX_STEPS=3: a new full backup.
    await c.pgbench(['-t', '100', '-c', '2', '-n']);
    const next = await push(s, c);
    assert.match(next.name, /^base_[0-9A-F]{24}$/, 'max steps reached: full backup');
    assert.match(next.stderr, /Reached max delta steps\. Doing full backup\./);
    await switchAndArchive(c);
    mark('pushes done, WAL archived');
    await c.stop();

    for (const b of backups) {
      const stderr = await restoreAndCheck(s, b.name, b.dump);
      if (b !== full) assert.match(stderr, new RegExp(`Applying delta backup ${b.name} on top of`));
      mark(`restored ${b.name}`);
    }

    // delete target on the real chain: the delta and the one depending on it go, the rest stays.
    const del = await cli(s, ['delete', 'target', d2.name, '--confirm']);
    assert.equal(del.code, 0, del.stderr);
    assert.deepEqual(await listNames(s), [full.name, d1.name, next.name]);
    // retain FULL 1: the whole older chain goes with its WAL; the newest full stays restorable.
    const ret = await cli(s, ['delete', 'retain', 'FULL', '1', '--confirm']);
    assert.equal(ret.code, 0, ret.stderr);
    assert.deepEqual(await listNames(s), [next.name]);
    const left = (await cli(s, ['st', 'ls', '-r', 'basebackups_005/'])).stdout;
    assert.doesNotMatch(left, new RegExp(walOf(full.name)), 'no object of the deleted chain is left');
  } finally {
    await c.destroy();
    rmSync(work, { recursive: true, force: true });
  }
});

test('backup-push --verify reports a page corrupted on disk with its file and block', { timeout: 180_000 }, async () => {
  const work = userTempDir('walg-verify-');
  const s = makeSetup(work, { WALG_FILE_PREFIX: join(work, 'store'), WALG_COMPRESSION_METHOD: 'lz4' });
  const c = await initCluster({ archive_mode: 'on', archive_command: `${WALG_BIN} wal-push %p --config ${s.cfg}`, autovacuum: 'off' });
  try {
    await c.start();
    await c.psql(`create table victim as select g as id, repeat('x', 200) as pad from generate_series(1, 20000) g; checkpoint`);
    const rel = await c.psql(`select pg_relation_filepath('victim')`);
    const pages = Number(await c.psql(`select pg_relation_size('victim') / 8192`));
    assert.ok(pages > 20);
    await c.stop();
    // Flip one byte in the middle of block 3 and 12 more blocks from 5 on, with the cluster stopped.
    const path = join(c.dataDir, rel);
    const corrupt = [3, ...Array.from({ length: 12 }, (_, i) => 5 + i)];
    const fd = openSync(path, 'r+');
    for (const b of corrupt) {
      const at = b * 8192 + 4000;
      const byte = Buffer.alloc(1);
      byte[0] = readFileSync(path).subarray(at, at + 1)[0]! ^ 0x5a;
      writeSync(fd, byte, 0, 1, at);
    }
    closeSync(fd);
    await c.start();

    const a = await push(s, c, ['--verify']);
    assert.match(a.stderr, /data_checksums is enabled in DB\./);
    for (const b of corrupt) assert.match(a.stderr, new RegExp(`WARNING: .* Corruption found in ${path.replace(/[.]/g, '\\.')}/\\[${b}\\]`));
    assert.match(a.stderr, /Page checksum verification found corrupt blocks in 1 file\(s\): .*\(blocks 3, 5, 6/);
    const fm = await catJson(s, `basebackups_005/${a.name}/files_metadata.json`);
    assert.deepEqual(fm.Files[`/${rel}`].CorruptBlocks, { CorruptBlocksCount: 13, SomeCorruptBlocks: corrupt.slice(0, 10) });
    const others = Object.entries(fm.Files as Record<string, { CorruptBlocks?: unknown }>).filter(([k, v]) => v.CorruptBlocks && k !== `/${rel}`);
    assert.deepEqual(others, [], 'no other file is reported');

    // --store-all-corrupt records every block; without --verify nothing is checked.
    const b = await push(s, c, ['--verify', '--store-all-corrupt', '--full']);
    const fm2 = await catJson(s, `basebackups_005/${b.name}/files_metadata.json`);
    assert.deepEqual(fm2.Files[`/${rel}`].CorruptBlocks, { CorruptBlocksCount: 13, SomeCorruptBlocks: corrupt });
    // Without --verify nothing is checked; a composer flag WAL-G accepts is accepted (regular grouping, said so).
    const plain = await push(s, c, ['--full', '--database-composer']);
    assert.doesNotMatch(plain.stderr, /Corruption found/);
    assert.match(plain.stderr, /WARNING: .* The database tar ball composer is not supported by this build: files are grouped by the regular composer/);
  } finally {
    await c.destroy();
    rmSync(work, { recursive: true, force: true });
  }
});
