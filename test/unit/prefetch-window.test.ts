// wal-fetch starts no new prefetch process while the next half-window of segments is already prefetched or in flight.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { prefetchWindowFilled, prefetchPaths } from '../../src/pg/wal/prefetch.ts';

const SEG = 16 * 1024 * 1024;

test('prefetchWindowFilled: true only when every next segment is prefetched or running', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'walg-pfw-'));
  try {
    const cur = '000000010000000000000009';
    assert.equal(await prefetchWindowFilled(cur, dir, SEG, 3), false, 'nothing prefetched yet');
    const p = prefetchPaths(dir, '00000001000000000000000A');
    mkdirSync(p.runningDir, { recursive: true });
    writeFileSync(p.prefetched, 'x');
    writeFileSync(prefetchPaths(dir, '00000001000000000000000B').running, 'x');
    assert.equal(await prefetchWindowFilled(cur, dir, SEG, 3), false, '0C is missing');
    writeFileSync(prefetchPaths(dir, '00000001000000000000000C').prefetched, 'x');
    assert.equal(await prefetchWindowFilled(cur, dir, SEG, 3), true);
    assert.equal(await prefetchWindowFilled('00000002.history', dir, SEG, 3), false, 'not a segment: keep WAL-G behaviour');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
