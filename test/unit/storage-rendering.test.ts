// How storage listings print per storage kind (compat, found by the interop suite, issue 14 case 7): Azure's object
// times carry the zone name 'GMT' in `st ls` / `st stat` and `backup-list --pretty`; WAL-G's SSH storage names the
// sub-folders of a non-recursive `st ls` "/name".
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { goTimeString, prettyTime } from '../../src/commands/render/time.ts';
import { renderListing } from '../../src/commands/st/listing.ts';
import { listBackups } from '../../src/backup/sentinel.ts';
import { MemoryStorage } from '../../src/storage/drivers/memory.ts';
import type { ListEntry, Storage } from '../../src/storage/types.ts';

const t = new Date('2026-12-03T11:50:18Z');

test('goTimeString and prettyTime print the storage\'s zone name, UTC by default', () => {
  assert.equal(goTimeString(t), '2026-12-03 11:50:18 +0000 UTC');
  assert.equal(goTimeString(t, undefined, 'GMT'), '2026-12-03 11:50:18 +0000 GMT');
  assert.equal(prettyTime('2026-12-03T11:50:18Z'), 'Thursday, 03-Dec-26 11:50:18 UTC');
  assert.equal(prettyTime('2026-12-03T11:50:18Z', 'GMT'), 'Thursday, 03-Dec-26 11:50:18 GMT');
  // A numeric offset is printed as such whatever the storage's zone name.
  assert.equal(prettyTime('2026-12-03T11:50:18+03:00', 'GMT'), 'Thursday, 03-Dec-26 11:50:18 +0300');
});

const entries: ListEntry[] = [
  { type: 'dir', key: 'base/wal_005/', size: 0, lastModified: new Date(0) },
  { type: 'obj', key: 'base/obj.lz4', size: 22, lastModified: t, zoneName: 'GMT' },
];

test('st ls: sub-folders are "name/" except on SSH storage, "/name" there; object times keep their zone', () => {
  const rows = (type: string) => renderListing(entries, 'base/', type).split('\n').map((l) => l.trimEnd());
  assert.deepEqual(rows('azure'), [
    'type size last modified                 name',
    'dir  0    0001-01-01 00:00:00 +0000 UTC wal_005/',
    'obj  22   2026-12-03 11:50:18 +0000 GMT obj.lz4',
    '',
  ]);
  assert.equal(rows('ssh')[1], 'dir  0    0001-01-01 00:00:00 +0000 UTC /wal_005');
  assert.equal(rows('s3')[1], 'dir  0    0001-01-01 00:00:00 +0000 UTC wal_005/');
});

test('listBackups keeps the zone name of the sentinel\'s listing entry', async () => {
  const mem = new MemoryStorage();
  await mem.put('basebackups_005/base_000000010000000000000003_backup_stop_sentinel.json', Buffer.from('{}'));
  // A listing as the Azure driver gives it.
  const azureLike: Storage = Object.assign(Object.create(mem) as Storage, {
    async *list(prefix: string, opts?: { recursive?: boolean }) {
      for await (const e of mem.list(prefix, opts)) yield { ...e, zoneName: 'GMT' };
    },
  });
  const [ref] = await listBackups(azureLike);
  assert.equal(ref?.name, 'base_000000010000000000000003');
  assert.equal(ref?.zoneName, 'GMT');
  assert.equal((await listBackups(mem))[0]?.zoneName, undefined);
});

test('MySQL backup-list --detail --pretty prints the last-modified time in the storage\'s zone (Azure: GMT)', async () => {
  const { renderDetail } = await import('../../src/commands/mysql/backup-list.ts');
  const sentinel = { StartLocalTime: '2026-12-03T11:40:00.5+03:00', StopLocalTime: '2026-12-03T11:45:00+03:00', IsPermanent: false, IsIncremental: false, LSN: null };
  const out = renderDetail([{ name: 'stream_20261203084000', modified: t, zoneName: 'GMT', sentinel }], { detail: true, pretty: true });
  assert.match(out, /\| Thursday, 03-Dec-26 11:50:18 GMT \| Thursday, 03-Dec-26 11:40:00 \+0300 \|/);
  const utc = renderDetail([{ name: 'stream_20261203084000', modified: t, sentinel }], { detail: true, pretty: true });
  assert.match(utc, /Thursday, 03-Dec-26 11:50:18 UTC/);
});
