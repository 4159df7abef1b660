// backup-push's file reader (fileChunks): 4 MiB reads kept in flight ahead of the consumer. Whatever the file does
// meanwhile, what it yields is a prefix of the file's bytes: never a gap followed by later bytes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync, truncateSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileChunks } from '../../src/pg/basebackup/file-reader.ts';

test('a whole file comes back byte for byte, also when it is not a multiple of the read size', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'walg-chunks-'));
  try {
    for (const size of [0, 1, 8192, (4 << 20) - 1, 4 << 20, (9 << 20) + 123]) {
      const data = randomBytes(size);
      const path = join(dir, `f${size}`);
      writeFileSync(path, data);
      const fh = await open(path, 'r');
      const parts: Buffer[] = [];
      // Copy each chunk: big ones are lent to the lz4 encoder and may be reused once given back.
      for await (const c of fileChunks(fh, size)) parts.push(Buffer.from(c));
      await fh.close();
      assert.ok(Buffer.concat(parts).equals(data), `size ${size}`);
    }
  } finally { rmSync(dir, { recursive: true, force: true }); }
});

test('a file truncated while reads are in flight yields a prefix of its bytes, then ends', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'walg-chunks-'));
  try {
    const data = randomBytes(20 << 20);
    const path = join(dir, 'shrinks');
    writeFileSync(path, data);
    const fh = await open(path, 'r');
    const parts: Buffer[] = [];
    let first = true;
    for await (const c of fileChunks(fh, data.length)) {
      parts.push(Buffer.from(c));
      if (first) { truncateSync(path, (6 << 20) + 5); first = false; }
    }
    await fh.close();
    const got = Buffer.concat(parts);
    assert.ok(got.length < data.length, 'stopped early');
    const cut = (6 << 20) + 5;
    // Up to the new size the bytes are exact. Past it a read that raced the truncation may return the old bytes or
    // the zeros the kernel wrote over the rest of the cut page (a fact of pread against truncate), never bytes of
    // another offset.
    assert.ok(got.subarray(0, Math.min(cut, got.length)).equals(data.subarray(0, Math.min(cut, got.length))), 'exact up to the new size');
    for (let i = cut; i < got.length; i++) assert.ok(got[i] === data[i] || got[i] === 0, `byte ${i} is neither the old byte nor zero`);
  } finally { rmSync(dir, { recursive: true, force: true }); }
});
