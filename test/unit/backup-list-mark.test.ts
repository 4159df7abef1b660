// backup-list (plain, --json, --detail, --pretty, empty) and backup-mark (ancestors, -i refusals, metadata.json only)
// on the shared multi-backup fixture: exact renderings from fixed data. bin/wal-g on a FILE storage is tested in
// test/integration/backup-list-mark-cli.test.ts.
import { test, describe, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryStorage } from '../../src/storage/drivers/memory.ts';
import type { Storage } from '../../src/storage/types.ts';
import { readAll } from '../../src/storage/body.ts';
import { log } from '../../src/core/log.ts';
import { renderBackupList } from '../../src/commands/render/backup-list.ts';
import type { ListedBackup } from '../../src/commands/render/backup-list.ts';
import { prettyTable } from '../../src/commands/render/table.ts';
import { formatTime, prettyTime } from '../../src/commands/render/time.ts';
import { jsonTime } from '../../src/core/time.ts';
import { stripWalFileName as walFileNameOf } from '../../src/pg/wal-name.ts';
import { markBackup, backupsToMark, MarkRefusedError } from '../../src/commands/pg/backup-mark.ts';
import { loadCatalog, toRetentionBackup } from '../../src/backup/catalog.ts';
import { executeDelete } from '../../src/commands/pg/delete.ts';
import { decodeMetadata, listBackups } from '../../src/backup/sentinel.ts';
import type { ExtendedMetadata } from '../../src/backup/sentinel.ts';
import { metadataKey, sentinelKey } from '../../src/backup/layout.ts';
import { B, BACKUPS, populate, writeBackup } from '../helpers/catalog-fixture.ts';

const dirs: string[] = [];
process.on('exit', () => { for (const d of dirs) rmSync(d, { recursive: true, force: true }); });
function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), 'walg-list-'));
  dirs.push(d);
  return d;
}
before(() => log.configure('ERROR', join(tmp(), 'log.txt')));

const text = async (s: Storage, key: string) => (await readAll(await s.get(key))).toString('utf8');
const meta = async (s: Storage, name: string) => decodeMetadata(await text(s, metadataKey(name)));

const META: ExtendedMetadata = {
  start_time: '2024-05-01T10:00:00.123456Z', finish_time: '2024-05-01T10:01:02.5Z', date_fmt: '%Y-%m-%dT%H:%M:%S.%fZ',
  hostname: 'db1', data_dir: '/var/lib/postgresql/16/main', pg_version: 160002, start_lsn: 0x16b374d848n, finish_lsn: 0x16b374d9a0n,
  is_permanent: true, system_identifier: 7301234567890123456n, uncompressed_size: 52428800, compressed_size: 8123456,
  user_data: { z: 1, a: { y: '<b>', b: [2, 1] } },
};
const LISTED: ListedBackup[] = [
  { ref: { name: 'base_000000010000000000000002', modified: new Date('2024-05-01T10:05:00.250Z') }, storageName: 'default', metadata: META },
  { ref: { name: 'base_000000010000000000000004_D_000000010000000000000002', modified: new Date('2024-05-02T00:00:00Z') }, storageName: 'default',
    metadata: { ...META, start_time: '0001-01-01T00:00:00Z', finish_time: '', hostname: '', is_permanent: false, system_identifier: null, user_data: undefined } },
];

describe('backup-list rendering (WAL-G printlist formats)', () => {
  test('plain: tab-aligned backup_name modified wal_file_name storage_name', () => {
    assert.equal(renderBackupList(LISTED, {}),
      'backup_name                                              modified             wal_file_name            storage_name\n'
      + 'base_000000010000000000000002                            2024-05-01T10:05:00Z 000000010000000000000002 default\n'
      + 'base_000000010000000000000004_D_000000010000000000000002 2024-05-02T00:00:00Z 000000010000000000000004 default\n');
  });

  test('--detail adds start/finish time, host, data dir, version, LSNs as X/Y, permanence; zero times print "-"', () => {
    const lines = renderBackupList(LISTED, { detail: true }).split('\n');
    assert.match(lines[0]!, /^backup_name +modified +wal_file_name +storage_name start_time +finish_time +hostname data_dir +pg_version start_lsn +finish_lsn +is_permanent$/);
    assert.match(lines[1]!, /2024-05-01T10:00:00Z 2024-05-01T10:01:02Z db1 +\/var\/lib\/postgresql\/16\/main 160002 +16\/B374D848 16\/B374D9A0 true$/);
    assert.match(lines[2]!, /default +- +- +\/var\/lib\/postgresql\/16\/main 160002 +16\/B374D848 16\/B374D9A0 false$/);
  });

  test('--json: Go encoding/json, one line; --json --pretty: 4-space indent; detail fields and sorted user_data keys', () => {
    assert.equal(renderBackupList(LISTED.slice(0, 1), { json: true }),
      '[{"backup_name":"base_000000010000000000000002","time":"2024-05-01T10:05:00.25Z","wal_file_name":"000000010000000000000002","storage_name":"default"}]\n');
    assert.equal(renderBackupList(LISTED, { json: true, detail: true, pretty: true }), `[
    {
        "backup_name": "base_000000010000000000000002",
        "time": "2024-05-01T10:05:00.25Z",
        "wal_file_name": "000000010000000000000002",
        "storage_name": "default",
        "start_time": "2024-05-01T10:00:00.123456Z",
        "finish_time": "2024-05-01T10:01:02.5Z",
        "date_fmt": "%Y-%m-%dT%H:%M:%S.%fZ",
        "hostname": "db1",
        "data_dir": "/var/lib/postgresql/16/main",
        "pg_version": 160002,
        "start_lsn": 97500059720,
        "finish_lsn": 97500060064,
        "is_permanent": true,
        "system_identifier": 7301234567890123456,
        "uncompressed_size": 52428800,
        "compressed_size": 8123456,
        "user_data": {
            "a": {
                "b": [
                    2,
                    1
                ],
                "y": "\\u003cb\\u003e"
            },
            "z": 1
        }
    },
    {
        "backup_name": "base_000000010000000000000004_D_000000010000000000000002",
        "time": "2024-05-02T00:00:00Z",
        "wal_file_name": "000000010000000000000004",
        "storage_name": "default",
        "start_time": "0001-01-01T00:00:00Z",
        "finish_time": "0001-01-01T00:00:00Z",
        "date_fmt": "%Y-%m-%dT%H:%M:%S.%fZ",
        "hostname": "",
        "data_dir": "/var/lib/postgresql/16/main",
        "pg_version": 160002,
        "start_lsn": 97500059720,
        "finish_lsn": 97500060064,
        "is_permanent": false,
        "system_identifier": null,
        "uncompressed_size": 52428800,
        "compressed_size": 8123456
    }
]
`);
    assert.equal(renderBackupList([], { json: true }), '[]\n');
    assert.equal(renderBackupList([], { json: true, pretty: true }), '[]\n');
  });

  test('--pretty: go-pretty box table, rows numbered from 0, RFC850 times', () => {
    assert.equal(renderBackupList(LISTED.slice(0, 1), { pretty: true }),
      '+---+-------------------------------+-----------------------------------+--------------------------+--------------+\n'
      + '| # | BACKUP NAME                   | MODIFIED                          | WAL FILE NAME            | STORAGE NAME |\n'
      + '+---+-------------------------------+-----------------------------------+--------------------------+--------------+\n'
      + '| 0 | base_000000010000000000000002 | Wednesday, 01-May-24 10:05:00 UTC | 000000010000000000000002 | default      |\n'
      + '+---+-------------------------------+-----------------------------------+--------------------------+--------------+\n');
    // The numeric "#" column is right-aligned, header included.
    assert.equal(prettyTable(['#', 'x'], Array.from({ length: 11 }, (_, i) => [i, 'v'])).split('\n')[1], '|  # | X |');
    assert.equal(renderBackupList([], { pretty: true }), '');
    assert.equal(renderBackupList([], {}), '');
  });

  test('time helpers keep the stored zone; WAL file name falls back to Zs', () => {
    assert.equal(formatTime('2024-05-01T12:00:00.5+02:00'), '2024-05-01T12:00:00+02:00');
    assert.equal(prettyTime('2024-05-01T12:00:00+02:00'), 'Wednesday, 01-May-24 12:00:00 +0200');
    assert.equal(jsonTime('2024-05-01T12:00:00.500Z'), '2024-05-01T12:00:00.5Z');
    assert.equal(jsonTime('2024-05-01T12:00:00.000Z'), '2024-05-01T12:00:00Z');
    assert.equal(formatTime(''), '-');
    assert.equal(walFileNameOf('stream_20240501T120000Z'), 'Z'.repeat(24));
  });
});

describe('backup-mark', () => {
  async function fixture(): Promise<MemoryStorage> {
    const s = new MemoryStorage();
    await populate(s);
    return s;
  }

  test('marks the backup and its delta ancestors (base first); only metadata.json changes, nothing else in it', async () => {
    const s = await fixture();
    const sentinelsBefore = await Promise.all(BACKUPS.map((b) => text(s, sentinelKey(b.name))));
    const before = await text(s, metadataKey(B.D2a));
    assert.deepEqual(await markBackup(s, B.D2b, true), [B.F2, B.D2a, B.D2b]);
    for (const n of [B.F2, B.D2a, B.D2b]) assert.equal((await meta(s, n)).is_permanent, true, n);
    for (const n of [B.F1, B.F3, B.D3a]) assert.equal((await meta(s, n)).is_permanent, false, n);
    assert.equal(await text(s, metadataKey(B.D2a)), before.replace('"is_permanent":false', '"is_permanent":true'));
    assert.deepEqual(await Promise.all(BACKUPS.map((b) => text(s, sentinelKey(b.name)))), sentinelsBefore, 'sentinels untouched');
    // Marking again changes nothing (WAL-G warns "already marked").
    assert.deepEqual(await markBackup(s, B.D2b, true), []);
  });

  test('marked backups then survive delete, with the WAL they need', async () => {
    const s = await fixture();
    await markBackup(s, B.D1a, true);
    await executeDelete(s, 'retain', ['FIND_FULL', '1'], { confirm: true });
    assert.deepEqual((await listBackups(s)).map((b) => b.name), [B.P, B.F1, B.D1a, B.F3, B.D3a, B.D3b]);
    for (const seg of ['05', '06', '07', '08']) assert.ok(await s.exists(`wal_005/0000000100000000000000${seg}.lz4`), seg);
    assert.ok(!(await s.exists('wal_005/000000010000000000000009.lz4')));
  });

  test('-i refuses while a permanent delta depends on the backup, at any depth; works from the newest down', async () => {
    const s = await fixture();
    await markBackup(s, B.D2b, true);
    for (const n of [B.F2, B.D2a]) {
      await assert.rejects(markBackup(s, n, false), (err: unknown) => err instanceof MarkRefusedError
        && err.message === `Failed to get previous backups: Can't mark backup '${n}' as impermanent. There is permanent increment backup that depends on this backup.`);
    }
    assert.deepEqual(await markBackup(s, B.D2b, false), [B.D2b]);
    assert.deepEqual(await markBackup(s, B.D2a, false), [B.D2a]);
    assert.deepEqual(await markBackup(s, B.F2, false), [B.F2]);
    const catalog = (await loadCatalog(s)).map(toRetentionBackup);
    assert.ok(catalog.filter((b) => b.permanent).every((b) => b.name === B.P));
  });

  test('a backup without metadata.json gets one built from its sentinel; a missing backup is an error', async () => {
    const s = new MemoryStorage();
    await writeBackup(s, { ...BACKUPS[1]!, noMetadata: true }, 1);
    assert.deepEqual(await markBackup(s, B.F1, true), [B.F1]);
    const m = await meta(s, B.F1);
    assert.equal(m.is_permanent, true);
    assert.equal(m.start_lsn, 0x5000028n);
    assert.equal(m.system_identifier, 7301234567890123456n);
    await assert.rejects(markBackup(s, B.F2, true), /Failed to get previous backups: object 'basebackups_005\/base_00000001000000000000000B\/metadata\.json' not found in storage/);
    assert.throws(() => backupsToMark([], 'x', true), /not found in storage/);
  });
});
