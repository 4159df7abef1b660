// Issue 16 acceptance 4 on real PostgreSQL 15 clusters: a failover (standby B promoted while primary A still
// writes), B's segments of the new timeline recycled after they were archived, then `wal-g wal-restore A B` fetches
// them back into B's pg_wal (as WAL-G does) and A's own recycled segments before the split into A's pg_wal (which
// pg_rewind reads there); pg_rewind --source-pgdata makes A follow B's history, and A, started as a standby of B
// with no restore_command, replays the fetched WAL, streams again, and holds B's data.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, readFileSync, readdirSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { initCluster, clusterFromDir, runAs, userTempDir, writeUserFile, pgIdentity, PG_BIN } from '../servers/postgres.ts';
import type { PgCluster } from '../servers/postgres.ts';
import { WALG_BIN, walg, baseEnv } from '../helpers/cli.ts';
import { until } from '../helpers/pg-exec.ts';

const cleanups: (() => Promise<void>)[] = [];
after(async () => { for (const f of cleanups.reverse()) await f().catch(() => {}); });

async function archived(c: PgCluster, seg: string): Promise<void> {
  await until(`archiving of ${seg}`, 60_000, async () =>
    (await c.psql(`select coalesce(left(last_archived_wal, 24), '') >= '${seg}' from pg_stat_archiver`)) === 't');
}

test('wal-restore fetches what pg_rewind needs: the former primary rewound follows the new one', async (t) => {
  const work = userTempDir('walg-walrestore-');
  chmodSync(work, 0o755);
  cleanups.push(async () => rmSync(work, { recursive: true, force: true }));
  const cfg = join(work, 'walg.json');
  writeFileSync(cfg, JSON.stringify({ WALG_FILE_PREFIX: join(work, 'store'), WALG_COMPRESSION_METHOD: 'lz4' }));
  chmodSync(cfg, 0o644);
  const a = await initCluster({ archive_mode: 'on', archive_command: `${WALG_BIN} wal-push %p --config ${cfg}`, hot_standby: 'on', wal_keep_size: '0' });
  cleanups.push(() => a.destroy());
  await a.start();
  await a.pgbench(['-i', '-s', '1', '-q']);

  // B: a streaming standby of A (pg_basebackup is test scaffolding here).
  const bBase = userTempDir('walg-walrestore-b-');
  const bData = join(bBase, 'data');
  await runAs(join(PG_BIN, 'pg_basebackup'), ['-D', bData, '-R', '-X', 'stream', '-c', 'fast'], { env: a.env });
  const b = await clusterFromDir(bBase, bData);
  cleanups.push(() => b.destroy());
  await b.start();
  await a.psql('create table t (id int primary key, who text); insert into t values (1, \'both\')');
  await until('B replays', 30_000, async () => (await b.psql("select count(*) from pg_class where relname = 't'")) === '1' && (await b.psql('select count(*) from t')) === '1');

  // Failover: B is promoted; A, not yet told, writes on its own (the divergence), then stops.
  await runAs(join(PG_BIN, 'pg_ctl'), ['-D', bData, '-w', 'promote']);
  await until('promotion', 30_000, async () => (await b.psql('select pg_is_in_recovery()')) === 'f');
  await a.psql("insert into t values (2, 'old primary only'); checkpoint");
  await a.stop('fast');
  // B writes across several segments, archives them, checkpoints, stops; its older segments are then recycled.
  for (let i = 0; i < 3; i++) {
    await b.psql(`insert into t values (${10 + i}, 'new primary')`);
    await archived(b, await b.psql('select pg_walfile_name(pg_switch_wal())'));
  }
  await b.psql('checkpoint');
  const redo = /REDO WAL file:\s+([0-9A-F]{24})/.exec(execFileSync(join(PG_BIN, 'pg_controldata'), [bData]).toString())?.[1];
  assert.ok(redo, 'pg_controldata names the REDO segment');
  await b.stop('fast');
  // The checkpoint may have recycled some already; the rest of timeline 2 before REDO goes now.
  const removed = readdirSync(join(work, 'store/wal_005')).map((n) => n.replace(/\.lz4$/, ''))
    .filter((n) => /^00000002[0-9A-F]{16}$/.test(n) && n < redo!);
  assert.ok(removed.length >= 2, `archived timeline 2 segments before REDO ${redo}: ${removed.join(' ')}`);
  for (const n of removed) if (existsSync(join(bData, 'pg_wal', n))) unlinkSync(join(bData, 'pg_wal', n));

  const r = await walg(['wal-restore', a.dataDir, bData, '--config', cfg], baseEnv());
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /WAL files to restore: \[/);
  for (const n of removed) {
    assert.match(r.stderr, new RegExp(`Successfully download WAL file ${n}$`, 'm'));
    assert.ok(existsSync(join(bData, 'pg_wal', n)), `${n} back in B's pg_wal`);
  }
  // pg_rewind reads A's own WAL from the last checkpoint before the split: A's checkpoint recycled its start.
  assert.match(r.stderr, /Target WAL files to restore: \[[0-9A-F ]*000000010000000000000003/);
  const id = pgIdentity();
  execFileSync('chown', ['-R', `${id.uid}:${id.gid}`, join(bData, 'pg_wal'), join(a.dataDir, 'pg_wal')]);
  t.diagnostic(`fetched back: ${removed.join(' ')}`);

  // pg_rewind, then A follows B with no archive access at all.
  const rw = await runAs(join(PG_BIN, 'pg_rewind'), ['--target-pgdata', a.dataDir, '--source-pgdata', bData], { allowFail: true });
  assert.equal(rw.code, 0, `pg_rewind: ${rw.stdout}${rw.stderr}`);
  await b.start();
  // pg_rewind copied B's configuration, whose postgresql.auto.conf still points at A (pg_basebackup -R): replace it.
  writeUserFile(join(a.dataDir, 'postgresql.auto.conf'), `primary_conninfo = 'host=${b.socketDir} port=${b.port} user=postgres'\n`);
  a.configure({ restore_command: '', archive_mode: 'off' });
  writeUserFile(join(a.dataDir, 'standby.signal'), '');
  await a.start();
  await b.psql("insert into t values (99, 'after rewind')");
  await until('A streams from B', 60_000, async () => (await a.psql('select count(*) from t where id = 99')) === '1')
    .catch((err: Error) => { throw new Error(`${err.message}\n${readFileSync(a.logFile, 'utf8').slice(-2000)}`); });
  assert.equal(await a.psql('select pg_is_in_recovery()'), 't');
  assert.equal(await a.psql('select string_agg(id::text, \',\' order by id) from t'), '1,10,11,12,99', "the old primary's own row is gone");
  assert.ok((await a.dumpAll()) === (await b.dumpAll()), 'A holds what B holds');
});
