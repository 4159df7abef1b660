// `delete before FIND_FULL` on a real PostgreSQL 15 where an older delta chain reaches past the full it finds
// (issue 22 item 3): F1 <- D1a, F2 (--full), D1b (--delta-from-name D1a), D2 (--delta-from-name F2). `before
// FIND_FULL D2` finds F2 and deletes what WAL-G deletes (F1, D1a and the WAL before F2) and D1b with them, as D1b
// is before D2 and its base goes (WAL-G leaves it listed without its base); it exits 0 and F2 and D2 restore to
// their own dumps. Plain `before F2`, which would leave D1b without its base too, is refused and deletes nothing.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { initCluster, userTempDir, writeUserFile } from '../servers/postgres.ts';
import type { PgCluster } from '../servers/postgres.ts';
import { walg, baseEnv } from '../helpers/cli.ts';
import { restoreWith, switchAndArchive } from '../interop/pg.ts';
import { OURS } from '../interop/harness.ts';

/** Runs dist/wal-g with the settings file; never throws on a non-zero exit. */
async function cli(cfg: string, args: string[], c?: PgCluster) {
  const r = await walg([...args, '--config', cfg], baseEnv(c ? c.env : {}));
  return { code: r.code, out: r.stdout.toString(), stderr: r.stderr };
}

async function push(cfg: string, c: PgCluster, extra: string[] = []): Promise<{ name: string; dump: string }> {
  await c.pgbench(['-t', '200', '-c', '2', '-n']);
  const r = await cli(cfg, ['backup-push', c.dataDir, ...extra], c);
  assert.equal(r.code, 0, r.stderr);
  const name = /Wrote backup with name (base_\S+)/.exec(r.stderr)?.[1];
  assert.ok(name, r.stderr);
  return { name, dump: await c.dumpAll() };
}

const names = async (cfg: string) => (JSON.parse((await cli(cfg, ['backup-list', '--json'])).out) as Array<{ backup_name: string }>).map((b) => b.backup_name);
const walOf = (backup: string) => backup.slice(5, 29);

test('delete before FIND_FULL with an older chain reaching past the full: exit 0, the chain goes whole, the rest restores', { timeout: 400_000 }, async () => {
  const work = userTempDir('walg-findfull-');
  const cfg = join(work, 'walg.json');
  writeUserFile(cfg, JSON.stringify({ WALG_FILE_PREFIX: join(work, 'store'), WALG_COMPRESSION_METHOD: 'lz4', WALG_DELTA_MAX_STEPS: '6' }));
  chmodSync(cfg, 0o644);
  const c = await initCluster({ archive_mode: 'on', archive_command: `${OURS.bin} wal-push %p --config ${cfg}`, autovacuum: 'off' });
  try {
    await c.start();
    await c.pgbench(['-i', '-s', '2', '-q']);
    await switchAndArchive(c);
    const f1 = await push(cfg, c);
    const d1a = await push(cfg, c);
    const f2 = await push(cfg, c, ['--full']);
    const d1b = await push(cfg, c, ['--delta-from-name', d1a.name]);
    const d2 = await push(cfg, c, ['--delta-from-name', f2.name]);
    await switchAndArchive(c);
    await c.stop();
    assert.equal(d1a.name, `base_${walOf(d1a.name)}_D_${walOf(f1.name)}`);
    assert.equal(d1b.name, `base_${walOf(d1b.name)}_D_${walOf(d1a.name)}`);
    assert.equal(d2.name, `base_${walOf(d2.name)}_D_${walOf(f2.name)}`);
    const all = [f1, d1a, f2, d1b, d2].map((b) => b.name);
    assert.deepEqual(await names(cfg), all);

    // Plain before F2 would leave D1b without its base: refused (WAL-G deletes and leaves D1b broken), nothing gone.
    const plain = await cli(cfg, ['delete', 'before', f2.name, '--confirm']);
    assert.equal(plain.code, 1, plain.stderr);
    assert.match(plain.stderr, new RegExp(`ERROR: .*backup ${d1b.name} depends on ${d1a.name}, which this delete would remove`));
    assert.deepEqual(await names(cfg), all);

    const wal = async () => (await cli(cfg, ['st', 'ls', 'wal_005/'])).out;
    const firstWal = walOf(f1.name);
    assert.match(await wal(), new RegExp(firstWal));
    const del = await cli(cfg, ['delete', 'before', 'FIND_FULL', d2.name, '--confirm']);
    assert.equal(del.code, 0, del.stderr);
    assert.match(del.stderr, new RegExp(`INFO: .*Backup ${d1b.name} depends on ${d1a.name}, which is deleted; deleting it too, as it is before ${d2.name}`));
    assert.deepEqual(await names(cfg), [f2.name, d2.name]);
    const leftWal = await wal();
    assert.doesNotMatch(leftWal, new RegExp(firstWal), 'WAL before F2 is deleted');
    assert.match(leftWal, new RegExp(walOf(f2.name)), 'WAL from F2 on stays');
    const leftBackups = (await cli(cfg, ['st', 'ls', '-r', 'basebackups_005/'])).out;
    for (const gone of [f1, d1a, d1b]) assert.doesNotMatch(leftBackups, new RegExp(gone.name), `no object of ${gone.name} is left`);

    for (const b of [f2, d2]) await restoreWith(OURS, cfg, b.name, b.dump);
  } finally {
    await c.destroy();
    rmSync(work, { recursive: true, force: true });
  }
});
