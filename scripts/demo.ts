// The README's main job on an embedded default, end to end: a throwaway PostgreSQL cluster archives its WAL with
// wal-push to a local file storage, gets pgbench data and a base backup (backup-push), more writes and a delta
// backup, more writes and a named restore point, is dropped, and is restored with backup-fetch LATEST (the delta
// chain) + wal-fetch recovery to that point.
// Prints table checksums before and after; exits 1 unless they match. Run through scripts/demo.sh (make demo).

import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { initCluster, clusterFromDir, userTempDir, writeUserFile, pgIdentity, PG_MAJOR } from '../test/servers/postgres.ts';
import type { PgCluster } from '../test/servers/postgres.ts';

const ROOT = resolve(fileURLToPath(import.meta.url), '../..');
const BIN = process.env.WALG_BIN ?? join(ROOT, 'dist/wal-g');
const t0 = Date.now();
const step = (s: string) => console.log(`\n==> [${((Date.now() - t0) / 1000).toFixed(1)} s] ${s}`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Runs wal-g, showing its log lines indented. */
function walg(args: string[], env: Record<string, string> = {}): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(BIN, args, { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp', ...env }, stdio: ['ignore', 'inherit', 'pipe'] });
    child.stderr.on('data', (d: Buffer) => process.stdout.write(d.toString().replace(/^(?=.)/gm, '    ')));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolvePromise() : reject(new Error(`wal-g ${args[0]} exited ${code}`))));
  });
}

/** One line per table: row count and an md5 of its rows in key order. */
async function checksums(c: PgCluster): Promise<string> {
  return c.psql(`select line from (
    select 'pgbench_accounts ' || count(*) || ' ' || md5(string_agg(aid || ':' || abalance, ',' order by aid)) from pgbench_accounts
    union all select 'pgbench_branches ' || count(*) || ' ' || md5(string_agg(bid || ':' || bbalance, ',' order by bid)) from pgbench_branches
    union all select 'pgbench_tellers  ' || count(*) || ' ' || md5(string_agg(tid || ':' || tbalance, ',' order by tid)) from pgbench_tellers
    union all select 'pgbench_history  ' || count(*) || ' ' || md5(coalesce(string_agg(tid || ':' || aid || ':' || delta || ':' || mtime, ',' order by mtime, tid, aid, delta), '')) from pgbench_history
    union all select 'demo_events      ' || count(*) || ' ' || md5(coalesce(string_agg(id || ':' || what, ',' order by id), '')) from demo_events
  ) t(line) order by line`);
}

async function waitArchived(c: PgCluster): Promise<void> {
  const lsn = await c.psql('select pg_switch_wal()');
  const seg = await c.psql(`select pg_walfile_name('${lsn}')`);
  for (let i = 0; i < 600; i++) {
    // last_archived_wal may be a .backup file archived after a later segment: also look for <seg>.done.
    if ((await c.psql(`select (coalesce(left(last_archived_wal, 24), '') >= '${seg}') or exists (select 1 from pg_ls_archive_statusdir() where name = '${seg}.done') from pg_stat_archiver`)) === 't') return;
    await sleep(100);
  }
  throw new Error(`WAL segment ${seg} was not archived in time`);
}

async function main(): Promise<number> {
  const work = userTempDir('walg-demo-');
  const storage = join(work, 'storage');
  const cfg = join(work, 'walg.json');
  writeUserFile(cfg, JSON.stringify({ WALG_FILE_PREFIX: storage, WALG_COMPRESSION_METHOD: 'lz4', WALG_DELTA_MAX_STEPS: '3' }, null, 2));
  chmodSync(cfg, 0o644);
  let source: PgCluster | undefined;
  let restored: PgCluster | undefined;
  try {
    step(`throwaway PostgreSQL ${PG_MAJOR ?? ''} cluster; WAL archived by "wal-g wal-push" to the file storage ${storage}`);
    source = await initCluster({ archive_mode: 'on', archive_command: `${BIN} wal-push %p --config ${cfg}` });
    await source.start();
    const pgEnv = source.env;

    step('loading data: pgbench -i -s 10, then 5 s of pgbench writes');
    await source.pgbench(['-i', '-s', '10', '-q']);
    await source.psql(`create table demo_events (id int primary key, what text); insert into demo_events values (1, 'loaded')`);
    await source.pgbench(['-T', '5', '-c', '2', '-j', '2', '-n']);

    step('wal-g backup-push (while pgbench keeps writing)');
    const bench = source.pgbench(['-T', '6', '-c', '2', '-j', '2', '-n']);
    await walg(['backup-push', source.dataDir, '--config', cfg], pgEnv);
    await bench;

    step('more writes, then a second backup-push: a delta holding only the pages changed since the first');
    await source.psql(`insert into demo_events values (2, 'after backup')`);
    await source.pgbench(['-T', '3', '-c', '2', '-j', '2', '-n']);
    await walg(['backup-push', source.dataDir, '--config', cfg], pgEnv);
    await walg(['backup-list', '--config', cfg], {});

    step('more writes, then the restore point "demo_rp"');
    await source.pgbench(['-T', '2', '-c', '2', '-j', '2', '-n']);
    const before = await checksums(source);
    await source.psql(`select pg_create_restore_point('demo_rp')`);
    await waitArchived(source);

    step('writes after the restore point (recovery must not replay them)');
    await source.psql(`insert into demo_events values (3, 'after restore point'); update pgbench_accounts set abalance = abalance + 1000 where aid <= 1000`);
    await waitArchived(source);
    const afterRp = await checksums(source);

    step('dropping the cluster');
    await source.destroy();
    source = undefined;

    step('wal-g backup-fetch LATEST (the delta: its full backup first, then the delta applied), then recovery through "wal-g wal-fetch" to "demo_rp"');
    const base = userTempDir('walg-demo-restore-');
    const data = join(base, 'data');
    await walg(['backup-fetch', data, 'LATEST', '--config', cfg]);
    const id = pgIdentity();
    execFileSync('chown', ['-R', `${id.uid}:${id.gid}`, base]);
    restored = await clusterFromDir(base, data);
    restored.configure({
      archive_mode: 'off', restore_command: `${BIN} wal-fetch %f %p --config ${cfg}`,
      recovery_target_name: 'demo_rp', recovery_target_action: 'promote',
    });
    writeUserFile(join(data, 'recovery.signal'), '');
    await restored.start();
    for (let i = 0; (await restored.psql('select pg_is_in_recovery()')) !== 'f'; i++) {
      if (i > 600) throw new Error('recovery did not finish in time');
      await sleep(200);
    }
    const after = await checksums(restored);

    console.log('\nchecksums at the restore point (before dropping the cluster):');
    console.log(before.replace(/^/gm, '    '));
    console.log('checksums of the restored cluster:');
    console.log(after.replace(/^/gm, '    '));
    if (after !== before) {
      console.log('\nFAIL: the restored cluster differs from the data at the restore point');
      return 1;
    }
    if (after === afterRp) {
      console.log('\nFAIL: writes made after the restore point were replayed');
      return 1;
    }
    console.log(`\nOK: restored cluster matches (recovered to "demo_rp"; later writes correctly absent) in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    return 0;
  } finally {
    await restored?.destroy();
    await source?.destroy();
    rmSync(work, { recursive: true, force: true });
  }
}

main().then((code) => process.exit(code), (err: unknown) => {
  console.error(`\nFAIL: ${(err as Error).message}`);
  process.exit(1);
});
