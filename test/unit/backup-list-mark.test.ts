// backup-list (plain, --json, --detail, --pretty, empty) and backup-mark (ancestors, -i refusals, metadata.json only)
// on the shared multi-backup fixture: exact renderings from fixed data, then bin/wal-g on a FILE storage.
import { test, describe, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryStorage } from '../../src/storage/drivers/memory.ts';
import { FileStorage } from '../../src/storage/drivers/fs.ts';
import type { Storage } from '../../src/storage/types.ts';
import { readAll } from '../../src/storage/body.ts';
import { log } from '../../src/core/log.ts';
import { renderBackupList, prettyTable, formatTime, prettyTime, jsonTime, walFileNameOf } from '../../src/commands/pg/backup-list.ts';
import type { ListedBackup } from '../../src/commands/pg/backup-list.ts';
import { markBackup, backupsToMark, MarkRefusedError } from '../../src/commands/pg/backup-mark.ts';
import { loadCatalog, toRetentionBackup } from '../../src/backup/catalog.ts';
import { executeDelete } from '../../src/commands/pg/delete.ts';
import { decodeMetadata, listBackups } from '../../src/backup/sentinel.ts';
import type { ExtendedMetadata } from '../../src/backup/sentinel.ts';
import { metadataKey, sentinelKey } from '../../src/backup/layout.ts';
import { B, BACKUPS, populate, writeBackup } from '../helpers/catalog-fixture.ts';
import { walg, baseEnv, LOG_LINE } from '../helpers/cli.ts';

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

describe('backup-list through bin/wal-g', () => {
  test('empty storage: "No backups found" logged, exit 0; with --json only "[]" and nothing logged about it', async () => {
    const env = baseEnv({ WALG_FILE_PREFIX: join(tmp(), 'empty') });
    const plain = await walg(['backup-list'], env);
    assert.equal(plain.code, 0, plain.stderr);
    assert.equal(plain.stdout.toString(), '');
    assert.match(plain.stderr, /^INFO: .* No backups found$/m);
    for (const l of plain.stderr.trim().split('\n')) assert.match(l, LOG_LINE);
    const json = await walg(['backup-list', '--json', '--detail'], env);
    assert.equal(json.code, 0, json.stderr);
    assert.equal(json.stdout.toString(), '[]\n');
    assert.doesNotMatch(json.stderr, /No backups found/);
  });

  test('plain lists by sentinel time; --detail orders by start time; missing metadata.json falls back to the sentinel', async () => {
    const root = join(tmp(), 'store');
    const fs = new FileStorage(root);
    // F2 is uploaded after F1 but its backup started earlier (start times come from the index argument).
    await writeBackup(fs, BACKUPS[1]!, 5);
    await new Promise((r) => setTimeout(r, 20));
    await writeBackup(fs, BACKUPS[4]!, 1);
    await new Promise((r) => setTimeout(r, 20));
    await writeBackup(fs, { ...BACKUPS[7]!, noMetadata: true }, 7);
    const env = baseEnv({ WALG_FILE_PREFIX: root });
    const plain = await walg(['backup-list'], env);
    assert.equal(plain.code, 0, plain.stderr);
    assert.match(plain.stderr, /List backups from storages: \[default\]/);
    const col = (out: Buffer) => out.toString().trim().split('\n').slice(1).map((l) => l.split(' ')[0]);
    assert.deepEqual(col(plain.stdout), [B.F1, B.F2, B.F3]);
    const detail = await walg(['backup-list', '--detail'], env);
    assert.equal(detail.code, 0, detail.stderr);
    assert.deepEqual(col(detail.stdout), [B.F2, B.F1, B.F3]);
    assert.match(detail.stderr, new RegExp(`WARNING: .* Backup ${B.F3} has no metadata.json`));
    const json = JSON.parse((await walg(['backup-list', '--json', '--detail'], env)).stdout.toString()) as Array<Record<string, unknown>>;
    assert.deepEqual(json.map((o) => o.backup_name), [B.F2, B.F1, B.F3]);
    assert.equal(json[0]!.user_data && (json[0]!.user_data as { y: number }).y, 4);
    const pretty = await walg(['backup-list', '--pretty'], env);
    assert.match(pretty.stdout.toString(), /^\| # \| BACKUP NAME +\| MODIFIED +\| WAL FILE NAME +\| STORAGE NAME \|$/m);
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
        && err.message === `Can't mark backup '${n}' as impermanent. There is permanent increment backup that depends on this backup.`);
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
    await assert.rejects(markBackup(s, B.F2, true), /Failed to get previous backups: Backup 'base_00000001000000000000000B' does not exist\./);
    assert.throws(() => backupsToMark([], 'x', true), /does not exist/);
  });

  test('CLI: backup-mark with ancestors, -i refused with exit 1, already-permanent warning', async () => {
    const root = join(tmp(), 'mark');
    const fs = new FileStorage(root);
    await populate(fs);
    const env = baseEnv({ WALG_FILE_PREFIX: root });
    const ok = await walg(['backup-mark', B.D3b], env);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stderr, new RegExp(`Retrieved backups to be marked, marking: \\[${B.F3} ${B.D3a} ${B.D3b}\\]`));
    const json = JSON.parse((await walg(['backup-list', '--detail', '--json'], env)).stdout.toString()) as Array<{ backup_name: string; is_permanent: boolean }>;
    assert.deepEqual(json.filter((o) => o.is_permanent).map((o) => o.backup_name), [B.P, B.F3, B.D3a, B.D3b]);
    const refused = await walg(['backup-mark', '-i', B.F3], env);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, new RegExp(`^ERROR: .* Can't mark backup '${B.F3}' as impermanent\\. There is permanent increment backup that depends on this backup\\.$`, 'm'));
    const again = await walg(['backup-mark', B.P], env);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stderr, new RegExp(`^WARNING: .* Backup ${B.P} is already marked as permanent, ignoring\\.\\.\\.$`, 'm'));
    const un = await walg(['backup-mark', '--impermanent', B.D3b], env);
    assert.equal(un.code, 0, un.stderr);
    assert.equal((await meta(fs, B.D3b)).is_permanent, false);
  });
});
