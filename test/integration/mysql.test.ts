// #6 acceptance 1 and 2 on a private MariaDB 10.11: mariabackup backup-push, binlog-push across rotations,
// destroyed datadir, backup-fetch LATEST + prepare, binlog-replay to a chosen time (checksums equal those taken at
// that time, later writes absent); and the same data backed up with mysqldump (as a split stream) restored through
// the mariadb client into a fresh server.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { initMariaDb } from '../servers/mariadb.ts';
import type { MariaDb } from '../servers/mariadb.ts';
import { binlogReplayScript, mariabackupCommand, mysqldumpCommand, mysqlEnv, listedBackups, sleep, tempDir, walgOk } from '../helpers/mysql.ts';

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

describe('mysql: mariabackup backup + binlog PITR (acceptance 1)', { timeout: 300_000 }, () => {
  let db: MariaDb;
  let store: string;
  let home: string;
  let scratch: string;
  let env: Record<string, string>;

  before(async () => {
    db = await initMariaDb();
    await db.start();
    await db.createWalgUser();
    store = tempDir('walg-mysql-store-');
    home = tempDir('walg-mysql-home-');
    scratch = tempDir('walg-mysql-scratch-');
    env = mysqlEnv(db, store, home, { WALG_STREAM_CREATE_COMMAND: mariabackupCommand(db, scratch) });
  });
  after(async () => {
    await db?.destroy();
    for (const d of [store, home, scratch]) if (d) rmSync(d, { recursive: true, force: true });
  });

  it('restores the backup and replays binlogs up to a chosen time', async () => {
    await loadData(db);
    await db.sql('FLUSH BINARY LOGS');
    await walgOk(['binlog-push'], env);
    await walgOk(['backup-push'], env);
    const [backup] = await listedBackups(env);
    assert.ok(backup && /^stream_\d{8}T\d{6}Z$/.test(backup), `backup listed: ${backup}`);
    const sentinel = JSON.parse(readFileSync(join(store, 'basebackups_005', `${backup}_backup_stop_sentinel.json`), 'utf8'));
    assert.equal(sentinel.Tool, 'WALG_XTRABACKUP_TOOL');
    // compat: --extra-lsndir's xtrabackup_checkpoints give LSN (to_lsn) and DeltaLSN (from_lsn, 0 for a full backup).
    assert.ok(typeof sentinel.LSN === 'number' && sentinel.LSN > 0, `LSN recorded: ${sentinel.LSN}`);
    assert.equal(sentinel.DeltaLSN, 0);
    assert.equal(sentinel.ServerOS, 'linux');
    assert.match(sentinel.ServerArch, /^(amd64|arm64|386|arm)$/);
    assert.equal(sentinel.BinLogStart, 'mysql-bin.000001', 'BinLogStart: the newest archived binlog behind the backup GTID');

    // Writes across several rotations, each closed binlog archived right away.
    for (const tag of ['round-1', 'round-2', 'round-3']) {
      await writes(db, tag, 50 + tag.length * 10);
      await db.sql('FLUSH BINARY LOGS');
      await walgOk(['binlog-push'], env);
    }
    await writes(db, 'round-4', 40); // into the binlog that stays open until after the chosen time
    await sleep(1200);
    const until = new Date(Math.floor(Date.now() / 1000) * 1000);
    const expected = await db.checksums(TABLES);
    const expectedOrders = await db.sql('SELECT COUNT(*) FROM shop.orders');
    await sleep(1200);
    await db.sql("INSERT INTO shop.orders (customer, note) VALUES (1, 'after-the-point')");
    await writes(db, 'round-5', 30);
    await db.sql('FLUSH BINARY LOGS');
    await walgOk(['binlog-push'], env);
    await writes(db, 'round-6', 20);
    await db.sql('FLUSH BINARY LOGS');
    await walgOk(['binlog-push'], env);
    assert.notEqual(await db.checksums(TABLES), expected);

    // Destroy the datadir and restore.
    await db.stop();
    rmSync(db.dataDir, { recursive: true, force: true });
    mkdirSync(db.dataDir);
    await walgOk(['backup-fetch', 'LATEST'], {
      ...env,
      WALG_STREAM_RESTORE_COMMAND: `mbstream -x -C ${db.dataDir}`,
      WALG_MYSQL_BACKUP_PREPARE_COMMAND: `mariabackup --prepare --target-dir=${db.dataDir}`,
    });
    const binlogInfo = readFileSync(join(db.dataDir, 'xtrabackup_binlog_info'), 'utf8').trim().split(/\s+/);
    const gtid = binlogInfo[2];
    assert.ok(gtid && /^\d+-\d+-\d+/.test(gtid), `xtrabackup_binlog_info has the GTID position: ${binlogInfo.join(' ')}`);
    await db.start();

    const dst = tempDir('walg-mysql-binlogs-');
    const script = join(dst, '..', `${basename(dst)}-replay.sh`);
    const replay = binlogReplayScript(db, script, { stopAtEndTs: true });
    const r = await walgOk(['binlog-replay', '--since', 'LATEST', '--until', until.toISOString().replace(/\.\d+Z$/, 'Z')], {
      ...env, WALG_MYSQL_BINLOG_DST: dst, WALG_MYSQL_BINLOG_REPLAY_COMMAND: replay,
    });
    assert.match(r.stderr, /replaying mysql-bin\.000002/);
    rmSync(dst, { recursive: true, force: true });
    rmSync(script, { force: true });

    assert.equal(await db.checksums(TABLES), expected, 'checksums at the chosen time');
    assert.equal(await db.sql('SELECT COUNT(*) FROM shop.orders'), expectedOrders);
    assert.equal(await db.sql("SELECT COUNT(*) FROM shop.orders WHERE note IN ('after-the-point', 'round-5', 'round-6')"), '0', 'writes after the point are absent');
  });
});

describe('mysql: mysqldump backup restored through the client (acceptance 2)', { timeout: 300_000 }, () => {
  let db: MariaDb;
  let fresh: MariaDb;
  let store: string;
  let home: string;

  before(async () => {
    db = await initMariaDb();
    await db.start();
    await db.createWalgUser();
    store = tempDir('walg-mysql-store-');
    home = tempDir('walg-mysql-home-');
  });
  after(async () => {
    await db?.destroy();
    await fresh?.destroy();
    for (const d of [store, home]) if (d) rmSync(d, { recursive: true, force: true });
  });

  it('backs up with mysqldump as a split stream and restores with the mariadb client', async () => {
    await loadData(db);
    await writes(db, 'dump', 77);
    const expected = await db.checksums(TABLES);
    const env = mysqlEnv(db, store, home, {
      WALG_STREAM_CREATE_COMMAND: mysqldumpCommand(db),
      // Split stream: 3 partitions of 64 KiB blocks, files of at most 300 000 plain bytes.
      WALG_STREAM_SPLITTER_PARTITIONS: '3', WALG_STREAM_SPLITTER_BLOCK_SIZE: '65536', WALG_STREAM_SPLITTER_MAX_FILE_SIZE: '300000',
    });
    await walgOk(['backup-push'], env);
    const [backup] = await listedBackups(env);
    assert.ok(backup);
    const sentinel = JSON.parse(readFileSync(join(store, 'basebackups_005', `${backup}_backup_stop_sentinel.json`), 'utf8'));
    assert.equal(sentinel.Tool, 'WALG_UNSPECIFIED_STREAM_BACKUP_TOOL');
    const meta = JSON.parse(readFileSync(join(store, 'basebackups_005', backup, 'stream_metadata.json'), 'utf8'));
    assert.deepEqual(meta, { type: 'SPLIT_MERGE_STREAM_BACKUP', partitions: 3, block_size: 65536, compression: 'lz4' });

    fresh = await initMariaDb();
    await fresh.start();
    await walgOk(['backup-fetch', 'LATEST'], { ...env, WALG_STREAM_RESTORE_COMMAND: `mariadb ${fresh.clientArgs.join(' ')}` });
    assert.equal(await fresh.checksums(TABLES), expected);

    // The same stream through get-stream and its 2018 name stream-fetch: the plain dump.
    const a = await walgOk(['get-stream', backup], env);
    const b = await walgOk(['stream-fetch', 'LATEST'], env);
    assert.ok(a.stdout.includes(Buffer.from('CREATE TABLE `customers`')));
    assert.ok(a.stdout.equals(b.stdout));
    assert.equal(sentinel.UncompressedSize, a.stdout.length);
  });
});
