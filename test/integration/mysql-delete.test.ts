// #6 acceptance 4: `delete retain` removes older backups and the binlogs no kept backup needs, keeps the binlogs a
// kept backup replays from (its BinLogStart on), and never touches permanent backups (backup-push --permanent,
// backup-mark -b); a dry run deletes nothing; backup-mark -i makes a backup deletable again.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { initMariaDb } from '../servers/mariadb.ts';
import type { MariaDb } from '../servers/mariadb.ts';
import { listedBackups, mysqldumpCommand, mysqlEnv, sleep, tempDir, walgOk } from '../helpers/mysql.ts';

describe('mysql: delete retain with binlogs and permanent backups (acceptance 4)', { timeout: 300_000 }, () => {
  let db: MariaDb;
  let store: string;
  let home: string;
  let env: Record<string, string>;

  before(async () => {
    db = await initMariaDb();
    await db.start();
    await db.createWalgUser();
    store = tempDir('walg-mysql-store-');
    home = tempDir('walg-mysql-home-');
    env = mysqlEnv(db, store, home, { WALG_STREAM_CREATE_COMMAND: mysqldumpCommand(db) });
    await db.sql('CREATE DATABASE d; CREATE TABLE d.t (id INT AUTO_INCREMENT PRIMARY KEY, v INT)');
  });
  after(async () => {
    await db?.destroy();
    for (const d of [store, home]) if (d) rmSync(d, { recursive: true, force: true });
  });

  /** Writes, rotates and archives: one more closed binlog in storage. */
  const rotate = async (n: number) => {
    await db.sql(`INSERT INTO d.t (v) VALUES (${n}), (${n + 1})`);
    await db.sql('FLUSH BINARY LOGS');
    await walgOk(['binlog-push'], env);
    await sleep(1100); // distinct upload seconds for binlogs and backup names
  };
  const binlogs = async () => (await walgOk(['binlog-list', '--json'], env)).stdout.length
    ? (JSON.parse((await walgOk(['binlog-list', '--json'], env)).stdout.toString()) as Array<{ name: string }>).map((b) => b.name) : [];
  const sentinel = (name: string) => JSON.parse(readFileSync(join(store, 'basebackups_005', `${name}_backup_stop_sentinel.json`), 'utf8'));

  it('keeps what kept backups need and permanent backups', async () => {
    await rotate(1); // mysql-bin.000001
    await walgOk(['backup-push', '--permanent'], env); // B1, permanent from the start
    await rotate(10); // 000002
    await walgOk(['backup-push'], env); // B2, marked permanent below
    await rotate(20); // 000003
    await walgOk(['backup-push'], env); // B3
    await rotate(30); // 000004
    await walgOk(['backup-push'], env); // B4
    await rotate(40); // 000005
    const [b1, b2, b3, b4] = await listedBackups(env);
    assert.ok(b1 && b2 && b3 && b4);
    await walgOk(['backup-mark', '-b', b2!], env);
    assert.equal(sentinel(b1!).IsPermanent, true);
    assert.equal(sentinel(b2!).IsPermanent, true);
    assert.equal(sentinel(b4!).BinLogStart, 'mysql-bin.000004');
    assert.deepEqual(await binlogs(), ['mysql-bin.000001', 'mysql-bin.000002', 'mysql-bin.000003', 'mysql-bin.000004', 'mysql-bin.000005']);

    const dry = await walgOk(['delete', 'retain', '1'], env);
    assert.match(dry.stderr, /Dry run: objects would be deleted/);
    assert.equal((await listedBackups(env)).length, 4);

    const r = await walgOk(['delete', 'retain', '1', '--confirm'], env);
    assert.match(r.stderr, /Objects deleted successfully/);
    assert.deepEqual(await listedBackups(env), [b1, b2, b4], 'B3 deleted; permanent B1, B2 and the newest B4 kept');
    // B4 replays from its BinLogStart (000004): that and later stay; the older ones go.
    assert.deepEqual(await binlogs(), ['mysql-bin.000004', 'mysql-bin.000005']);
    const dst = tempDir('walg-mysql-binlogs-');
    await walgOk(['binlog-fetch', '--since', b4!], { ...env, WALG_MYSQL_BINLOG_DST: dst });
    assert.equal(readFileSync(join(dst, 'binlogs_order'), 'utf8'), 'mysql-bin.000004\nmysql-bin.000005\n');
    rmSync(dst, { recursive: true, force: true });

    // Impermanent again: the next retain takes it (B1 stays permanent).
    await walgOk(['backup-mark', '-b', b2!, '-i'], env);
    await walgOk(['delete', 'retain', '1', '--confirm'], env);
    assert.deepEqual(await listedBackups(env), [b1, b4]);
    // everything refuses while a permanent backup exists.
    const refused = await walgOk(['delete', 'everything'], env).catch((e: Error) => e);
    assert.ok(refused instanceof Error && /Found permanent backups=\[/.test(refused.message));
  });
});
