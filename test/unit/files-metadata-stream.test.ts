// Tests for the streamed files_metadata.json (issue 24): src/backup/json-members.ts reads the object member by
// member across any chunk boundary, src/pg/files-metadata.ts decodes it into a FilesTable and encodes a FilesTable
// to the very bytes it encodes a Map of descriptions to (the layout WAL-G reads).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readJsonMembers } from '../../src/backup/json-members.ts';
import { FilesTable, decodeFilesMetadata, encodeFilesMetadata } from '../../src/pg/files-metadata.ts';
import type { FileDescription } from '../../src/pg/files-metadata.ts';
import { CorruptObjectError } from '../../src/core/errors.ts';

async function* pieces(text: string, size: number): AsyncGenerator<Buffer> {
  const b = Buffer.from(text, 'utf8');
  for (let i = 0; i < b.length; i += size) yield b.subarray(i, i + size);
}

async function collect(text: string, size: number): Promise<unknown[]> {
  const out: unknown[] = [];
  for await (const m of readJsonMembers(pieces(text, size), new Set(['files', 'tarfilesets']))) out.push(m);
  return out;
}

const SAMPLE = JSON.stringify({
  Files: {
    '/base/1/1259': { IsIncremented: false, IsSkipped: true, MTime: '2026-12-03T10:00:00.123456789Z', UpdatesCount: 0 },
    '/base/1/weird "{[,]}" \\ name \u00e9\u{1F600}': { IsIncremented: true, IsSkipped: false, MTime: '2026-12-03T10:00:01+01:00', CorruptBlocks: { CorruptBlocksCount: 2, SomeCorruptBlocks: [3, 7] }, UpdatesCount: 4 },
  },
  TarFileSets: { 'part_001.tar.lz4': ['/base/1/1259', '/x,y}'] },
  DatabasesByNames: { postgres: { oid: 5, tables: { a: 1 } } },
}, null, 1);

test('readJsonMembers: the same members for every chunk size, nested and escaped text included', async () => {
  const whole = await collect(SAMPLE, SAMPLE.length + 1);
  assert.equal(whole.length, 4);
  assert.deepEqual(whole[3], { key: 'DatabasesByNames', value: { postgres: { oid: 5, tables: { a: 1 } } } });
  for (const size of [1, 2, 3, 5, 7, 64]) assert.deepEqual(await collect(SAMPLE, size), whole, `chunks of ${size} bytes`);
  assert.deepEqual(await collect('{"files":{}, "FILES": null}', 4), [{ key: 'FILES', value: null }]);
});

test('readJsonMembers: text that is not one object is a SyntaxError', async () => {
  for (const bad of ['', '[1]', '{"a":1', '{"a":1} x', '{"a":}', '"x"', '{"Files":{"a":1]}']) {
    await assert.rejects(collect(bad, 3), SyntaxError, JSON.stringify(bad));
  }
});

test('decodeFilesMetadata: streamed into a FilesTable; keys case-insensitive; TarFileSets optional', async () => {
  const text = SAMPLE.replace('"Files"', '"files"').replace('"IsSkipped": true', '"isskipped": true');
  const m = await decodeFilesMetadata(pieces(text, 5), 'x');
  assert.equal(m.Files.size, 2);
  assert.deepEqual(m.Files.get('/base/1/1259'), { IsIncremented: false, IsSkipped: true, MTime: '2026-12-03T10:00:00.123456789Z', UpdatesCount: 0 });
  const weird = [...m.Files.keys()][1]!;
  assert.equal(m.Files.isIncremented(weird), true);
  assert.deepEqual(m.Files.get(weird)!.CorruptBlocks, { CorruptBlocksCount: 2, SomeCorruptBlocks: [3, 7] });
  assert.equal(m.Files.get(weird)!.UpdatesCount, 4);
  assert.equal(m.Files.mtime('/nope'), undefined);
  assert.deepEqual(m.TarFileSets.get('part_001.tar.lz4'), ['/base/1/1259', '/x,y}']);
  assert.deepEqual(m.DatabasesByNames, { postgres: { oid: 5, tables: { a: 1 } } });
  assert.equal((await decodeFilesMetadata(text, 'x', { tarFileSets: false })).TarFileSets.size, 0);
  await assert.rejects(decodeFilesMetadata('{"Files":[1]}', 'f.json'), (e: unknown) => e instanceof CorruptObjectError && /f\.json: Files is not an object/.test((e as Error).message));
  await assert.rejects(decodeFilesMetadata('{"Files":', 'f.json'), (e: unknown) => e instanceof CorruptObjectError && /f\.json: not valid JSON/.test((e as Error).message));
});

test('FilesTable encodes byte-identically to a Map of descriptions, and decodes back to it', async () => {
  const map = new Map<string, FileDescription>();
  const table = new FilesTable();
  for (let i = 0; i < 5000; i++) {
    const d: FileDescription = { IsIncremented: i % 3 === 0, IsSkipped: i % 5 === 0, MTime: `2026-12-03T10:${String(i % 60).padStart(2, '0')}:00.${i}Z`, UpdatesCount: i % 97 === 0 ? 2 : 0 };
    if (i % 1000 === 1) d.CorruptBlocks = { CorruptBlocksCount: 1, SomeCorruptBlocks: [i] };
    map.set(`/base/5/${i}`, d);
    table.set(`/base/5/${i}`, d);
  }
  table.set('/base/5/7', map.get('/base/5/7')!); // replacing keeps one entry
  const tars = new Map([['part_001.tar.lz4', [...map.keys()]]]);
  const fromMap = [...encodeFilesMetadata({ Files: map, TarFileSets: tars })].join('');
  assert.equal([...encodeFilesMetadata({ Files: table, TarFileSets: tars })].join(''), fromMap);
  const back = await decodeFilesMetadata(pieces(fromMap, 4096));
  assert.equal([...encodeFilesMetadata(back)].join(''), fromMap);
  assert.deepEqual(JSON.parse(fromMap), JSON.parse([...encodeFilesMetadata(back)].join('')));
});
