// Issue 16 on a real PostgreSQL 15 listening on loopback TCP: our replication client on its own (SCRAM over TLS,
// md5 from a pgpass file, a host list whose first host is dead, refusals as one clear error), then remote
// backup-push (no data directory) run as another OS user than the cluster's, with pgbench writing and a
// tablespace: backup-fetch + recovery through wal-fetch to a restore point gives the same pg_dumpall and a clean
// pg_amcheck; a delta is refused; a server stopped mid-BASE_BACKUP leaves no backup listed.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, execFileSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { initCluster, clusterFromDir, freePort, runAs, userTempDir, writeUserFile, pgIdentity, PG_BIN } from '../servers/postgres.ts';
import type { PgCluster } from '../servers/postgres.ts';
import { WALG_BIN, walg, baseEnv, LOG_LINE } from '../helpers/cli.ts';
import { until } from '../helpers/pg-exec.ts';
import { ReplicationConnection, replicationSettings } from '../../src/pg/replication/connection.ts';

const NOBODY = 65534;
let c: PgCluster;
let work: string;
/** WAL archive (written by the cluster's archive_command) and the backups (written by the remote push as nobody). */
let walCfg: string;
let backupCfg: string;
let tablespace: string;

function tcpEnv(extra: Record<string, string> = {}): Record<string, string> {
  return { PGHOST: '127.0.0.1', PGPORT: String(c.port), PGSSLMODE: 'disable', PGDATABASE: 'postgres', ...extra };
}

async function startTcp(cluster: PgCluster): Promise<void> {
  await runAs(join(PG_BIN, 'pg_ctl'), ['-D', cluster.dataDir, '-l', cluster.logFile, '-w', '-t', '120', '-o',
    `-p ${cluster.port} -k ${cluster.socketDir} -c listen_addresses=127.0.0.1`, 'start']);
}

before(async () => {
  work = userTempDir('walg-remote-');
  chmodSync(work, 0o755);
  const id = pgIdentity();
  for (const d of ['wal-store', 'backup-store', 'nobody-home']) mkdirSync(join(work, d));
  chownSync(join(work, 'wal-store'), id.uid, id.gid);
  chownSync(join(work, 'backup-store'), NOBODY, NOBODY);
  chownSync(join(work, 'nobody-home'), NOBODY, NOBODY);
  walCfg = join(work, 'wal.json');
  backupCfg = join(work, 'backup.json');
  writeFileSync(walCfg, JSON.stringify({ WALG_FILE_PREFIX: join(work, 'wal-store'), WALG_COMPRESSION_METHOD: 'lz4' }));
  writeFileSync(backupCfg, JSON.stringify({ WALG_FILE_PREFIX: join(work, 'backup-store'), WALG_COMPRESSION_METHOD: 'lz4', WALG_TAR_SIZE_THRESHOLD: String(8 << 20) }));
  chmodSync(walCfg, 0o644);
  chmodSync(backupCfg, 0o644);
  c = await initCluster({
    archive_mode: 'on', archive_command: `${WALG_BIN} wal-push %p --config ${walCfg}`, max_wal_size: '1GB',
    password_encryption: 'scram-sha-256', ssl: 'on', ssl_cert_file: 'server.crt', ssl_key_file: 'server.key',
  });
  const crt = join(c.dataDir, 'server.crt');
  const key = join(c.dataDir, 'server.key');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=localhost', '-keyout', key, '-out', crt], { stdio: 'ignore' });
  chmodSync(key, 0o600);
  execFileSync('chown', [`${id.uid}:${id.gid}`, crt, key]);
  writeUserFile(join(c.dataDir, 'pg_hba.conf'), [
    'local all all trust', 'local replication all trust',
    'host replication walg_scram 127.0.0.1/32 scram-sha-256', 'host replication walg_md5 127.0.0.1/32 md5',
    'host all walg_scram 127.0.0.1/32 scram-sha-256', '',
  ].join('\n'));
  await startTcp(c);
  await c.psql(`create role walg_scram login replication password 'scram-pw'; grant pg_read_all_settings to walg_scram;
    set password_encryption = 'md5'; create role walg_md5 login replication password 'md5-pw'`);
  tablespace = join(userTempDir('walg-remote-ts-'), 'ts1');
  await runAs('mkdir', ['-m', '700', tablespace]);
  await c.psql(`create tablespace ts1 location '${tablespace}'`);
});

after(async () => {
  await c?.destroy();
  if (tablespace) rmSync(join(tablespace, '..'), { recursive: true, force: true });
  if (work) rmSync(work, { recursive: true, force: true });
});

test('replication client: SCRAM over TLS, md5 from pgpass, a dead first host, refusals', async () => {
  const sysid = await c.psql('select system_identifier from pg_control_system()');
  // SCRAM-SHA-256 over TLS (PGSSLMODE=require), a dead host first in the list.
  const dead = await freePort();
  const s1 = replicationSettings(tcpEnv({ PGHOST: '127.0.0.1,127.0.0.1', PGPORT: `${dead},${c.port}`, PGUSER: 'walg_scram', PGPASSWORD: 'scram-pw', PGSSLMODE: 'require' }));
  const conn = await ReplicationConnection.open(s1, 'database');
  try {
    assert.equal(conn.endpoint.port, c.port, 'the second host answered');
    const ident = (await conn.query('IDENTIFY_SYSTEM'))[0]!;
    assert.equal(ident.rows[0]![0], sysid, 'IDENTIFY_SYSTEM names this cluster');
    const ssl = (await conn.query('select ssl from pg_stat_ssl where pid = pg_backend_pid()'))[0]!;
    assert.equal(ssl.rows[0]![0], 't', 'the session runs over TLS');
    await assert.rejects(conn.query('select 1/0'), /ERROR: division by zero \(SQLSTATE 22012\)/);
    assert.equal((await conn.query('select 41 + 1'))[0]!.rows[0]![0], '42', 'the session survives a failed query');
  } finally {
    conn.close();
  }
  // md5, the password from a pgpass file (database field "replication").
  const pass = join(work, 'pgpass');
  writeFileSync(pass, `127.0.0.1:${c.port}:replication:walg_md5:md5-pw\n`, { mode: 0o600 });
  const conn2 = await ReplicationConnection.open(replicationSettings(tcpEnv({ PGUSER: 'walg_md5', PGPASSFILE: pass })), 'true');
  assert.match((await conn2.query('IDENTIFY_SYSTEM'))[0]!.rows[0]![0]!, /^\d+$/);
  conn2.close();
  // Wrong password; a role pg_hba does not let replicate; nothing listening.
  await assert.rejects(ReplicationConnection.open(replicationSettings(tcpEnv({ PGUSER: 'walg_scram', PGPASSWORD: 'wrong' })), 'true'),
    /password authentication failed for user "walg_scram" \(SQLSTATE 28P01\)/);
  await assert.rejects(ReplicationConnection.open(replicationSettings(tcpEnv({ PGUSER: 'postgres' })), 'true'),
    /no pg_hba.conf entry for replication connection/);
  await assert.rejects(ReplicationConnection.open(replicationSettings(tcpEnv({ PGPORT: String(dead) })), 'true'), /ECONNREFUSED/);
});

/** Runs dist/wal-g as nobody, who cannot read the cluster's files, against the cluster over TCP. */
function asNobody(args: string[], extra: Record<string, string> = {}): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(WALG_BIN, [...args, '--config', backupCfg], {
      uid: NOBODY, gid: NOBODY, cwd: '/', stdio: ['ignore', 'ignore', 'pipe'],
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: join(work, 'nobody-home'), ...tcpEnv({ PGUSER: 'walg_scram', PGPASSWORD: 'scram-pw', PGSSLMODE: 'prefer' }), ...extra },
    });
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => { stderr += d.toString(); });
    child.on('close', (code) => resolve({ code, stderr }));
  });
}

async function listNames(): Promise<string[]> {
  const r = await walg(['backup-list', '--json', '--config', backupCfg], baseEnv());
  const out = r.stdout.toString().trim();
  return out ? (JSON.parse(out) as { backup_name: string }[]).map((b) => b.backup_name) : [];
}

async function switchAndArchive(): Promise<void> {
  const seg = await c.psql(`select pg_walfile_name(pg_switch_wal())`);
  await until(`archiving of ${seg}`, 90_000, async () =>
    (await c.psql(`select coalesce(left(last_archived_wal, 24), '') >= '${seg}' from pg_stat_archiver`)) === 't');
}

test('remote backup-push as another OS user, pgbench writing, tablespace: fetch + recovery to a restore point', async (t) => {
  const peek = spawnSync('cat', [join(c.dataDir, 'PG_VERSION')], { uid: NOBODY, gid: NOBODY, stdio: 'ignore' });
  assert.notEqual(peek.status, 0, 'nobody cannot read the data directory');
  await c.pgbench(['-i', '-s', '3', '-q']);
  await c.psql(`create table marker (id int primary key, tag text) tablespace ts1; insert into marker select g, 'initial-' || g from generate_series(1, 1000) g;
    create index marker_tag on marker(tag) tablespace ts1`);
  await switchAndArchive();

  const delta = await asNobody(['backup-push', '--delta-from-name', 'LATEST']);
  assert.equal(delta.code, 1);
  assert.match(delta.stderr, /ERROR: .* Delta backup not available for remote backup\. To run delta backup, supply \[db_directory\]\.$/m);

  const bench = c.pgbench(['-T', '10', '-c', '2', '-j', '2', '-n']);
  await new Promise((r) => setTimeout(r, 1000));
  const dead = await freePort();
  const push = await asNobody(['backup-push'], { PGHOST: '127.0.0.1,127.0.0.1', PGPORT: `${dead},${c.port}` });
  assert.equal(push.code, 0, push.stderr);
  for (const l of push.stderr.split('\n').filter(Boolean)) assert.match(l, LOG_LINE, `log line shape: ${l}`);
  assert.match(push.stderr, /WARNING: .* Could not connect to 127\.0\.0\.1:\d+: /, 'the dead host was tried first');
  assert.match(push.stderr, /Adding tablespace \d+ /);
  const name = /Wrote backup with name (base_[0-9A-F]{24}) to storage default$/m.exec(push.stderr)?.[1];
  assert.ok(name, push.stderr);
  assert.match((await bench).stdout, /number of transactions actually processed: [1-9]/);
  assert.deepEqual(await listNames(), [name]);
  const parts = execFileSync('ls', [join(work, 'backup-store/basebackups_005', name, 'tar_partitions')]).toString();
  assert.match(parts, /part_002\.tar\.lz4/, 'WALG_TAR_SIZE_THRESHOLD split the stream into parts');
  assert.match(parts, /pg_control\.tar\.lz4/);
  const sentinel = JSON.parse(readFileSync(join(work, 'backup-store/basebackups_005', `${name}_backup_stop_sentinel.json`), 'utf8')) as { Spec: { tablespaces: string[] }; DataDir: string };
  assert.equal(sentinel.DataDir, c.dataDir);
  assert.equal(sentinel.Spec.tablespaces.length, 1);

  await c.psql(`insert into marker values (5000, 'before-rp')`);
  const dump = await c.dumpAll();
  await c.psql(`select pg_create_restore_point('rp1')`);
  await switchAndArchive();
  await c.psql(`insert into marker select 100000 + g, 'after' from generate_series(1, 100) g`);
  await switchAndArchive();
  t.diagnostic(`backup ${name} pushed remotely; restore point archived`);

  // Restored beside the running source, its tablespace relocated (--restore-spec).
  const base = userTempDir('walg-remote-restore-');
  const data = join(base, 'data');
  const moved = join(base, 'ts-moved');
  const oid = await c.psql(`select oid from pg_tablespace where spcname = 'ts1'`);
  const spec = join(base, 'spec.json');
  writeFileSync(spec, JSON.stringify({ base_prefix: data, tablespaces: [oid], [oid]: { loc: moved, link: `pg_tblspc/${oid}` } }));
  try {
    const fetch = await walg(['backup-fetch', data, 'LATEST', '--restore-spec', spec, '--config', backupCfg], baseEnv());
    assert.equal(fetch.code, 0, fetch.stderr);
    assert.ok(existsSync(join(data, 'backup_label')), 'backup_label from BASE_BACKUP');
    const restored = await clusterFromDir(base, data);
    restored.configure({ archive_mode: 'off', restore_command: `${WALG_BIN} wal-fetch %f %p --config ${walCfg}`, recovery_target_name: 'rp1', recovery_target_action: 'promote' });
    writeUserFile(join(data, 'recovery.signal'), '');
    await restored.start();
    try {
      await until('recovery to rp1', 120_000, async () => (await restored.psql('select pg_is_in_recovery()')) === 'f')
        .catch((err: Error) => { throw new Error(`${err.message}\n${readFileSync(restored.logFile, 'utf8').slice(-3000)}`); });
      assert.ok((await restored.dumpAll()) === dump.replaceAll(tablespace, moved), 'pg_dumpall after recovery equals the dump at the restore point');
      const r = await runAs(join(PG_BIN, 'pg_amcheck'), ['--all', '--install-missing', '--heapallindexed'], { env: restored.env, allowFail: true });
      assert.equal(r.code, 0, `pg_amcheck: ${r.stdout}${r.stderr}`);
    } finally {
      await restored.stop('immediate');
    }
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
});

test('remote backup-push: a wrong password, pg_hba refusing replication, the server stopped mid-BASE_BACKUP: one error line, exit 1, nothing listed', async () => {
  const before = await listNames();
  for (const [extra, text] of [
    [{ PGPASSWORD: 'wrong' }, /password authentication failed for user "walg_scram" \(SQLSTATE 28P01\)/],
    [{ PGUSER: 'walg_md5', PGPASSWORD: 'md5-pw', PGDATABASE: 'postgres', PGSSLMODE: 'disable' }, null],
    [{ PGUSER: 'nobody_here' }, /no pg_hba\.conf entry for replication connection from host "127\.0\.0\.1", user "nobody_here"/],
  ] as const) {
    const r = await asNobody(['backup-push'], extra);
    if (text === null) { assert.equal(r.code, 0, `walg_md5 may take remote backups: ${r.stderr}`); continue; }
    assert.equal(r.code, 1, r.stderr);
    const errors = r.stderr.split('\n').filter((l) => l.startsWith('ERROR:'));
    assert.equal(errors.length, 1, r.stderr);
    assert.match(errors[0]!, text);
  }
  const listedBefore = (await listNames()).length;
  assert.equal(listedBefore, before.length + 1, 'only the md5 push is listed');
  const child = asNobody(['backup-push'], { WALG_DISK_RATE_LIMIT: String(64 * 1024) }); // MAX_RATE 64 kB/s: slow
  await until('the remote backup to stream', 60_000, async () => (await c.psql(`select count(*) from pg_stat_replication where state = 'backup'`)) === '1');
  await c.stop('immediate');
  const r = await child;
  assert.equal(r.code, 1, r.stderr);
  const errors = r.stderr.split('\n').filter((l) => l.startsWith('ERROR:'));
  assert.equal(errors.length, 1, r.stderr);
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
  assert.equal((await listNames()).length, listedBefore, 'nothing more listed');
});
