// Issue 22 cases 1 and 3 against the reference WAL-G v3.0.9 itself (skipped without WALG_REFERENCE_PG).
// 1. Failover storages: the primary holds backups A and B, 'good_failover' B and C (test/helpers/failover-list-fixture.ts).
//    backup-list in every format prints the same bytes from both tools; `delete retain FULL 1` marks the same objects
//    in the same order with the same storage names and counts, and leaves the same backups.
// 3. On a real PostgreSQL, WAL-G pushes F1 <- D1a, F2 (--full), D1b (--delta-from-name D1a), D2 (--delta-from-name F2).
//    `delete before FIND_FULL D2`: both tools exit 0; ours deletes what WAL-G deletes plus D1b, which WAL-G leaves
//    listed without its base (its backup-fetch then fails); F2 and D2 restore with both tools. Plain `before F2`:
//    WAL-G deletes (leaving D1b broken), ours refuses — the one difference kept on purpose (docs/compat.md).

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chownSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { initCluster, pgIdentity, userTempDir } from '../servers/postgres.ts';
import type { PgCluster } from '../servers/postgres.ts';
import { failoverListFixture, writeBackup } from '../helpers/failover-list-fixture.ts';
import { restoreWith, switchAndArchive } from './pg.ts';
import { OURS, REFERENCE, WALG, ok, pushedName, run, writeConfig } from './harness.ts';
import type { Tool } from './harness.ts';

const skip = REFERENCE.pg ? false : 'WALG_REFERENCE_PG is not set';

/** The "Object marked for deletion" lines and the final count line of a delete run, without the log prefix. */
function deleteLines(stderr: string): string[] {
  return stderr.split('\n').filter((l) => /Object marked for deletion|objects would be deleted|Objects deleted successfully/.test(l))
    .map((l) => l.replace(/^INFO: \S+ \S+ /, ''));
}

/** Marked object keys of a delete run (without the storage tag), sorted. */
const markedKeys = (stderr: string) => deleteLines(stderr).filter((l) => l.startsWith('Object marked')).map((l) => l.split(' ')[4]!).sort();

describe('case 22.1: backup-list and delete with a failover storage, both tools', { skip }, () => {
  const flags = [[], ['--json'], ['--detail'], ['--detail', '--json'], ['--pretty'], ['--pretty', '--detail'], ['--pretty', '--json'],
    ['--target-storage', 'good_failover'], ['--target-storage', 'good_failover', '--detail', '--json'], ['--target-storage', 'default']];
  for (const f of flags) {
    test(`backup-list ${f.join(' ')}: the same bytes`, async () => {
      const { cfg, env } = failoverListFixture();
      const ours = await ok(OURS, cfg, ['backup-list', ...f], env);
      const theirs = await ok(WALG, cfg, ['backup-list', ...f], env);
      assert.equal(ours.out, theirs.out);
      assert.match(ours.out, /default|good_failover/);
    });
  }

  test('backup-list --detail with 16 rows (8 backups in both storages): Go\'s unstable sort, same order from both', async () => {
    const { cfg, env } = failoverListFixture();
    const dirs = JSON.parse(readFileSync(cfg, 'utf8')) as { WALG_FILE_PREFIX: string; WALG_FAILOVER_STORAGES: { good_failover: { WALG_FILE_PREFIX: string } } };
    for (let i = 0; i < 8; i++) {
      const name = `base_0000000100000000000000${(0x10 + i).toString(16).toUpperCase()}`;
      const start = `2024-02-0${1 + (i % 3)}T00:00:00Z`; // equal start times across backups too
      writeBackup(dirs.WALG_FILE_PREFIX, name, start, `2024-03-01T00:0${i}:00Z`);
      writeBackup(dirs.WALG_FAILOVER_STORAGES.good_failover.WALG_FILE_PREFIX, name, start, `2024-03-01T00:1${7 - i}:00Z`);
    }
    for (const f of [['--detail'], ['--detail', '--json'], []]) {
      const ours = await ok(OURS, cfg, ['backup-list', ...f], env);
      const theirs = await ok(WALG, cfg, ['backup-list', ...f], env);
      assert.equal(ours.out, theirs.out, `backup-list ${f.join(' ')}`);
    }
  });

  test('delete retain FULL 1: same objects, order, storages and counts; the same backup is left', async () => {
    const results: Record<Tool['name'], { dry: string[]; done: string[]; list: string }> = {} as never;
    for (const tool of [OURS, WALG]) {
      const { cfg, env } = failoverListFixture();
      const dry = await ok(tool, cfg, ['delete', 'retain', 'FULL', '1'], env);
      const done = await ok(tool, cfg, ['delete', 'retain', 'FULL', '1', '--confirm'], env);
      const list = (await ok(WALG, cfg, ['backup-list'], env)).out;
      results[tool.name] = { dry: deleteLines(dry.stderr), done: deleteLines(done.stderr), list };
    }
    assert.deepEqual(results.ours, results.walg);
    assert.ok(results.ours.dry.at(-1)!.includes('count=6'), results.ours.dry.join('\n'));
  });
});

interface Chains { work: string; cluster: PgCluster; cfg: string; b: Record<'f1' | 'd1a' | 'f2' | 'd1b' | 'd2', { name: string; dump: string }> }

/** WAL-G archives and pushes the overlapping chains. */
async function buildChains(): Promise<Chains> {
  const work = userTempDir('walg-interop-findfull-');
  mkdirSync(join(work, 'store'));
  chownSync(join(work, 'store'), pgIdentity().uid, pgIdentity().gid);
  const cfg = writeConfig(work, { WALG_FILE_PREFIX: join(work, 'store'), WALG_COMPRESSION_METHOD: 'lz4', WALG_DELTA_MAX_STEPS: '6' });
  const cluster = await initCluster({ archive_mode: 'on', archive_command: `${WALG.bin} wal-push %p --config ${cfg}`, autovacuum: 'off' });
  await cluster.start();
  await cluster.pgbench(['-i', '-s', '2', '-q']);
  await switchAndArchive(cluster);
  const push = async (extra: string[] = []) => {
    await cluster.pgbench(['-t', '200', '-c', '2', '-n']);
    const r = await ok(WALG, cfg, ['backup-push', cluster.dataDir, ...extra], cluster.env);
    return { name: pushedName(r.stderr), dump: await cluster.dumpAll() };
  };
  const f1 = await push();
  const d1a = await push();
  const f2 = await push(['--full']);
  const d1b = await push(['--delta-from-name', d1a.name]);
  const d2 = await push(['--delta-from-name', f2.name]);
  await switchAndArchive(cluster);
  await cluster.stop();
  return { work, cluster, cfg, b: { f1, d1a, f2, d1b, d2 } };
}

/** A copy of the chains' storage with its own settings file. */
function copyStore(ch: Chains, label: string): string {
  const dir = join(ch.work, `store-${label}`);
  execFileSync('cp', ['-a', join(ch.work, 'store'), dir]);
  return writeConfig(ch.work, { WALG_FILE_PREFIX: dir, WALG_COMPRESSION_METHOD: 'lz4' }, `walg-${label}.json`);
}

const names = async (tool: Tool, cfg: string) => (JSON.parse((await ok(tool, cfg, ['backup-list', '--json'])).out) as Array<{ backup_name: string }>)
  .map((x) => x.backup_name);

describe('case 22.3: delete before FIND_FULL with an older chain reaching past the full found', { skip, timeout: 900_000 }, () => {
  let ch: Chains | undefined;
  before(async () => { ch = await buildChains(); });
  after(async () => { if (ch) { await ch.cluster.destroy(); rmSync(ch.work, { recursive: true, force: true }); } });

  test('the chains are what the case needs', () => {
    const { f1, d1a, f2, d1b, d2 } = ch!.b;
    const wal = (n: string) => n.slice(5, 29);
    assert.equal(d1a.name, `base_${wal(d1a.name)}_D_${wal(f1.name)}`);
    assert.equal(d1b.name, `base_${wal(d1b.name)}_D_${wal(d1a.name)}`);
    assert.equal(d2.name, `base_${wal(d2.name)}_D_${wal(f2.name)}`);
    assert.ok(f2.name < d1b.name && d1b.name < d2.name, 'D1b sorts between F2 and D2');
  });

  test('both exit 0; ours deletes what WAL-G deletes and D1b; F2 and D2 restore with both tools', async () => {
    const { f1, d1a, f2, d1b, d2 } = ch!.b;
    const cfgW = copyStore(ch!, 'walg');
    const cfgO = copyStore(ch!, 'ours');
    const args = ['delete', 'before', 'FIND_FULL', d2.name];
    const dryW = await ok(WALG, cfgW, args);
    const dryO = await ok(OURS, cfgO, args);
    const theirs = markedKeys(dryW.stderr);
    const mine = markedKeys(dryO.stderr);
    const extra = mine.filter((k) => !theirs.includes(k));
    assert.deepEqual(theirs.filter((k) => !mine.includes(k)), [], 'everything WAL-G deletes, ours deletes');
    assert.ok(extra.length > 0 && extra.every((k) => k.startsWith(`basebackups_005/${d1b.name}`)), `ours deletes D1b too: ${extra.join(' ')}`);
    await ok(WALG, cfgW, [...args, '--confirm']);
    await ok(OURS, cfgO, [...args, '--confirm']);
    assert.deepEqual(await names(WALG, cfgW), [f2.name, d1b.name, d2.name]);
    assert.deepEqual(await names(OURS, cfgO), [f2.name, d2.name]);
    assert.deepEqual(await names(WALG, cfgO), [f2.name, d2.name]);
    for (const gone of [f1, d1a]) assert.ok(!(await names(WALG, cfgW)).includes(gone.name));
    // Why ours goes further: the D1b WAL-G keeps cannot be restored, its base is gone.
    const broken = await run(WALG, cfgW, ['backup-fetch', join(ch!.work, 'broken'), d1b.name]);
    assert.notEqual(broken.code, 0, 'WAL-G cannot restore the D1b it kept');
    assert.match(broken.stderr, new RegExp(`ERROR: .*${d1a.name}_backup_stop_sentinel.json' not found`));
    for (const tool of [OURS, WALG]) for (const b of [f2, d2]) await restoreWith(tool, cfgO, b.name, b.dump);
  });

  test('plain before F2: WAL-G deletes and leaves D1b without its base; ours refuses and deletes nothing', async () => {
    const { d1a, f2, d1b } = ch!.b;
    const cfgW = copyStore(ch!, 'walg-plain');
    const cfgO = copyStore(ch!, 'ours-plain');
    const w = await run(WALG, cfgW, ['delete', 'before', f2.name, '--confirm']);
    assert.equal(w.code, 0, w.stderr);
    assert.ok((await names(WALG, cfgW)).includes(d1b.name) && !(await names(WALG, cfgW)).includes(d1a.name));
    const o = await run(OURS, cfgO, ['delete', 'before', f2.name, '--confirm']);
    assert.equal(o.code, 1, o.stderr);
    assert.match(o.stderr, new RegExp(`ERROR: .*backup ${d1b.name} depends on ${d1a.name}, which this delete would remove`));
    assert.equal((await names(OURS, cfgO)).length, 5);
  });
});
