// The PostgreSQL side of backup-push without a server: the start/stop SQL per version (9.6 … 17), uint64 system
// identifiers, PG* connection settings; the rate limiter. The CLI's refusals are in test/integration/postgres-client-cli.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startBackupQuery, stopBackupQuery, uint64FromInt8Text, connectSettings, formatVersion, UnsupportedPostgresError } from '../../src/pg/postgres-client.ts';
import { RateLimiter, limiterFor } from '../../src/core/rate-limit.ts';

test('start/stop statements per version (compat: query_runner.go)', () => {
  for (const v of [150000, 160002, 170001]) {
    assert.match(startBackupQuery(v), /pg_catalog\.pg_backup_start\(\$1, true\) lsn$/);
    assert.match(startBackupQuery(v), /pg_walfile_name_offset\(lsn\)\)\.file_name/);
    assert.equal(stopBackupQuery(v), 'SELECT labelfile, spcmapfile, lsn::text FROM pg_catalog.pg_backup_stop()');
  }
  for (const v of [100000, 120015, 140010]) {
    assert.match(startBackupQuery(v), /pg_catalog\.pg_start_backup\(\$1, true, false\) lsn$/);
    assert.match(startBackupQuery(v), /pg_walfile_name_offset/);
    assert.equal(stopBackupQuery(v), 'SELECT labelfile, spcmapfile, lsn::text FROM pg_catalog.pg_stop_backup(false, true)');
  }
  assert.match(startBackupQuery(90624), /pg_xlogfile_name_offset\(lsn\).*pg_start_backup\(\$1, true, false\)/);
  assert.equal(stopBackupQuery(90624), 'SELECT labelfile, spcmapfile, lsn::text FROM pg_catalog.pg_stop_backup(false)');
  // Without the server's wait for archiving (backup-push waits itself, archive-wait.ts); 9.6 always waits.
  assert.equal(stopBackupQuery(150004, false), 'SELECT labelfile, spcmapfile, lsn::text, pg_catalog.pg_walfile_name(lsn) AS walfile FROM pg_catalog.pg_backup_stop(false)');
  assert.equal(stopBackupQuery(140010, false), 'SELECT labelfile, spcmapfile, lsn::text, pg_catalog.pg_walfile_name(lsn) AS walfile FROM pg_catalog.pg_stop_backup(false, false)');
  assert.equal(stopBackupQuery(90624, false), 'SELECT labelfile, spcmapfile, lsn::text FROM pg_catalog.pg_stop_backup(false)');
  for (const v of [90500, 90000, 80400]) {
    assert.throws(() => startBackupQuery(v), UnsupportedPostgresError);
    assert.throws(() => stopBackupQuery(v), /needs 9\.6 or later/);
  }
  for (const v of [90624, 150004]) assert.match(startBackupQuery(v), /case when pg_catalog\.pg_is_in_recovery\(\) then '' else/, 'no WAL file name on a standby');
  assert.equal(formatVersion(150004), '15.4');
  assert.equal(formatVersion(90624), '9.6.24');
});

test('system identifier: int8 text to exact uint64 (negative values wrap, as WAL-G)', () => {
  assert.equal(uint64FromInt8Text('7301234567890123456'), 7301234567890123456n);
  assert.equal(uint64FromInt8Text('-1'), 18446744073709551615n);
  assert.equal(uint64FromInt8Text('-8446744073709551616'), 10000000000000000000n);
});

test('connection settings from PG* variables', () => {
  const s = connectSettings({ PGHOST: '/run/pg,other', PGPORT: '5433', PGUSER: 'u', PGDATABASE: 'd', PGPASSWORD: 'p' });
  assert.deepEqual({ ...s, ssl: undefined }, { host: '/run/pg', port: 5433, user: 'u', database: 'd', password: 'p', applicationName: 'wal-g', ssl: undefined });
  assert.equal(connectSettings({ PGHOST: 'db', PGAPPNAME: 'x' }).applicationName, 'x');
  assert.deepEqual(connectSettings({ PGHOST: 'db', PGSSLMODE: 'require' }).ssl, { rejectUnauthorized: false, ca: undefined, cert: undefined, key: undefined });
  assert.equal((connectSettings({ PGHOST: 'db', PGSSLMODE: 'verify-full' }).ssl as { rejectUnauthorized: boolean }).rejectUnauthorized, true);
  assert.equal(connectSettings({ PGHOST: 'db', PGSSLMODE: 'disable' }).ssl, undefined);
  assert.equal(connectSettings({ PGHOST: 'db' }).port, 5432);
});

test('rate limiter: a shared token bucket holds the aggregate rate; --turbo or no setting means none', async () => {
  assert.equal(limiterFor(undefined, false), undefined);
  assert.equal(limiterFor(1000, true), undefined);
  assert.equal(limiterFor(0, false), undefined);
  const l = new RateLimiter(1_000_000); // 1 MB/s with a 1 MB burst
  const t0 = performance.now();
  await Promise.all([l.take(500_000), l.take(500_000), l.take(300_000), l.take(300_000)]);
  const s = (performance.now() - t0) / 1000;
  assert.ok(s >= 0.5 && s < 1.5, `1.6 MB at 1 MB/s after a 1 MB burst took ${s.toFixed(2)} s`);
});
