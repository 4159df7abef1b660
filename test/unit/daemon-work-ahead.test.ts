// The daemon's wal-push with work ahead (src/pg/daemon/work-ahead.ts) on MemoryStorage: the requested segment is
// answered once stored while the next .ready ones upload; a request for one of those waits for its upload or
// consumes its marker and sends nothing again; a failed upload ahead leaves the segment to its own request.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryStorage } from '../../src/storage/drivers/memory.ts';
import type { Storage } from '../../src/storage/types.ts';
import { getCompressor } from '../../src/pipeline/compress/index.ts';
import { log } from '../../src/core/log.ts';
import { markerDirFor } from '../../src/pg/wal/archive-status.ts';
import { WorkAhead } from '../../src/pg/daemon/work-ahead.ts';
import { formatWalName } from '../../src/pg/wal-name.ts';
import { segment } from '../helpers/wal-segment.ts';

const SEG = 1024 * 1024;
const name = (n: number) => formatWalName(1, n, SEG);
log.discard();

/** A storage that counts puts per key and can be slowed down or made to fail for some keys. */
function counting(inner: Storage, opts: { delayMs?: number; fail?: (key: string) => boolean } = {}): { storage: Storage; puts: Map<string, number> } {
  const puts = new Map<string, number>();
  const storage = Object.create(inner) as Storage;
  storage.put = async (key, body, o) => {
    puts.set(key, (puts.get(key) ?? 0) + 1);
    if (opts.delayMs) await new Promise((r) => setTimeout(r, opts.delayMs));
    if (opts.fail?.(key)) throw new Error(`injected failure for ${key}`);
    return inner.put(key, body, o);
  };
  return { storage, puts };
}

async function setup(ahead: number, storageOpts: { delayMs?: number; fail?: (key: string) => boolean } = {}) {
  const root = mkdtempSync(join(tmpdir(), 'walg-ahead-'));
  const dir = join(root, 'pg_wal');
  mkdirSync(join(dir, 'archive_status'), { recursive: true });
  for (let i = 1; i <= 6; i++) {
    writeFileSync(join(dir, name(i)), segment(i, SEG));
    writeFileSync(join(dir, 'archive_status', `${name(i)}.ready`), '');
  }
  const { storage, puts } = counting(new MemoryStorage(), storageOpts);
  const wa = new WorkAhead({
    storage, pipeline: { compressor: await getCompressor('lz4') }, preventOverwrite: false, readyRename: false,
    segmentSize: SEG, pgdata: root, ahead, decompressorCache: null,
  });
  return { root, dir, wa, puts, cleanup: () => rmSync(root, { recursive: true, force: true }) };
}

const key = (n: number) => `wal_005/${name(n)}.lz4`;
const signal = new AbortController().signal;

test('work ahead: the next .ready segments upload once, later requests are answered from them', async () => {
  const { root, dir, wa, puts, cleanup } = await setup(3);
  try {
    await wa.push(join(dir, name(1)), signal);
    assert.equal(puts.get(key(1)), 1);
    await wa.drain();
    assert.deepEqual([2, 3, 4].map((n) => puts.get(key(n))), [1, 1, 1], 'three segments ahead');
    assert.equal(puts.get(key(5)), undefined, 'no further than the limit');
    const markers = markerDirFor(join(dir, name(2)), root);
    assert.ok(existsSync(join(markers, name(2))), 'recorded as wal-push records background uploads');
    for (let n = 2; n <= 6; n++) await wa.push(join(dir, name(n)), signal);
    await wa.drain();
    for (let n = 1; n <= 6; n++) assert.equal(puts.get(key(n)), 1, `${name(n)} stored exactly once`);
    for (let n = 2; n <= 6; n++) assert.ok(!existsSync(join(markers, name(n))), `marker of ${name(n)} consumed`);
  } finally { cleanup(); }
});

test('work ahead: a request for a segment still uploading ahead waits for that upload', async () => {
  const { dir, wa, puts, cleanup } = await setup(2, { delayMs: 150 });
  try {
    await wa.push(join(dir, name(1)), signal);
    const t0 = Date.now();
    await wa.push(join(dir, name(2)), signal); // in flight since the first request
    assert.ok(Date.now() - t0 < 150, 'answered when the upload ahead finished, not after a second upload');
    assert.equal(puts.get(key(2)), 1);
    await wa.drain();
  } finally { cleanup(); }
});

test('work ahead: a failed upload ahead is retried by the segment\'s own request; ahead 0 uploads only what is asked', async () => {
  let failOnce = true;
  const { dir, wa, puts, cleanup } = await setup(2, { fail: (k) => k === key(2) && (failOnce ? ((failOnce = false), true) : false) });
  try {
    await wa.push(join(dir, name(1)), signal);
    await wa.drain();
    await wa.push(join(dir, name(2)), signal);
    assert.equal(puts.get(key(2)), 2, 'failed ahead, then uploaded by its request');
  } finally { cleanup(); }
  const off = await setup(0);
  try {
    await off.wa.push(join(off.dir, name(1)), signal);
    await off.wa.drain();
    assert.deepEqual([...off.puts.keys()], [key(1)]);
  } finally { off.cleanup(); }
});
