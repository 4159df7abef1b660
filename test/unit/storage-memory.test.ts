// Conformance suite on the in-memory driver.
import { runStorageSuite } from '../conformance/storage-suite.ts';
import { MemoryStorage } from '../../src/storage/drivers/memory.ts';

runStorageSuite('memory', async () => new MemoryStorage(), { bigUploadMB: 20 });

// The WALG_STORAGE_PREFIX wrapper must keep the whole contract too.
import { withPrefix } from '../../src/storage/wrap/prefix.ts';
import { test } from 'node:test';
import assert from 'node:assert/strict';

runStorageSuite('memory + WALG_STORAGE_PREFIX', async () => withPrefix(new MemoryStorage(), 'seg1/sub'), { bigUploadMB: 5, manyKeys: 300 });

test('WALG_STORAGE_PREFIX puts every key under the sub-folder', async () => {
  const inner = new MemoryStorage();
  const s = withPrefix(inner, '/seg1/');
  await s.put('wal_005/x', Buffer.from('1'));
  assert.equal(await inner.exists('seg1/wal_005/x'), true);
  const keys: string[] = [];
  for await (const e of s.list('')) keys.push(`${e.type}:${e.key}`);
  assert.deepEqual(keys, ['dir:wal_005/']);
});
