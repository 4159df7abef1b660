// Conformance suite on the file-system driver, plus its WAL-G-specific temp-name behaviour.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runStorageSuite } from '../conformance/storage-suite.ts';
import { FileStorage, timestampRandomTag } from '../../src/storage/drivers/fs.ts';

const roots: string[] = [];
process.on('exit', () => { for (const r of roots) rmSync(r, { recursive: true, force: true }); });

runStorageSuite('file', async () => {
  const root = mkdtempSync(join(tmpdir(), 'walg-fs-'));
  roots.push(root);
  return new FileStorage(root);
});

test('file storage: temp names are WAL-G style and never listed', async () => {
  const root = mkdtempSync(join(tmpdir(), 'walg-fs-'));
  roots.push(root);
  const s = new FileStorage(root);
  assert.match(timestampRandomTag(), /^\d{8}T\d{6}Z-[0-9a-f]{16}$/);
  writeFileSync(join(root, `half.tmp.${timestampRandomTag()}`), 'partial');
  await s.put('done', Buffer.from('x'));
  const keys: string[] = [];
  for await (const e of s.list('')) keys.push(e.key);
  assert.deepEqual(keys, ['done']);
  assert.equal(readdirSync(root).length, 2);
});

test('file storage: keys cannot escape the root', async () => {
  const root = mkdtempSync(join(tmpdir(), 'walg-fs-'));
  roots.push(root);
  const s = new FileStorage(join(root, 'inner'));
  await assert.rejects(s.put('../outside', Buffer.from('x')), /outside the storage root/);
});
