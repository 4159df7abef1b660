// Sentinel and metadata.json: WAL-G's field order and omitempty rules, exact uint64, tolerant reading.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encodeSentinel, decodeSentinel, encodeMetadata, decodeMetadata, listBackups, resolveBackup } from '../../src/backup/sentinel.ts';
import type { BackupSentinel } from '../../src/backup/sentinel.ts';
import { parseJsonExact, stringifyGo, rfc3339Nano } from '../../src/backup/json.ts';
import { parseLsn, formatLsn } from '../../src/pg/lsn.ts';
import { MemoryStorage } from '../../src/storage/drivers/memory.ts';

const full: BackupSentinel = {
  LSN: 167772200n, DeltaLSN: 83886120n, DeltaFrom: 'base_000000010000000000000005', DeltaFullName: 'base_000000010000000000000005',
  DeltaCount: 1, PgVersion: 160002, FinishLSN: 167772472n, SystemIdentifier: 7301234567890123456n, UncompressedSize: 52428800,
  CompressedSize: 8123456, DataCatalogSize: 60000000, ChkpNum: null, Version: 2, StartTime: '2024-05-01T10:00:00.123456Z',
  FinishTime: '2024-05-01T10:01:02.5Z', DateFmt: '%Y-%m-%dT%H:%M:%S.%fZ', Hostname: 'db1', DataDir: '/var/lib/postgresql/16/main', IsPermanent: false,
};

test('sentinel encodes exactly as the walg-format.md example', () => {
  const expected = '{"LSN":167772200,"DeltaLSN":83886120,"DeltaFrom":"base_000000010000000000000005","DeltaFullName":"base_000000010000000000000005","DeltaCount":1,"PgVersion":160002,"FinishLSN":167772472,"SystemIdentifier":7301234567890123456,"UncompressedSize":52428800,"CompressedSize":8123456,"DataCatalogSize":60000000,"ChkpNum":null,"Version":2,"StartTime":"2024-05-01T10:00:00.123456Z","FinishTime":"2024-05-01T10:01:02.5Z","DateFmt":"%Y-%m-%dT%H:%M:%S.%fZ","Hostname":"db1","DataDir":"/var/lib/postgresql/16/main","IsPermanent":false}';
  assert.equal(encodeSentinel(full), expected);
  const back = decodeSentinel(expected);
  assert.equal(back.SystemIdentifier, 7301234567890123456n, 'system identifier beyond 2^53 kept exact');
  assert.deepEqual(JSON.parse(JSON.stringify(back, (_k, v) => typeof v === 'bigint' ? v.toString() : v)), JSON.parse(JSON.stringify(full, (_k, v) => typeof v === 'bigint' ? v.toString() : v)));
});

test('sentinel of a full backup omits delta fields; reading accepts lowercase keys and WAL-E spec', () => {
  const s = encodeSentinel({ ...full, DeltaLSN: undefined, DeltaFrom: undefined, DeltaFullName: undefined, DeltaCount: undefined, Spec: undefined });
  assert.doesNotMatch(s, /Delta/);
  const old = decodeSentinel('{"lsn":1,"finishlsn":2,"pgversion":150000,"DeltaFromLSN":5,"spec":{"definedTablespaces":["16384"]}}');
  assert.equal(old.LSN, 1n);
  assert.equal(old.DeltaLSN, 5n);
  assert.deepEqual(old.Spec, { definedTablespaces: ['16384'] });
});

test('metadata.json round trip keeps system_identifier exact and null when absent', () => {
  const m = { start_time: 'a', finish_time: 'b', date_fmt: '%Y', hostname: 'h', data_dir: '/d', pg_version: 150004,
    start_lsn: 1n, finish_lsn: 2n, is_permanent: true, system_identifier: 18446744073709551615n, uncompressed_size: 3, compressed_size: 4 };
  const text = encodeMetadata(m);
  assert.match(text, /"system_identifier":18446744073709551615/);
  assert.deepEqual(decodeMetadata(text), { ...m, user_data: undefined });
  assert.match(encodeMetadata({ ...m, system_identifier: null }), /"system_identifier":null/);
});

test('json helpers: exact parse, Go escaping, RFC3339Nano, LSN text', () => {
  assert.deepEqual(parseJsonExact('[9007199254740993, 1]'), [9007199254740993n, 1]);
  assert.equal(stringifyGo({ a: '<&>' }), '{"a":"\\u003c\\u0026\\u003e"}');
  assert.equal(rfc3339Nano(new Date('2024-05-01T10:00:00.000Z')), '2024-05-01T10:00:00Z');
  assert.equal(rfc3339Nano(new Date('2024-05-01T10:00:00.120Z'), 3000), '2024-05-01T10:00:00.120003Z');
  assert.equal(parseLsn('16/B374D848'), 0x16B374D848n);
  assert.equal(formatLsn(0x3000028n), '0/3000028');
});

test('listBackups orders by sentinel LastModified and resolves LATEST', async () => {
  const s = new MemoryStorage();
  await s.put('basebackups_005/base_000000010000000000000009_backup_stop_sentinel.json', Buffer.from('{}'));
  await s.put('basebackups_005/base_000000010000000000000002_backup_stop_sentinel.json', Buffer.from('{}'));
  await s.put('basebackups_005/base_000000010000000000000002/metadata.json', Buffer.from('{}'));
  await s.put('basebackups_005/base_000000010000000000000005/tar_partitions/part_001.tar.lz4', Buffer.from('x'));
  const names = (await listBackups(s)).map((b) => b.name);
  assert.deepEqual(names, ['base_000000010000000000000009', 'base_000000010000000000000002']);
  assert.equal((await resolveBackup(s, 'LATEST')).name, 'base_000000010000000000000002');
  await assert.rejects(resolveBackup(s, 'base_000000010000000000000005'), /does not exist/);
  await assert.rejects(resolveBackup(new MemoryStorage(), 'LATEST'), /No backups found/);
});
