// Issue 16 acceptance 3 on real PostgreSQL 15 clusters: a replica is stopped, the primary runs on past the
// replica's position and recycles the WAL the replica needs, so the replica cannot stream any more. catchup-push
// from the primary at the replica's REDO LSN, catchup-fetch into the stopped replica: it starts, streams again,
// and holds the primary's data. With WALG_REFERENCE_PG set, the same catchup is also applied by WAL-G's
// catchup-fetch (our catchup backups are WAL-G's format).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { initCluster, clusterFromDir, runAs, userTempDir, pgIdentity, PG_BIN } from '../servers/postgres.ts';
import type { PgCluster } from '../servers/postgres.ts';
import { WALG_BIN, walg, baseEnv, runBin } from '../helpers/cli.ts';
import { until } from '../helpers/pg-exec.ts';

const cleanups: (() => Promise<void>)[] = [];
after(async () => { for (const f of cleanups.reverse()) await f().catch(() => {}); });

const REF = process.env.WALG_REFERENCE_PG;

/** Primary, a streaming replica of it, and a storage; the replica stopped and left behind (its WAL recycled). */
async function leftBehind(tag: string): Promise<{ p: PgCluster; r: PgCluster; cfg: string; redo: bigint }> {
  const work = userTempDir(`walg-catchup-${tag}-`);
  chmodSync(work, 0o755);
  cleanups.push(async () => rmSync(work, { recursive: true, force: true }));
  const cfg = join(work, 'walg.json');
  writeFileSync(cfg, JSON.stringify({ WALG_FILE_PREFIX: join(work, 'store'), WALG_COMPRESSION_METHOD: 'lz4' }));
  chmodSync(cfg, 0o644);
  const p = await initCluster({ wal_keep_size: '0', max_wal_size: '32MB', min_wal_size: '32MB', hot_standby: 'on' });
  cleanups.push(() => p.destroy());
  await p.start();
  await p.pgbench(['-i', '-s', '2', '-q']);
  const rBase = userTempDir(`walg-catchup-${tag}-r-`);
  const rData = join(rBase, 'data');
  await runAs(join(PG_BIN, 'pg_basebackup'), ['-D', rData, '-R', '-X', 'stream', '-c', 'fast'], { env: p.env });
  const r = await clusterFromDir(rBase, rData);
  cleanups.push(() => r.destroy());
  await r.start();
  await p.psql('create table marker (id int primary key, tag text); insert into marker values (1, \'before\')');
  await until('the replica replays', 30_000, async () => (await r.psql("select count(*) from pg_class where relname = 'marker'")) === '1');
  await r.stop('fast');
  const redoText = /Latest checkpoint's REDO location:\s+([0-9A-F]+\/[0-9A-F]+)/.exec(execFileSync(join(PG_BIN, 'pg_controldata'), [rData]).toString())?.[1];
  assert.ok(redoText);
  const [hi, lo] = redoText!.split('/');
  const redo = (BigInt(`0x${hi}`) << 32n) | BigInt(`0x${lo}`);
  const redoSeg = await p.psql(`select pg_walfile_name('${redoText}')`);
  // The primary runs on and recycles the replica's WAL.
  await p.pgbench(['-t', '3000', '-c', '2', '-j', '2', '-n']);
  await p.psql("insert into marker values (2, 'after')");
  for (let i = 0; i < 4; i++) await p.psql('select pg_switch_wal(); checkpoint');
  assert.equal(await p.psql(`select count(*) from pg_ls_waldir() where name = '${redoSeg}'`), '0', `the primary removed ${redoSeg}`);
  // From here on the primary keeps its WAL (as an operator would for the catchup's own WAL, or an archive does):
  // the replica needs what was written since the catchup backup started, not what was lost before.
  await p.psql("alter system set wal_keep_size = '512MB'");
  await p.psql('select pg_reload_conf()');
  return { p, r, cfg, redo };
}

async function catchUp(tool: string, tag: string): Promise<void> {
  const { p, r, cfg, redo } = await leftBehind(tag);
  const push = await walg(['catchup-push', p.dataDir, '--from-lsn', String(redo), '--config', cfg], baseEnv(p.env));
  assert.equal(push.code, 0, push.stderr);
  const name = /Wrote backup with name (base_[0-9A-F]{24}_D_Z{24})/.exec(push.stderr)?.[1];
  assert.ok(name, push.stderr);
  const list = await walg(['catchup-list', '--json', '--config', cfg], baseEnv());
  assert.deepEqual((JSON.parse(list.stdout.toString()) as { backup_name: string }[]).map((b) => b.backup_name), [name]);

  const fetch = await runBin(tool, ['catchup-fetch', r.dataDir, name, '--config', cfg], baseEnv());
  assert.equal(fetch.code, 0, `${tool}: ${fetch.stderr}`);
  const id = pgIdentity();
  execFileSync('chown', ['-R', `${id.uid}:${id.gid}`, r.dataDir]);
  // The replica's own configuration stays (catchup leaves it out): it still points at the primary.
  assert.match(readFileSync(join(r.dataDir, 'postgresql.auto.conf'), 'utf8'), /primary_conninfo/);
  await r.start().catch((err: Error) => { throw new Error(`${err.message}\n${readFileSync(r.logFile, "utf8").split("\n").filter((l) => !/already been removed|waiting for WAL|started streaming/.test(l)).slice(-25).join("\n")}`); });
  await p.psql("insert into marker values (3, 'streamed after catchup')");
  await until('the replica streams again', 90_000, async () => (await r.psql('select count(*) from marker where id = 3').catch(() => '0')) === '1')
    .catch((err: Error) => { throw new Error(`${err.message}\n${readFileSync(r.logFile, 'utf8').slice(-2000)}`); });
  assert.equal(await r.psql('select pg_is_in_recovery()'), 't');
  assert.ok((await r.dumpAll()) === (await p.dumpAll()), 'the replica holds the primary\'s data');
}

test('catchup-push + catchup-fetch bring a replica whose WAL is gone back to streaming', async () => {
  await catchUp(WALG_BIN, 'ours');
});

test('our catchup backup applied by WAL-G v3.0.9 catchup-fetch', { skip: REF ? false : 'WALG_REFERENCE_PG is not set' }, async () => {
  await catchUp(REF!, 'walg');
});
