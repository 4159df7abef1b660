// #6 acceptance 3: a failing stream command, a dropped database connection (the session killed, the server killed
// mid-push) and a wrong DSN each end with one WAL-G error line, a non-zero exit, no backup listed and no object
// left under basebackups_005/. And an incremental backup (WAL-G's xtrabackup-push --full=false) is never restored
// as if it were whole: without a prepare command backup-fetch refuses it in one line (issue 18 restores its chain).

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { baseEnv, walg } from '../helpers/cli.ts';
import { initMariaDb, WALG_USER } from '../servers/mariadb.ts';
import type { MariaDb } from '../servers/mariadb.ts';
import { assertOneLineFailure, listedBackups, mariabackupCommand, mysqlEnv, sleep, tempDir, walgOk } from '../helpers/mysql.ts';

describe('mysql: failed backups are never listed (acceptance 3)', { timeout: 300_000 }, () => {
  let db: MariaDb;
  let store: string;
  let home: string;
  let scratch: string;
  let env: Record<string, string>;

  /** Objects (files; the file storage may keep empty folders) under basebackups_005/: a failed push leaves none. */
  const leftovers = () => (existsSync(join(store, 'basebackups_005'))
    ? readdirSync(join(store, 'basebackups_005'), { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => e.name) : []);

  before(async () => {
    db = await initMariaDb();
    await db.start();
    await db.createWalgUser();
    await db.sql("CREATE DATABASE f; CREATE TABLE f.t (id INT PRIMARY KEY); INSERT INTO f.t VALUES (1),(2),(3)");
    store = tempDir('walg-mysql-store-');
    home = tempDir('walg-mysql-home-');
    scratch = tempDir('walg-mysql-scratch-');
    env = mysqlEnv(db, store, home);
  });
  after(async () => {
    await db?.destroy();
    for (const d of [store, home, scratch]) if (d) rmSync(d, { recursive: true, force: true });
  });

  it('a stream command that fails after writing data', async () => {
    const r = await walg(['mysql', 'backup-push'], { ...env, WALG_STREAM_CREATE_COMMAND: 'head -c 3000000 /dev/urandom; echo "mariabackup: Error: disk on fire" >&2; exit 3' });
    assertOneLineFailure(r, /backup create command failed: exit status 3: mariabackup: Error: disk on fire/);
    assert.deepEqual(await listedBackups(env), []);
    assert.deepEqual(leftovers(), []);
  });

  it('a stream command that cannot run', async () => {
    const r = await walg(['mysql', 'backup-push'], { ...env, WALG_STREAM_CREATE_COMMAND: 'mariabackup --backup --stream=xbstream --datadir=/nonexistent/dir --socket=/nonexistent.sock' });
    assertOneLineFailure(r, /backup create command failed: exit status \d+/);
    assert.deepEqual(await listedBackups(env), []);
    assert.deepEqual(leftovers(), []);
  });

  it('the database connection killed while the stream runs', async () => {
    // The stream stays open 4 s after mariabackup (the trap); mariabackup stays last, so the --extra-lsndir that
    // backup-push appends to the command (compat) reaches it.
    const run = walg(['mysql', 'backup-push'], { ...env, WALG_STREAM_CREATE_COMMAND: `trap 'sleep 4' EXIT; ${mariabackupCommand(db, scratch)}` });
    // Wait for the backup tool to finish its part, then kill wal-g's own session.
    let killed = false;
    for (let i = 0; i < 100 && !killed; i++) {
      await sleep(100);
      const ids = (await db.sql(`SELECT id FROM information_schema.processlist WHERE user = '${WALG_USER}'`)).split('\n').filter((x) => x !== '');
      const backupDone = (await db.sql("SELECT COUNT(*) FROM information_schema.processlist WHERE user = 'root' AND command <> 'Query'")) === '0';
      if (ids.length > 0 && backupDone && i > 10) {
        for (const id of ids) await db.sql(`KILL CONNECTION ${id}`);
        killed = true;
      }
    }
    assert.ok(killed, 'found the wal-g session to kill');
    const r = await run;
    assertOneLineFailure(r, /lost connection to the database/i);
    assert.deepEqual(await listedBackups(env), []);
    assert.deepEqual(leftovers(), []);
  });

  it('a wrong password and a malformed DSN', async () => {
    const bad = { ...env, WALG_STREAM_CREATE_COMMAND: mariabackupCommand(db, scratch), WALG_MYSQL_DATASOURCE_NAME: `${WALG_USER}:wrong@tcp(127.0.0.1:${db.port})/` };
    const r1 = await walg(['mysql', 'backup-push'], bad);
    assertOneLineFailure(r1, /failed to connect to the database: Access denied for user 'walg'/);
    assert.ok(!r1.stderr.includes('wrong'), 'the password is not printed');
    const r2 = await walg(['mysql', 'backup-push'], { ...bad, WALG_MYSQL_DATASOURCE_NAME: 'walg:pw@tcp(127.0.0.1' });
    assertOneLineFailure(r2, /invalid mysql datasource/);
    assert.deepEqual(await listedBackups(env), []);
    assert.deepEqual(leftovers(), []);
  });

  it('the server killed while the stream runs (then a good backup still works)', async () => {
    const good = { ...env, WALG_STREAM_CREATE_COMMAND: mariabackupCommand(db, scratch) };
    await walgOk(['backup-push'], good);
    assert.equal((await listedBackups(env)).length, 1);
    const run = walg(['mysql', 'backup-push'], { ...env, WALG_STREAM_CREATE_COMMAND: 'head -c 100000 /dev/urandom; sleep 3' });
    await sleep(1500);
    await db.kill();
    const r = await run;
    assertOneLineFailure(r, /lost connection to the database/i);
    assert.equal((await listedBackups(env)).length, 1, 'only the good backup is listed');
    assert.equal(leftovers().length, 2, 'only the good backup\'s stream and sentinel remain');
  });
});

describe('mysql: an incremental backup (WAL-G xtrabackup-push --full=false) without a prepare command is refused by backup-fetch', () => {
  it('one ERROR line naming it, exit 1, the restore command never started', async () => {
    const store = tempDir('walg-mysql-store-');
    try {
      const full = 'stream_20240501T100000Z';
      const inc = 'stream_20240501T110000Z';
      const sentinel = (extra: string) => `{"Tool":"WALG_XTRABACKUP_TOOL","StartLocalTime":"2024-05-01T10:00:00Z","StopLocalTime":"2024-05-01T10:00:01Z","IsPermanent":false,${extra}}`;
      mkdirSync(join(store, 'basebackups_005', full), { recursive: true });
      mkdirSync(join(store, 'basebackups_005', inc));
      writeFileSync(join(store, 'basebackups_005', full, 'stream'), 'full');
      writeFileSync(join(store, 'basebackups_005', inc, 'stream'), 'increment');
      writeFileSync(join(store, 'basebackups_005', `${full}_backup_stop_sentinel.json`), sentinel('"IsIncremental":false,"LSN":44420,"DeltaLSN":0,"DeltaCount":0'));
      writeFileSync(join(store, 'basebackups_005', `${inc}_backup_stop_sentinel.json`),
        sentinel(`"IsIncremental":true,"LSN":51200,"DeltaLSN":44420,"DeltaFrom":"${full}","DeltaFullName":"${full}","DeltaCount":1`));
      const marker = join(store, 'restore-command-ran');
      const env = { ...baseEnv({ WALG_FILE_PREFIX: store }), WALG_STREAM_RESTORE_COMMAND: `touch ${marker}; cat > /dev/null` };
      for (const target of ['LATEST', inc]) {
        const r = await walg(['mysql', 'backup-fetch', target], env);
        assertOneLineFailure(r, new RegExp(`WALG_MYSQL_BACKUP_PREPARE_COMMAND is required to restore the incremental backup ${inc}`));
        assert.equal(r.code, 1);
      }
      assert.equal(existsSync(marker), false);
      assert.equal((await walg(['mysql', 'backup-fetch', full], env)).code, 0, 'the full backup restores');
      assert.equal(existsSync(marker), true);
      // The root --target (WAL-G's persistent flag, read by get-stream): before or after the command; 'all' refused.
      assert.equal((await walg(['mysql', '--target', 'default', 'get-stream', full], env)).stdout.toString(), 'full');
      assert.equal((await walg(['mysql', 'get-stream', inc, '--target', 'default'], env)).stdout.toString(), 'increment');
      assertOneLineFailure(await walg(['mysql', 'get-stream', full, '--target', 'all'], env), /'all' target is not supported for st get command/);
      assert.notEqual((await walg(['mysql', '--target', 'nosuch', 'get-stream', full], env)).code, 0, 'an unknown storage name fails');
    } finally {
      rmSync(store, { recursive: true, force: true });
    }
  });
});
