// Issue 18 acceptance 1, 4 and 5 (push side) on a private MariaDB 10.11 with Debian's mariabackup: xtrabackup-push of a
// full backup and two incrementals (--full=false, WALG_DELTA_MAX_STEPS) with writes between them, their sentinels
// as WAL-G writes them, the datadir destroyed and the chain restored by backup-fetch (base and each increment
// extracted and prepared in order, from a second storage filled by `copy -b LATEST -w`), CHECKSUM TABLE equal to the values at the last backup, then binlog-replay to a
// chosen time; binlog-find. Bad input: a stream that is not xbstream, an incremental whose parent is missing, an incremental
// without a prepare command: one ERROR line, a non-zero exit, nothing listed or restored.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { initMariaDb } from '../servers/mariadb.ts';
import type { MariaDb } from '../servers/mariadb.ts';
import { walg } from '../helpers/cli.ts';
import { assertOneLineFailure, binlogReplayScript, listedBackups, mariabackupCommand, mysqlEnv, sleep, tempDir, walgOk } from '../helpers/mysql.ts';

const TABLES = ['shop.customers', 'shop.orders'];

async function loadData(db: MariaDb): Promise<void> {
  await db.sql('CREATE DATABASE shop');
  await db.sql('CREATE TABLE shop.customers (id INT PRIMARY KEY, name VARCHAR(64), balance DECIMAL(12,2)) ENGINE=InnoDB; '
    + 'CREATE TABLE shop.orders (id INT AUTO_INCREMENT PRIMARY KEY, customer INT, note TEXT) ENGINE=InnoDB; '
    + "INSERT INTO shop.customers SELECT seq, CONCAT('customer-', seq), seq * 1.5 FROM seq_1_to_3000; "
    + "INSERT INTO shop.orders (customer, note) SELECT seq % 3000 + 1, REPEAT(MD5(seq), 4) FROM seq_1_to_6000;", 'shop');
}

/** One round of writes: inserts, updates and deletes tagged with `tag`. */
async function writes(db: MariaDb, tag: string, n: number): Promise<void> {
  await db.sql(`INSERT INTO shop.orders (customer, note) SELECT seq, '${tag}' FROM seq_1_to_${n}; `
    + `UPDATE shop.customers SET balance = balance + ${n} WHERE id % 7 = ${n % 7}; `
    + `DELETE FROM shop.orders WHERE id % 97 = ${n % 97} AND note <> '${tag}';`, 'shop');
}

const sentinelOf = (store: string, name: string) =>
  JSON.parse(readFileSync(join(store, 'basebackups_005', `${name}_backup_stop_sentinel.json`), 'utf8'));

describe('mysql: xtrabackup-push incrementals and chain restore (issue 18 acceptance 1, 5)', { timeout: 400_000 }, () => {
  let db: MariaDb;
  let store: string;
  let home: string;
  let scratch: string;
  let env: Record<string, string>;
  let dest: string;

  before(async () => {
    db = await initMariaDb();
    await db.start();
    await db.createWalgUser();
    store = tempDir('walg-mysql-store-');
    home = tempDir('walg-mysql-home-');
    scratch = tempDir('walg-mysql-scratch-');
    env = mysqlEnv(db, store, home, { WALG_STREAM_CREATE_COMMAND: mariabackupCommand(db, scratch), WALG_DELTA_MAX_STEPS: '3' });
  });
  after(async () => {
    await db?.destroy();
    for (const d of [store, home, scratch, dest]) if (d) rmSync(d, { recursive: true, force: true });
  });

  it('a stream that is not xbstream is refused with nothing listed', async () => {
    const r = await walg(['mysql', 'xtrabackup-push'], { ...env, WALG_STREAM_CREATE_COMMAND: 'echo "-- MySQL dump 10.19"' });
    assertOneLineFailure(r, /the backup stream is not xbstream \(it starts with "-- MySQL"\)/);
    assert.deepEqual(await listedBackups(env), []);
    assert.deepEqual(existsSync(join(store, 'basebackups_005')) ? readdirSync(join(store, 'basebackups_005')) : [], [], 'no object left');
  });

  it('full + two incrementals, datadir destroyed, chain restored, then binlog-replay to a time', async () => {
    await loadData(db);
    await db.sql('FLUSH BINARY LOGS');
    await walgOk(['binlog-push'], env);
    await walgOk(['xtrabackup-push'], env);
    // binlog-find: the last archived binlog before the server's executed GTIDs, the full backup's BinLogStart.
    const fullStart = sentinelOf(store, (await listedBackups(env))[0]!).BinLogStart as string;
    assert.match(fullStart, /^mysql-bin\.\d{6}$/);
    assert.match((await walgOk(['binlog-find'], env)).stderr, new RegExp(`^INFO: .* ${fullStart.replace('.', '\\.')}$`, 'm'));
    await writes(db, 'inc-1', 300);
    await walgOk(['xtrabackup-push', '--full=false'], env);
    await writes(db, 'inc-2', 200);
    const r2 = await walgOk(['xtrabackup-push', '--full=false'], env);
    const atLastBackup = await db.checksums(TABLES);
    const [full, inc1, inc2] = await listedBackups(env);
    assert.ok(full && inc1 && inc2, 'three backups listed');
    assert.match(r2.stderr, /--incremental-lsn=\d+/, 'the parent LSN goes to mariabackup');

    const f = sentinelOf(store, full);
    const s1 = sentinelOf(store, inc1);
    const s2 = sentinelOf(store, inc2);
    assert.equal(f.IsIncremental, false);
    assert.equal(f.DeltaCount, 0);
    assert.equal(f.DeltaFrom, undefined);
    assert.deepEqual([s1.IsIncremental, s1.DeltaFrom, s1.DeltaFullName, s1.DeltaCount], [true, full, full, 1]);
    assert.deepEqual([s2.IsIncremental, s2.DeltaFrom, s2.DeltaFullName, s2.DeltaCount], [true, inc1, full, 2]);
    assert.equal(s1.DeltaLSN, f.LSN, "inc-1 starts at the full backup's LSN");
    assert.equal(s2.DeltaLSN, s1.LSN, "inc-2 starts at inc-1's LSN");
    // to_lsn is mariabackup's checkpoint LSN: it need not move between two backups close together.
    assert.ok(s2.LSN >= s1.LSN && s1.LSN >= f.LSN, `LSNs ${f.LSN} ${s1.LSN} ${s2.LSN}`);
    // WAL-G's key order: ... IsPermanent, IsIncremental, (UserData,) LSN, DeltaLSN, DeltaFrom, DeltaFullName, DeltaCount.
    assert.match(readFileSync(join(store, 'basebackups_005', `${inc2}_backup_stop_sentinel.json`), 'utf8'),
      /"IsPermanent":false,"IsIncremental":true,"LSN":\d+,"DeltaLSN":\d+,"DeltaFrom":"stream_\w+","DeltaFullName":"stream_\w+","DeltaCount":2}$/);

    // Writes across binlog rotations, each closed binlog archived; a chosen time; later writes that must not return.
    for (const tag of ['round-1', 'round-2']) {
      await writes(db, tag, 60 + tag.length);
      await db.sql('FLUSH BINARY LOGS');
      await walgOk(['binlog-push'], env);
    }
    await sleep(1200);
    const until = new Date(Math.floor(Date.now() / 1000) * 1000);
    const atUntil = await db.checksums(TABLES);
    await sleep(1200);
    await writes(db, 'after-the-point', 30);
    await db.sql('FLUSH BINARY LOGS');
    await walgOk(['binlog-push'], env);

    // Bad input on a copy of the storage: the chain's full backup gone.
    const broken = tempDir('walg-mysql-broken-');
    cpSync(store, broken, { recursive: true });
    rmSync(join(broken, 'basebackups_005', `${full}_backup_stop_sentinel.json`));
    rmSync(join(broken, 'basebackups_005', full), { recursive: true });
    const marker = join(scratch, 'restore-ran');
    const bad = await walg(['mysql', 'backup-fetch', inc2], { ...env, WALG_FILE_PREFIX: broken, WALG_STREAM_RESTORE_COMMAND: `touch ${marker}`, WALG_MYSQL_BACKUP_PREPARE_COMMAND: 'true' });
    assertOneLineFailure(bad, new RegExp(`backup ${inc1} is incremental \\(delta from ${full}\\), but ${full} is not in storage`));
    rmSync(broken, { recursive: true, force: true });
    const noPrepare = await walg(['mysql', 'backup-fetch', 'LATEST'], { ...env, WALG_STREAM_RESTORE_COMMAND: `touch ${marker}` });
    assertOneLineFailure(noPrepare, /WALG_MYSQL_BACKUP_PREPARE_COMMAND is required to restore the incremental backup/);
    assert.equal(existsSync(marker), false, 'the restore command never ran');

    // Acceptance 4: copy -b LATEST -w into a second storage; the chain and binlogs are restored from there.
    dest = tempDir('walg-mysql-dest-');
    const fromCfg = join(scratch, 'from.json');
    const toCfg = join(scratch, 'to.json');
    writeFileSync(fromCfg, JSON.stringify({ WALG_FILE_PREFIX: store }));
    writeFileSync(toCfg, JSON.stringify({ WALG_FILE_PREFIX: dest }));
    await walgOk(['copy', '-f', fromCfg, '-t', toCfg, '-b', 'LATEST', '-w'], env);
    const destEnv = { ...env, WALG_FILE_PREFIX: dest };
    assert.deepEqual(await listedBackups(destEnv), [full, inc1, inc2], 'the whole chain copied');
    const binlogsOf = async (e: Record<string, string>) => (JSON.parse((await walgOk(['binlog-list', '--json'], e)).stdout.toString()) as unknown[])
      .map((b) => JSON.stringify({ ...(b as object), last_modified: undefined })).sort();
    const startNum = Number(String(s2.BinLogStart).split('.').pop());
    const wanted = (await binlogsOf(env)).filter((b) => Number(/mysql-bin\.(\d+)/.exec(b)?.[1]) >= startNum);
    assert.ok(wanted.length >= 3, `binlogs from ${s2.BinLogStart} on: ${wanted.length}`);
    assert.deepEqual(await binlogsOf(destEnv), wanted, 'the binlogs from BinLogStart on (names and sizes; a copy has its own times)');
    env = destEnv;

    // Destroy the datadir and restore the chain (from the copy).
    await db.stop();
    rmSync(db.dataDir, { recursive: true, force: true });
    mkdirSync(db.dataDir);
    const deltas = tempDir('walg-mysql-deltas-');
    const fetched = await walgOk(['backup-fetch', 'LATEST'], {
      ...env,
      WALG_STREAM_RESTORE_COMMAND: `mbstream -x -C ${db.dataDir}`,
      WALG_MYSQL_BACKUP_PREPARE_COMMAND: `mariabackup --prepare --target-dir=${db.dataDir}`,
      WALG_MYSQL_INCREMENTAL_BACKUP_DST: deltas,
    });
    assert.match(fetched.stderr, new RegExp(`restored as a chain of 3: ${full}, ${inc1}, ${inc2}`));
    assert.equal((fetched.stderr.match(/--incremental-dir=/g) ?? []).length >= 2, true, 'each increment applied');
    assert.deepEqual(readdirSync(deltas), [], 'increment directories removed');
    rmSync(deltas, { recursive: true, force: true });
    await db.start();
    assert.equal(await db.checksums(TABLES), atLastBackup, 'checksums at the last incremental');

    const dst = tempDir('walg-mysql-binlogs-');
    const script = join(dst, '..', `${basename(dst)}-replay.sh`);
    const replay = binlogReplayScript(db, script, { stopAtEndTs: true });
    await walgOk(['binlog-replay', '--since', 'LATEST', '--until', until.toISOString().replace(/\.\d+Z$/, 'Z')], {
      ...env, WALG_MYSQL_BINLOG_DST: dst, WALG_MYSQL_BINLOG_REPLAY_COMMAND: replay,
    });
    rmSync(dst, { recursive: true, force: true });
    rmSync(script, { force: true });
    assert.equal(await db.checksums(TABLES), atUntil, 'checksums at the chosen time');
    assert.equal(await db.sql("SELECT COUNT(*) FROM shop.orders WHERE note = 'after-the-point'"), '0');
  });
});
