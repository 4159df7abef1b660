// One PostgreSQL 15 round trip through any configured storage (issue #7 acceptance 2): archive_command = wal-push,
// backup-push, later writes archived, the cluster stopped, backup-fetch LATEST into a new directory, archive
// recovery with restore_command = wal-fetch, and the pgbench fingerprint compared. Shared by the storage tests.

import assert from 'node:assert/strict';
import { chmodSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { initCluster, clusterFromDir, userTempDir, writeUserFile } from '../servers/postgres.ts';
import type { PgCluster } from '../servers/postgres.ts';
import { WALG_BIN, walg, baseEnv, LOG_LINE } from './cli.ts';
import { sql, pgbench, until, fingerprint, switchAndWaitForArchiver } from './pg-exec.ts';

/** What one round trip did, for the caller's diagnostics or extra assertions. */
export interface RoundTripResult {
  /** Name of the pushed backup (base_...). */
  backup: string;
  /** Segments PostgreSQL archived through wal-push (pg_stat_archiver.archived_count at the end). */
  archived: number;
  /** Wall time of the whole round trip in seconds. */
  seconds: number;
}

/**
 * Runs wal-push/wal-fetch and backup-push/backup-fetch against the storage that `storageEnv` configures
 * (e.g. { WALG_GS_PREFIX, STORAGE_EMULATOR_HOST }), with the CLI from source. The settings are written to a
 * config file readable by the cluster user, because archive_command and restore_command run as that user with
 * the server's environment. Asserts: every CLI call exits 0 with WAL-G-shaped log lines, the restored cluster
 * replayed WAL fetched from the storage, and its data fingerprint equals the source's after the later writes.
 * Small data (pgbench scale 1) so it stays well under 30 s. Cleans up its clusters and temp dirs, also on failure.
 */
export async function pgStorageRoundTrip(t: { diagnostic(s: string): void }, storageEnv: Record<string, string>): Promise<RoundTripResult> {
  const t0 = Date.now();
  const mark = (what: string) => t.diagnostic(`${((Date.now() - t0) / 1000).toFixed(1)} s: ${what}`);
  const work = userTempDir('walg-pg-rt-');
  const cfg = join(work, 'walg.json');
  writeUserFile(cfg, JSON.stringify({ WALG_COMPRESSION_METHOD: 'lz4', WALG_UPLOAD_CONCURRENCY: '4', ...storageEnv }));
  chmodSync(cfg, 0o644);

  const cli = async (args: string[], pg?: PgCluster): Promise<string> => {
    const r = await walg([...args, '--config', cfg], baseEnv(pg ? pg.env : {}));
    assert.equal(r.code, 0, `wal-g ${args[0]} exited ${r.code}: ${r.stderr}`);
    for (const l of r.stderr.split('\n').filter(Boolean)) assert.match(l, LOG_LINE, `log line shape: ${l}`);
    return r.stderr;
  };

  const source = await initCluster({
    archive_mode: 'on', archive_command: `${WALG_BIN} wal-push %p --config ${cfg}`,
    max_wal_size: '1GB', checkpoint_timeout: '30min',
  });
  let restored: PgCluster | undefined;
  const restoreBase = userTempDir('walg-pg-rt-restore-');
  try {
    await source.start();
    await pgbench(source, ['-i', '-s', '1', '-q']);
    await switchAndWaitForArchiver(source);
    mark('cluster initialised, first WAL archived through wal-push');

    const push = await cli(['backup-push', source.dataDir], source);
    const backup = /Wrote backup with name (base_[0-9A-F]{24})/.exec(push)?.[1];
    assert.ok(backup, `backup name in the backup-push log: ${push}`);
    const atBackup = await fingerprint(source);
    mark(`backup-push ${backup}`);

    // Writes after the backup: only WAL fetched from the storage can bring them back.
    await pgbench(source, ['-t', '300', '-c', '2', '-j', '2', '-n']);
    await sql(source, `insert into pgbench_history values (1, 1, 1, 424242, now())`);
    const expected = await fingerprint(source);
    assert.notEqual(expected, atBackup, 'the later writes changed the data');
    const { count: archived } = await switchAndWaitForArchiver(source);
    await source.stop();
    mark(`later writes archived (${archived} files), source stopped`);

    const data = join(restoreBase, 'data');
    const fetched = await cli(['backup-fetch', data, 'LATEST']);
    assert.match(fetched, /Backup extraction complete\.$/m);
    restored = await clusterFromDir(restoreBase, data);
    // archive_mode off: the restored copy must not push into the source's archive after promotion.
    restored.configure({ archive_mode: 'off', restore_command: `${WALG_BIN} wal-fetch %f %p --config ${cfg}`, recovery_target_action: 'promote' });
    writeUserFile(join(data, 'recovery.signal'), '');
    await restored.start();
    await until('archive recovery to finish', 60_000, async () => (await sql(restored!, 'select pg_is_in_recovery()')) === 'f');
    const serverLog = readFileSync(restored.logFile, 'utf8');
    assert.match(serverLog, /restored log file "[0-9A-F]{24}" from archive/, 'WAL came from the storage through wal-fetch');
    assert.equal(await fingerprint(restored), expected, 'restored data equals the source after the later writes');
    const seconds = (Date.now() - t0) / 1000;
    mark(`backup-fetch + wal-fetch recovery verified; round trip ${seconds.toFixed(1)} s`);
    return { backup, archived, seconds };
  } finally {
    await restored?.stop('immediate');
    await source.destroy();
    rmSync(restoreBase, { recursive: true, force: true });
    rmSync(work, { recursive: true, force: true });
  }
}
