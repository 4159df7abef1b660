// Issue 18 acceptance 6: the binary installed as plain `wal-g` on a MySQL host whose configuration is a ~/.walg.json
// with WALG_MYSQL_DATASOURCE_NAME (src/cli/flavor-argv.ts mysqlByConfiguration). The cron lines of a WAL-G MySQL host
// run unchanged through the shell: backup-push, binlog-push, backup-list and delete retain 3 --confirm. Beside it,
// the same `wal-g` without that configuration is still the PostgreSQL tree.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { initMariaDb } from '../servers/mariadb.ts';
import type { MariaDb } from '../servers/mariadb.ts';
import { WALG_BIN, runBin } from '../helpers/cli.ts';
import { mysqldumpCommand, tempDir } from '../helpers/mysql.ts';

describe('mysql: plain `wal-g` on a MySQL host (issue 18 acceptance 6)', { timeout: 300_000 }, () => {
  let db: MariaDb;
  let root: string;
  let env: Record<string, string>;
  let store: string;

  before(async () => {
    db = await initMariaDb();
    await db.start();
    await db.createWalgUser();
    root = tempDir('walg-plain-');
    const bin = join(root, 'bin');
    const home = join(root, 'home');
    store = join(root, 'store');
    for (const d of [bin, home, store]) mkdirSync(d);
    symlinkSync(WALG_BIN, join(bin, 'wal-g'));
    // What a WAL-G MySQL host keeps in /root/.walg.json: no WALG_* in the cron environment.
    writeFileSync(join(home, '.walg.json'), JSON.stringify({
      WALG_FILE_PREFIX: store,
      WALG_MYSQL_DATASOURCE_NAME: db.dsn,
      WALG_STREAM_CREATE_COMMAND: mysqldumpCommand(db),
      WALG_MYSQL_BINLOG_SRC: db.dataDir,
      WALG_COMPRESSION_METHOD: 'lz4',
    }));
    env = { PATH: `${bin}:${process.env.PATH ?? '/usr/bin:/bin'}`, HOME: home };
  });
  after(async () => {
    await db?.destroy();
    if (root) rmSync(root, { recursive: true, force: true });
  });

  const cron = async (line: string) => {
    const r = await runBin('/bin/sh', ['-c', line], env);
    assert.equal(r.code, 0, `${line} exited ${r.code}:\n${r.stderr}`);
    return r;
  };

  it('backup-push, binlog-push, backup-list and delete retain 3 --confirm work unchanged', async () => {
    await db.sql('CREATE DATABASE cron; CREATE TABLE cron.t (id INT PRIMARY KEY)');
    for (let i = 1; i <= 4; i++) {
      await db.sql(`INSERT INTO cron.t VALUES (${i}); FLUSH BINARY LOGS`);
      await cron('wal-g binlog-push');
      await cron('wal-g backup-push');
    }
    const list = await cron('wal-g backup-list --json');
    const names = (JSON.parse(list.stdout.toString()) as Array<{ backup_name: string }>).map((b) => b.backup_name);
    assert.equal(names.length, 4);
    assert.ok(names.every((n) => /^stream_\d{8}T\d{6}Z$/.test(n)), names.join(' '));
    assert.ok(readdirSync(join(store, 'binlog_005')).length >= 4, 'binlogs archived');
    await cron('wal-g delete retain 3 --confirm');
    const after = JSON.parse((await cron('wal-g backup-list --json')).stdout.toString()) as Array<{ backup_name: string }>;
    assert.deepEqual(after.map((b) => b.backup_name), names.slice(1));
  });

  it('without a MySQL configuration the same `wal-g` is the PostgreSQL tree', async () => {
    const r = await runBin('/bin/sh', ['-c', 'wal-g --help'], { ...env, HOME: root });
    assert.equal(r.code, 0);
    assert.match(r.stdout.toString(), /wal-push/);
    const m = await runBin('/bin/sh', ['-c', 'wal-g --help'], env);
    assert.doesNotMatch(m.stdout.toString(), /wal-push/);
    assert.match(m.stdout.toString(), /binlog-push/);
  });
});
