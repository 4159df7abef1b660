// Issue 16, wal-receive on a real PostgreSQL 15 with archive_mode off, so wal-receive is the only archiver: a base
// backup and pgbench while wal-receive streams; it is killed with -9 and restarted (it resumes from its slot);
// no segment is missing (wal-verify integrity), SIGTERM stores the unfinished segment as .partial, and recovery
// from the backup plus the received WAL reaches the last committed and flushed transaction. Then the server it
// streams from (a standby) is promoted: the new timeline's history file and segments are stored. A second
// receiver on the same slot fails with one error line.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { chmodSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { initCluster, clusterFromDir, runAs, userTempDir, writeUserFile, PG_BIN } from '../servers/postgres.ts';
import type { PgCluster } from '../servers/postgres.ts';
import { WALG_BIN, walg, baseEnv } from '../helpers/cli.ts';
import { until } from '../helpers/pg-exec.ts';

let c: PgCluster;
let work: string;
let cfg: string;
let store: string;

before(async () => {
  work = userTempDir('walg-receive-');
  chmodSync(work, 0o755);
  store = join(work, 'store');
  cfg = join(work, 'walg.json');
  writeFileSync(cfg, JSON.stringify({ WALG_FILE_PREFIX: store, WALG_COMPRESSION_METHOD: 'lz4' }));
  chmodSync(cfg, 0o644);
  c = await initCluster({ archive_mode: 'off', max_wal_size: '1GB', hot_standby: 'on' });
  await c.start();
});

after(async () => {
  await c?.destroy();
  if (work) rmSync(work, { recursive: true, force: true });
});

/** A running wal-receive against `pg`, with its stderr collected. */
function startReceive(pg: PgCluster): { child: ChildProcess; stderr: () => string; exited: Promise<number | null> } {
  const child = spawn(WALG_BIN, ['wal-receive', '--config', cfg], { env: baseEnv(pg.env), stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => { err += d.toString(); });
  const exited = new Promise<number | null>((r) => child.on('close', (code) => r(code)));
  return { child, stderr: () => err, exited };
}

function stored(): string[] {
  try { return readdirSync(join(store, 'wal_005')).sort(); } catch { return []; }
}

/** Waits until `name` (a segment or history file) is in the archive. */
async function storedSoon(name: string, what = name): Promise<void> {
  await until(`${what} stored`, 60_000, async () => stored().some((n) => n.startsWith(`${name}.`)));
}

test('wal-receive as the only archiver: kill -9 and restart leave no gap; recovery reaches the last flushed commit', async (t) => {
  let recv = startReceive(c);
  await until('the slot', 30_000, async () => (await c.psql(`select count(*) from pg_replication_slots where slot_name = 'walg' and active`)) === '1');
  await c.pgbench(['-i', '-s', '2', '-q']);
  const push = await walg(['backup-push', c.dataDir, '--config', cfg], baseEnv(c.env));
  assert.equal(push.code, 0, push.stderr);

  const bench = c.pgbench(['-T', '8', '-c', '2', '-j', '2', '-n']);
  await new Promise((r) => setTimeout(r, 3000));
  await c.psql('select pg_switch_wal()');
  recv.child.kill('SIGKILL');
  assert.equal(await recv.exited, null);
  await c.psql('select pg_switch_wal()'); // WAL the killed receiver never saw: the slot keeps it
  recv = startReceive(c);
  assert.match((await bench).stdout, /number of transactions actually processed: [1-9]/);

  await c.psql(`create table marker as select 42 as answer`);
  const last = await c.psql('select pg_walfile_name(pg_current_wal_lsn())');
  await c.psql('select pg_switch_wal()');
  await storedSoon(last, `segment ${last} (the marker's)`);
  assert.match(recv.stderr(), /Streaming from slot walg at /, 'the restart resumed from the slot');
  // A second receiver on the same slot: one clear error line, exit 1 (the first one keeps streaming).
  const second = await walg(['wal-receive', '--config', cfg], baseEnv(c.env));
  assert.equal(second.code, 1, second.stderr);
  const errors = second.stderr.split('\n').filter((l) => l.startsWith('ERROR:'));
  assert.equal(errors.length, 1, second.stderr);
  assert.match(errors[0]!, /replication slot "walg" is active for PID \d+ \(SQLSTATE 55006\)/);

  const verify = await walg(['wal-verify', 'integrity', '--json', '--config', cfg], baseEnv(c.env));
  const result = JSON.parse(verify.stdout.toString()) as { integrity: { status: string; details: { status: string }[] } };
  assert.equal(result.integrity.status, 'OK', verify.stdout.toString());
  assert.ok(!result.integrity.details.some((d) => d.status === 'MISSING_LOST'), 'no lost segment');

  // SIGTERM: the unfinished segment is stored as .partial, exit 0.
  await c.psql(`insert into marker values (43)`);
  await new Promise((r) => setTimeout(r, 500));
  recv.child.kill('SIGTERM');
  assert.equal(await recv.exited, 0, recv.stderr());
  assert.ok(stored().some((n) => /^[0-9A-F]{24}\.partial\./.test(n)), `a .partial segment: ${stored().join(' ')}`);
  t.diagnostic(`${stored().length} objects in wal_005`);

  // Recovery from the backup and the received WAL (no target: to the end of what was stored).
  const base = userTempDir('walg-receive-restore-');
  const data = join(base, 'data');
  try {
    const fetch = await walg(['backup-fetch', data, 'LATEST', '--config', cfg], baseEnv());
    assert.equal(fetch.code, 0, fetch.stderr);
    const restored = await clusterFromDir(base, data);
    restored.configure({ restore_command: `${WALG_BIN} wal-fetch %f %p --config ${cfg}`, recovery_target_action: 'promote' });
    writeUserFile(join(data, 'recovery.signal'), '');
    await restored.start();
    try {
      await until('recovery to the end of the received WAL', 120_000, async () => (await restored.psql('select pg_is_in_recovery()')) === 'f');
      assert.equal(await restored.psql('select answer from marker order by 1'), '42', 'the last commit of a stored segment is there');
    } finally {
      await restored.stop('immediate');
    }
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
});

test('wal-receive follows a timeline switch of the standby it streams from', async () => {
  // A standby of c (pg_basebackup is test scaffolding, not the tool), then wal-receive streams from it.
  const base = userTempDir('walg-receive-standby-');
  const data = join(base, 'data');
  await runAs(join(PG_BIN, 'pg_basebackup'), ['-D', data, '-R', '-X', 'stream', '-c', 'fast'], { env: c.env });
  const standby = await clusterFromDir(base, data);
  await standby.start();
  const slotStore = () => stored().filter((n) => n.startsWith('00000002'));
  let recv: ReturnType<typeof startReceive> | undefined;
  try {
    await c.psql('select pg_drop_replication_slot(slot_name) from pg_replication_slots'); // the first test's slot
    recv = startReceive(standby);
    await until('the slot on the standby', 30_000, async () => (await standby.psql(`select count(*) from pg_replication_slots where slot_name = 'walg' and active`)) === '1');
    await c.psql('create table before_promote as select 1 as x; select pg_switch_wal()');
    await new Promise((r) => setTimeout(r, 1500));
    await runAs(join(PG_BIN, 'pg_ctl'), ['-D', data, '-w', 'promote']);
    await until('promotion', 30_000, async () => (await standby.psql('select pg_is_in_recovery()')) === 'f');
    await storedSoon('00000002.history', 'the new timeline history file');
    await standby.psql('create table after_promote as select 2 as x');
    const seg = await standby.psql('select pg_walfile_name(pg_current_wal_lsn())');
    assert.match(seg, /^00000002/);
    await standby.psql('select pg_switch_wal()');
    await storedSoon(seg, `segment ${seg} of timeline 2`);
    assert.match(recv.stderr(), /following timeline 2/);
    assert.ok(slotStore().length >= 2, slotStore().join(' '));
  } finally {
    recv?.child.kill('SIGKILL');
    await recv?.exited;
    await standby.destroy();
  }
});
