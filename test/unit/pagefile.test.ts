// Unit tests of the page scanner and increment format (src/pg/pagefile.ts): the increment blob byte layout and
// round trip, a property test of apply(base, increment) against random page changes, and the errors on malformed
// increments. Pages written by a real PostgreSQL 15 (`initdb -k`) are checked in
// test/integration/pagefile-pg.test.ts.

import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { open, readFile, writeFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CorruptObjectError } from '../../src/core/errors.ts';
import {
  PAGE_SIZE, INCREMENT_MAGIC, applyIncrement, incrementChunks, incrementSize, isChecksummableFile,
  isNewPage, isPagedFile, pageChecksum, parsePageHeader, planIncrement,
} from '../../src/pg/pagefile.ts';
import { localRfc3339Nano, parseRfc3339Ns } from '../../src/pg/files-metadata.ts';


/** xorshift32: reproducible pseudo-random numbers for the property test. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => { x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0; return x; };
}

/** A valid heap-like page with the given LSN, random payload and a correct checksum for `blkno`. */
function makePage(lsn: bigint, blkno: number, next: () => number): Buffer {
  const p = Buffer.alloc(PAGE_SIZE);
  for (let i = 24; i < PAGE_SIZE; i += 4) p.writeUInt32LE(next(), i);
  p.writeUInt32LE(Number(lsn >> 32n), 0);
  p.writeUInt32LE(Number(lsn & 0xffffffffn), 4);
  p.writeUInt16LE(0, 10); // flags
  p.writeUInt16LE(40, 12); // pd_lower
  p.writeUInt16LE(4000, 14); // pd_upper
  p.writeUInt16LE(PAGE_SIZE, 16); // pd_special
  p.writeUInt16LE(PAGE_SIZE | 4, 18); // page size | layout version 4
  p.writeUInt16LE(pageChecksum(p, blkno), 8);
  return p;
}

async function collect(it: AsyncIterable<Buffer>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of it) parts.push(c);
  return Buffer.concat(parts);
}

let dir: string;
before(async () => { dir = await mkdtemp(join(tmpdir(), 'walg-pagefile-')); });
after(async () => { await rm(dir, { recursive: true, force: true }); });

describe('which files are paged', () => {
  test('main-fork segments under base/ or pg_tblspc/, whole pages, not transaction state', () => {
    assert.equal(isPagedFile('/d/base/5/1259', 8192), true);
    assert.equal(isPagedFile('/d/base/5/1259.3', 16384), true);
    assert.equal(isPagedFile('/d/pg_tblspc/16400/PG_15_1/5/16401', 8192), true);
    assert.equal(isPagedFile('/d/base/5/1259_fsm', 24576), false);
    assert.equal(isPagedFile('/d/base/5/1259_vm', 8192), false);
    assert.equal(isPagedFile('/d/base/5/1259', 0), false);
    assert.equal(isPagedFile('/d/base/5/1259', 8000), false);
    assert.equal(isPagedFile('/d/global/1262', 8192), false);
    assert.equal(isPagedFile('/database/pg_xact/0000', 8192), false);
    // compat: WAL-G matches substrings of the absolute path, so "base" in the data directory path counts.
    assert.equal(isPagedFile('/srv/database/global/1262', 8192), true);
    assert.equal(isChecksummableFile('/d/base/5/1259', 8000), true);
    assert.equal(isChecksummableFile('/d/base/5/pg_internal.init', 8192), false);
  });
});

describe('increment blob', () => {
  test('layout: magic, uint64 size, uint32 count, block numbers, pages', async () => {
    const next = rng(7);
    const pages = [makePage(0x100n, 0, next), makePage(0x500n, 1, next), Buffer.alloc(PAGE_SIZE), makePage(0x900n, 3, next)];
    const path = join(dir, 'layout');
    await writeFile(path, Buffer.concat(pages));
    const fh = await open(path, 'r');
    try {
      const plan = await planIncrement(fh, 4 * PAGE_SIZE, 0x500n);
      assert.deepEqual(plan, { fileSize: 4 * PAGE_SIZE, blocks: [1, 2, 3] }, 'pages at/after the LSN and the new (zero) page');
      const blob = await collect(incrementChunks(fh, plan!));
      assert.equal(blob.length, incrementSize(3));
      assert.deepEqual(blob.subarray(0, 4), INCREMENT_MAGIC);
      assert.deepEqual([...blob.subarray(0, 4)], [0x77, 0x69, 0x31, 0x55]);
      assert.equal(blob.readBigUInt64LE(4), BigInt(4 * PAGE_SIZE));
      assert.equal(blob.readUInt32LE(12), 3);
      assert.deepEqual([blob.readUInt32LE(16), blob.readUInt32LE(20), blob.readUInt32LE(24)], [1, 2, 3]);
      assert.deepEqual(blob.subarray(28, 28 + PAGE_SIZE), pages[1]);
      assert.deepEqual(blob.subarray(28 + 2 * PAGE_SIZE), pages[3]);
    } finally {
      await fh.close();
    }
  });

  test('an invalid page makes the file a full copy (no plan)', async () => {
    const next = rng(9);
    const bad = makePage(0x100n, 1, next);
    bad.writeUInt16LE(8, 12); // pd_lower below the header size
    const path = join(dir, 'invalid');
    await writeFile(path, Buffer.concat([makePage(0x100n, 0, next), bad]));
    const fh = await open(path, 'r');
    try {
      assert.equal(await planIncrement(fh, 2 * PAGE_SIZE, 0x50n), undefined);
    } finally {
      await fh.close();
    }
  });

  test('property: apply(base, increment(new)) == new, for random page changes, growth and truncation', async () => {
    const next = rng(20261122);
    const basePath = join(dir, 'base');
    const newPath = join(dir, 'new');
    for (let iter = 0; iter < 150; iter++) {
      const baseLsn = 0x1000n + BigInt(next() % 1000);
      const n = 1 + (next() % 40);
      const base = Array.from({ length: n }, (_, b) => (next() % 9 === 0 ? Buffer.alloc(PAGE_SIZE) : makePage(BigInt(next() % Number(baseLsn)) + 1n, b, next)));
      const deltaLsn = baseLsn;
      // New version: change some pages (new LSN >= deltaLsn), zero some, grow or shrink the file.
      let m = n;
      const r = next() % 4;
      if (r === 0) m = n + 1 + (next() % 10);
      else if (r === 1) m = Math.max(1, n - 1 - (next() % n));
      const cur: Buffer[] = [];
      for (let b = 0; b < m; b++) {
        const change = b >= n || next() % 5 === 0;
        if (!change) { cur.push(base[b]!); continue; }
        cur.push(next() % 7 === 0 ? Buffer.alloc(PAGE_SIZE) : makePage(deltaLsn + BigInt(next() % 5000), b, next));
      }
      await writeFile(basePath, Buffer.concat(base));
      const newBytes = Buffer.concat(cur);
      await writeFile(newPath, newBytes);
      const src = await open(newPath, 'r');
      let blob: Buffer;
      try {
        const plan = await planIncrement(src, newBytes.length, deltaLsn);
        assert.ok(plan, 'all pages are valid or new');
        // Only pages that changed or are new may be left out of the increment when unchanged and older.
        for (let b = 0; b < m; b++) {
          const h = parsePageHeader(newBytes, b * PAGE_SIZE);
          assert.equal(plan.blocks.includes(b), isNewPage(h) || h.lsn >= deltaLsn, `iter ${iter} block ${b}`);
        }
        blob = await collect(incrementChunks(src, plan));
      } finally {
        await src.close();
      }
      const dst = await open(basePath, 'r+');
      try {
        // Feed the blob in odd-sized chunks: the applier must not depend on chunk boundaries.
        const chunks = (async function* () { for (let i = 0; i < blob.length; i += 3001) yield blob.subarray(i, i + 3001); })();
        await applyIncrement(dst, chunks, 'base');
      } finally {
        await dst.close();
      }
      assert.deepEqual(await readFile(basePath), newBytes, `iteration ${iter}: n=${n} m=${m}`);
    }
  });

  test('malformed blobs are CorruptObjectError and name the problem', async () => {
    const path = join(dir, 'target');
    const good = Buffer.concat([INCREMENT_MAGIC, Buffer.from([0, 0x20, 0, 0, 0, 0, 0, 0]), Buffer.from([1, 0, 0, 0]), Buffer.from([0, 0, 0, 0]), Buffer.alloc(PAGE_SIZE, 7)]);
    const cases: [string, Buffer, RegExp][] = [
      ['bad magic', Buffer.concat([Buffer.from('xx1U'), good.subarray(4)]), /Invalid increment file header/],
      ['unknown version', Buffer.concat([Buffer.from([0x77, 0x69, 0x32, 0x55]), good.subarray(4)]), /Unknown increment file header/],
      ['short header', good.subarray(0, 10), /shorter than its header/],
      ['truncated page', good.subarray(0, good.length - 1), /ends before the page of block 0/],
      ['trailing bytes', Buffer.concat([good, Buffer.from([1])]), /Expected end of Tar/],
    ];
    for (const [what, blob, re] of cases) {
      await writeFile(path, Buffer.alloc(PAGE_SIZE));
      const fh = await open(path, 'r+');
      try {
        await assert.rejects(applyIncrement(fh, (async function* () { yield blob; })(), 'base/5/1'), (err: unknown) => {
          assert.ok(err instanceof CorruptObjectError, what);
          assert.match((err as Error).message, re, what);
          return true;
        });
      } finally {
        await fh.close();
      }
    }
    // The good one applies.
    const fh = await open(path, 'r+');
    try {
      assert.deepEqual(await applyIncrement(fh, (async function* () { yield good; })(), 'x'), { fileSize: 0x2000, pages: 1 });
    } finally {
      await fh.close();
    }
  });
});

describe('MTime comparison', () => {
  test('parseRfc3339Ns reads back what localRfc3339Nano writes, to the nanosecond, in any zone', () => {
    for (const ns of [0n, 1n, 1_700_000_000_123_456_789n, 1_700_000_000_000_000_000n, 1_234_567_890_100_000_000n]) {
      assert.equal(parseRfc3339Ns(localRfc3339Nano(ns)), ns);
    }
    assert.equal(parseRfc3339Ns('2023-11-14T22:13:20.123456789+03:00'), 1_699_989_200_123_456_789n);
    assert.equal(parseRfc3339Ns('2023-11-14T19:13:20.5Z'), 1_699_989_200_500_000_000n);
    assert.equal(parseRfc3339Ns('not a time'), undefined);
  });
});
