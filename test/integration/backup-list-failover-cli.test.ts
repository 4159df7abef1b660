// backup-list and delete through dist/wal-g with a failover storage (issue 22 item 1): the primary holds backups A
// and B, the failover 'good_failover' holds B and C. WAL-G v3.0.9 lists one row per (backup, storage holding it);
// every expected text below is what the reference printed for this very storage (same sentinels, same mtimes).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { walg } from '../helpers/cli.ts';
import { A, B, C, failoverListFixture as setup } from '../helpers/failover-list-fixture.ts';

const PLAIN = `backup_name                   modified             wal_file_name            storage_name
${A} 2024-01-01T00:10:00Z 000000010000000000000002 default
${B} 2024-01-01T01:10:00Z 000000010000000000000004 default
${B} 2024-01-01T01:20:00Z 000000010000000000000004 good_failover
${C} 2024-01-01T02:10:00Z 000000010000000000000006 good_failover
`;

// compat: --detail walks the listing backwards before a sort by start time that keeps equal ones in place, so the
// failover's row of B (listed last) comes first.
const DETAIL = `backup_name                   modified             wal_file_name            storage_name  start_time           finish_time          hostname data_dir pg_version start_lsn finish_lsn is_permanent
${A} 2024-01-01T00:10:00Z 000000010000000000000002 default       2024-01-01T00:00:00Z 2024-01-01T00:00:00Z h        /d       150000     0/64      0/C8       false
${B} 2024-01-01T01:20:00Z 000000010000000000000004 good_failover 2024-01-01T01:00:00Z 2024-01-01T01:00:00Z h        /d       150000     0/64      0/C8       false
${B} 2024-01-01T01:10:00Z 000000010000000000000004 default       2024-01-01T01:00:00Z 2024-01-01T01:00:00Z h        /d       150000     0/64      0/C8       false
${C} 2024-01-01T02:10:00Z 000000010000000000000006 good_failover 2024-01-01T02:00:00Z 2024-01-01T02:00:00Z h        /d       150000     0/64      0/C8       false
`;

const row = (name: string, modified: string, storage: string) =>
  `{"backup_name":"${name}","time":"${modified}","wal_file_name":"${name.slice(5)}","storage_name":"${storage}"}`;
const JSON_PLAIN = `[${[row(A, '2024-01-01T00:10:00Z', 'default'), row(B, '2024-01-01T01:10:00Z', 'default'),
  row(B, '2024-01-01T01:20:00Z', 'good_failover'), row(C, '2024-01-01T02:10:00Z', 'good_failover')].join(',')}]\n`;

const detailRow = (name: string, modified: string, storage: string, start: string) => `${row(name, modified, storage).slice(0, -1)},`
  + `"start_time":"${start}","finish_time":"${start}","date_fmt":"x","hostname":"h","data_dir":"/d","pg_version":150000,"start_lsn":100,`
  + '"finish_lsn":200,"is_permanent":false,"system_identifier":null,"uncompressed_size":1,"compressed_size":1}';
const JSON_DETAIL = `[${[detailRow(A, '2024-01-01T00:10:00Z', 'default', '2024-01-01T00:00:00Z'),
  detailRow(B, '2024-01-01T01:20:00Z', 'good_failover', '2024-01-01T01:00:00Z'),
  detailRow(B, '2024-01-01T01:10:00Z', 'default', '2024-01-01T01:00:00Z'),
  detailRow(C, '2024-01-01T02:10:00Z', 'good_failover', '2024-01-01T02:00:00Z')].join(',')}]\n`;

const PRETTY = `+---+-------------------------------+--------------------------------+--------------------------+---------------+
| # | BACKUP NAME                   | MODIFIED                       | WAL FILE NAME            | STORAGE NAME  |
+---+-------------------------------+--------------------------------+--------------------------+---------------+
| 0 | ${A} | Monday, 01-Jan-24 00:10:00 UTC | 000000010000000000000002 | default       |
| 1 | ${B} | Monday, 01-Jan-24 01:10:00 UTC | 000000010000000000000004 | default       |
| 2 | ${B} | Monday, 01-Jan-24 01:20:00 UTC | 000000010000000000000004 | good_failover |
| 3 | ${C} | Monday, 01-Jan-24 02:10:00 UTC | 000000010000000000000006 | good_failover |
+---+-------------------------------+--------------------------------+--------------------------+---------------+
`;

test('backup-list with a failover storage: one row per (backup, storage), in WAL-G\'s order, plain/--json/--detail/--pretty', async () => {
  const { cfg, env } = setup();
  const list = async (...flags: string[]) => {
    const r = await walg(['backup-list', ...flags, '--config', cfg], env);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /INFO: .* List backups from storages: \[default good_failover\]$/m);
    return r.stdout.toString();
  };
  assert.equal(await list(), PLAIN);
  assert.equal(await list('--json'), JSON_PLAIN);
  assert.equal(await list('--detail'), DETAIL);
  assert.equal(await list('--detail', '--json'), JSON_DETAIL);
  assert.equal(await list('--pretty'), PRETTY);
  const only = await walg(['backup-list', '--target-storage', 'good_failover', '--config', cfg], env);
  assert.equal(only.code, 0, only.stderr);
  assert.equal(only.stdout.toString(), `${PLAIN.split('\n')[0]}\n${PLAIN.split('\n').slice(3).join('\n')}`);
  // compat: naming 'default' lists the primary alone, as WAL-G's UseSpecificStorage does.
  const primary = await walg(['backup-list', '--target-storage', 'default', '--config', cfg], env);
  assert.equal(primary.code, 0, primary.stderr);
  assert.match(primary.stderr, /List backups from storages: \[default\]$/m);
  assert.equal(primary.stdout.toString(), `${PLAIN.split('\n').slice(0, 3).join('\n')}\n`);
});

test('delete retain FULL 1 with a failover storage: each object marked, counted and deleted once per storage holding it', async () => {
  const { cfg, env } = setup();
  const marked = [
    `basebackups_005/${A}_backup_stop_sentinel.json storage=default`,
    `basebackups_005/${B}_backup_stop_sentinel.json storage=default`,
    `basebackups_005/${B}_backup_stop_sentinel.json storage=good_failover`,
    `basebackups_005/${A}/metadata.json storage=default`,
    `basebackups_005/${B}/metadata.json storage=default`,
    `basebackups_005/${B}/metadata.json storage=good_failover`,
  ];
  const lines = (stderr: string) => stderr.split('\n').filter((l) => l.startsWith('INFO: ')).map((l) => l.slice(33));
  const dry = await walg(['delete', 'retain', 'FULL', '1', '--config', cfg], env);
  assert.equal(dry.code, 0, dry.stderr);
  assert.deepEqual(lines(dry.stderr), [
    'Backup to delete will be searched in storages: [default good_failover]', 'retrieving permanent objects', 'Start delete',
    'Evaluating objects for deletion...', ...marked.map((m) => `Object marked for deletion: ${m}`),
    'Dry run: objects would be deleted count=6, Run with --confirm to execute',
  ]);
  const done = await walg(['delete', 'retain', 'FULL', '1', '--confirm', '--config', cfg], env);
  assert.equal(done.code, 0, done.stderr);
  assert.match(done.stderr, /INFO: .* Objects deleted successfully: count=6$/m);
  const after = await walg(['backup-list', '--config', cfg], env);
  assert.equal(after.stdout.toString(), `${PLAIN.split('\n')[0]}\n${PLAIN.split('\n')[4]}\n`);
});
