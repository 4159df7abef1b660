// Compatibility without the reference (issue 14): test/fixtures/walg-3.0.9/ holds storages written by WAL-G v3.0.9
// (recorded by test/fixtures/record-walg-3.0.9.ts). Our dist/wal-g restores them: PostgreSQL through backup-fetch
// LATEST (a delta on a full, lz4 + libsodium) and recovery through our wal-fetch, pg_dumpall equal to the recorded
// one and pg_amcheck clean; MariaDB through backup-fetch (mbstream + mariabackup --prepare) and binlog-replay, the
// tables equal to the recorded rows. A byte altered in a backup part or a WAL segment is an error, not a restore.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, baseEnv } from '../helpers/cli.ts';
import { until } from '../helpers/pg-exec.ts';
import { firstDifferences } from '../helpers/diff.ts';
import { binlogReplayScript, walgOk } from '../helpers/mysql.ts';
import { PG_MAJOR, clusterFromDir, freePort, pgIdentity, userTempDir, writeUserFile } from '../servers/postgres.ts';
import { MARIADBD, MariaDb } from '../servers/mariadb.ts';
import { OURS, ok, run, writeConfig } from '../interop/harness.ts';
import { amcheck } from '../interop/pg.ts';

const FIXTURE = join(ROOT, 'test/fixtures/walg-3.0.9');

interface Manifest {
  pg: { major: number; serverVersion: string; settings: Record<string, string>; backups: string[]; walSegments: string[] };
  mysql: { serverVersion: string; settings: Record<string, string>; backup: string; binlogs: string[]; tables: string[] };
  mtimes: Record<string, string>;
}
const manifest = JSON.parse(readFileSync(join(FIXTURE, 'fixture.json'), 'utf8')) as Manifest;

/** Copies storage `sub` (pg, mysql) of the fixture to `dest`, owned by the cluster user, with the recorded mtimes. */
function copyStorage(sub: 'pg' | 'mysql', dest: string): void {
  cpSync(join(FIXTURE, sub), dest, { recursive: true });
  let n = 0;
  for (const [rel, iso] of Object.entries(manifest.mtimes)) {
    if (!rel.startsWith(`${sub}/`)) continue;
    const t = new Date(iso);
    utimesSync(join(dest, rel.slice(sub.length + 1)), t, t);
    n++;
  }
  assert.ok(n > 0, `fixture.json lists the objects of ${sub}/`);
  const id = pgIdentity();
  execFileSync('chown', ['-R', `${id.uid}:${id.gid}`, dest]);
}

/** A dump without what varies per run or machine: the \restrict key lines and the server/pg_dump version. */
function normaliseDump(dump: string): string {
  return dump.split('\n').filter((l) => !/^\\(un)?restrict /.test(l) && !/^-- Dumped (from database|by pg_dump) version /.test(l)).join('\n');
}

/** The largest object under `dir` whose name matches `re` (recursively). */
function largest(dir: string, re: RegExp): string {
  let best: { path: string; size: number } | undefined;
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (re.test(e.name) && (!best || statSync(p).size > best.size)) best = { path: p, size: statSync(p).size };
    }
  };
  walk(dir);
  assert.ok(best, `an object matching ${re} under ${dir}`);
  return best.path;
}

/** Flips one bit of the byte in the middle of `path`. */
function flipMiddleByte(path: string): void {
  const bytes = readFileSync(path);
  bytes[Math.floor(bytes.length / 2)]! ^= 0x10;
  writeFileSync(path, bytes);
}

/** An error worth its name: non-zero, not "not found" (74), one ERROR line naming corruption or decryption. */
function assertCorruptionError(r: { code: number; stderr: string }, what: string): void {
  assert.notEqual(r.code, 0, `${what} must fail on an altered object:\n${r.stderr}`);
  assert.notEqual(r.code, 74, `${what}: an altered object is not a missing one:\n${r.stderr}`);
  const errors = r.stderr.split('\n').filter((l) => l.startsWith('ERROR:'));
  assert.equal(errors.length, 1, `${what}: one ERROR line:\n${r.stderr}`);
  assert.match(errors[0]!, /corrupt|decrypt|authenticat|checksum|invalid/i, `${what}: the error says what is wrong`);
}

const pgSkip = PG_MAJOR === manifest.pg.major ? false
  : `the PostgreSQL fixture is a ${manifest.pg.major} cluster; the test servers are PostgreSQL ${PG_MAJOR ?? '(unknown)'}`;

/** A copy of the PostgreSQL storage and a settings file for our tool, in a directory owned by the cluster user. */
function pgWork(): { base: string; store: string; cfg: string } {
  const base = userTempDir('walg-fixture-pg-');
  const store = join(base, 'store');
  copyStorage('pg', store);
  const cfg = writeConfig(base, { WALG_FILE_PREFIX: store, ...manifest.pg.settings });
  return { base, store, cfg };
}

describe('a PostgreSQL storage written by WAL-G v3.0.9', { skip: pgSkip, timeout: 300_000 }, () => {
  test('our backup-fetch LATEST (the delta) and wal-fetch recovery give the recorded pg_dumpall', async () => {
    const { base, cfg } = pgWork();
    try {
      const [full, delta] = manifest.pg.backups;
      const list = JSON.parse((await ok(OURS, cfg, ['backup-list', '--json'])).out) as Array<{ backup_name: string }>;
      assert.deepEqual(list.map((b) => b.backup_name), [full, delta], 'backup-list: the full backup, then its delta');

      const data = join(base, 'data');
      const r = await ok(OURS, cfg, ['backup-fetch', data, 'LATEST']);
      assert.match(r.stderr, new RegExp(`LATEST backup is: '${delta}'`));
      assert.match(r.stderr, /Backup extraction complete/);
      const restored = await clusterFromDir(base, data);
      // The restored postgresql.conf still names the reference's wal-push: archiving stays off.
      restored.configure({ archive_mode: 'off', restore_command: `${OURS.bin} wal-fetch %f %p --config ${cfg}` });
      writeUserFile(join(data, 'recovery.signal'), '');
      await restored.start();
      try {
        // No recovery target: replay every archived segment, then promote when wal-fetch finds no next one.
        await until('recovery through our wal-fetch', 120_000, async () => (await restored.psql('select pg_is_in_recovery()')) === 'f');
        assert.equal(await restored.psql("select body from notes where k = 'final'"), 'written after the delta',
          'the writes archived after the delta were replayed');
        const expected = normaliseDump(readFileSync(join(FIXTURE, 'expected.sql'), 'utf8'));
        const dump = normaliseDump(await restored.dumpAll());
        assert.ok(dump === expected, `pg_dumpall equals test/fixtures/walg-3.0.9/expected.sql; first differences:\n${firstDifferences(expected, dump)}`);
        await amcheck(restored);
      } finally {
        await restored.stop('immediate');
      }
    } finally {
      rmSync(base, { recursive: true, force: true });
    }
  });

  test('one byte altered in the full backup\'s tar part or in a WAL segment: an error, not a restore', async () => {
    const { base, store, cfg } = pgWork();
    try {
      const [full] = manifest.pg.backups;
      const part = largest(join(store, 'basebackups_005', full!, 'tar_partitions'), /^part_\d+\.tar\.lz4$/);
      flipMiddleByte(part);
      const data = join(base, 'data');
      const r = await run(OURS, cfg, ['backup-fetch', data, 'LATEST']);
      assertCorruptionError(r, `backup-fetch LATEST with ${part.slice(store.length + 1)} altered`);
      assert.doesNotMatch(r.stderr, /Backup extraction complete/);

      const segment = largest(join(store, 'wal_005'), /^[0-9A-F]{24}\.lz4$/);
      flipMiddleByte(segment);
      const name = segment.slice(segment.lastIndexOf('/') + 1, -'.lz4'.length);
      const dest = join(base, 'fetched');
      const w = await run(OURS, cfg, ['wal-fetch', name, dest]);
      assertCorruptionError(w, `wal-fetch ${name} with its object altered`);
      assert.ok(!existsSync(dest), 'no segment is left at the destination');
    } finally {
      rmSync(base, { recursive: true, force: true });
    }
  });
});

/** major.minor of the installed mariadbd, e.g. "10.11". */
function mariadbSeries(): string | undefined {
  if (!existsSync(MARIADBD)) return undefined;
  return /Ver (\d+\.\d+)\./.exec(execFileSync(MARIADBD, ['--version']).toString())?.[1];
}
const fixtureSeries = /^(\d+\.\d+)\./.exec(manifest.mysql.serverVersion)?.[1];
const installedSeries = mariadbSeries();
const mysqlSkip = installedSeries === fixtureSeries ? false
  : `the MariaDB fixture is from ${fixtureSeries}; the installed mariadbd is ${installedSeries ?? 'missing'}`;

/** Every row of the fixture's tables, as the recorder wrote mysql-expected.tsv. */
async function tableRows(db: MariaDb): Promise<string> {
  const parts: string[] = [];
  for (const t of manifest.mysql.tables) parts.push(`# ${t}\n${await db.sql(`SELECT * FROM ${t} ORDER BY id`)}\n`);
  return parts.join('');
}

describe('a MariaDB storage written by WAL-G v3.0.9', { skip: mysqlSkip, timeout: 300_000 }, () => {
  test('our backup-fetch LATEST and binlog-replay give the recorded rows', async () => {
    const work = userTempDir('walg-fixture-mysql-');
    const db = new MariaDb(userTempDir('walg-fixture-mariadb-'), await freePort());
    try {
      const store = join(work, 'store');
      copyStorage('mysql', store);
      const home = join(work, 'home');
      mkdirSync(home);
      mkdirSync(db.dataDir);
      const env = baseEnv({ HOME: home, WALG_FILE_PREFIX: store, ...manifest.mysql.settings });
      const r = await walgOk(['backup-fetch', 'LATEST'], {
        ...env,
        WALG_STREAM_RESTORE_COMMAND: `mbstream -x -C ${db.dataDir}`,
        WALG_MYSQL_BACKUP_PREPARE_COMMAND: `mariabackup --prepare --target-dir=${db.dataDir}`,
      });
      assert.match(r.stderr, new RegExp(`LATEST backup is: '${manifest.mysql.backup}'`));
      await db.start();
      const replayed = await walgOk(['binlog-replay', '--since', 'LATEST'], {
        ...env, WALG_MYSQL_BINLOG_DST: join(work, 'binlogs'), WALG_MYSQL_BINLOG_REPLAY_COMMAND: binlogReplayScript(db, join(work, 'replay.sh'), { stopAtEndTs: false }),
      });
      // The binlogs archived after the backup, in order (the one before it is outside the window).
      const names = [...replayed.stderr.matchAll(/replaying (mysql-bin\.\d+)/g)].map((m) => m[1]);
      assert.deepEqual(names, manifest.mysql.binlogs.slice(1).map((b) => b.replace(/\.br$/, '')), `binlogs replayed:\n${replayed.stderr}`);
      const expected = readFileSync(join(FIXTURE, 'mysql-expected.tsv'), 'utf8');
      const rows = await tableRows(db);
      assert.ok(rows === expected, `rows equal test/fixtures/walg-3.0.9/mysql-expected.tsv; first differences:\n${firstDifferences(expected, rows)}`);
    } finally {
      await db.destroy();
      rmSync(work, { recursive: true, force: true });
    }
  });
});
