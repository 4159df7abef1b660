// Tests for src/core/lent-buffers.ts and its users: the lz4 decoder lends its decoded blocks downstream, the tar
// reader and the extractor give them back, and reused memory never changes bytes anyone still reads.

import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { randomBytes } from 'node:crypto';
import { doneWith, lendDownstream, releaseHold } from '../../src/core/lent-buffers.ts';
import { getCompressor } from '../../src/pipeline/compress/index.ts';
import { through } from '../../src/pipeline/pipeline.ts';
import { readTar } from '../../src/tar/reader.ts';
import { SafeExtractor } from '../../src/tar/extract.ts';
import { TAR_TYPE } from '../../src/tar/header.ts';
import { buildTar, tmp } from '../helpers/tar.ts';
import { MiB, compressible, mixed } from '../helpers/compress.ts';

describe('lendDownstream', () => {
  test('gives the buffer back once every byte is reported (through any views) and every hold released', () => {
    const buf = Buffer.allocUnsafeSlow(100);
    let back = 0;
    lendDownstream(buf, 100, 1, () => back++);
    doneWith(buf.subarray(0, 40));
    doneWith(buf.subarray(40, 99));
    assert.equal(back, 0);
    doneWith(buf.subarray(99, 100));
    assert.equal(back, 0, 'the producer still holds it');
    releaseHold(buf);
    assert.equal(back, 1);
    doneWith(buf.subarray(0, 10)); // no longer lent: ignored
    releaseHold(buf);
    assert.equal(back, 1);
  });

  test('buffers that were never lent are ignored; nothing lent gives back at once', () => {
    doneWith(Buffer.from('not lent'));
    doneWith(Buffer.alloc(0));
    let back = 0;
    lendDownstream(Buffer.allocUnsafeSlow(8), 0, 0, () => back++);
    assert.equal(back, 1);
  });
});

describe('lz4 decoder lending through the tar reader and the extractor', () => {
  test('restored files are byte-equal while decoded blocks are reused', async () => {
    const files: [string, Buffer][] = [
      ['/big-text', compressible(40 * MiB)], // 10 compressed blocks, each decoding to 4 MiB (lent)
      ['/random', randomBytes(9 * MiB)], // stored raw: the input buffers are lent
      ['/mixed', mixed(13 * MiB + 777)],
      ...Array.from({ length: 50 }, (_, i): [string, Buffer] => [`/small/${i}`, randomBytes(1 + i * 997)]),
      ['/text-again', compressible(24 * MiB + 3)],
    ];
    const tar = await buildTar([
      [{ name: '/small', type: TAR_TYPE.directory, mode: 0o700 }],
      ...files.map(([name, data]): [{ name: string; type: string; mode: number; size: number }, Buffer] =>
        [{ name, type: TAR_TYPE.file, mode: 0o600, size: data.length }, data]),
    ]);
    const lz4 = await getCompressor('lz4');
    const chunks: Buffer[] = [];
    await pipeline(Readable.from([tar]), lz4!.compress(), async function* (src: AsyncIterable<Buffer>) {
      for await (const c of src) chunks.push(c);
    });
    // Small storage reads, as from a file or socket; the tap records which memory every decoded chunk lives in.
    const stored = Buffer.concat(chunks);
    const memories = new Set<ArrayBufferLike>();
    let big = 0;
    const tap = new Transform({
      transform(c: Buffer, _e, cb) {
        if (c.length >= 2 * MiB) { big++; memories.add(c.buffer); }
        cb(null, c);
      },
    });
    const source = Readable.from((function* () { for (let i = 0; i < stored.length; i += 65536) yield stored.subarray(i, i + 65536); })());
    const root = tmp('walg-lent-');
    try {
      const plain = through(source, [lz4!.decompress(), tap]);
      await new SafeExtractor({ root, absoluteNames: 'root-relative', fsync: false }).extractAll(readTar(plain));
      for (const [name, data] of files) assert.ok(readFileSync(join(root, name)).equals(data), `${name} differs`);
      assert.ok(big >= 20, `expected many big blocks, saw ${big}`);
      assert.ok(memories.size <= 12, `${memories.size} distinct buffers for ${big} blocks: decoded blocks are not reused`);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});

describe('lz4 encoder lending to the file storage', () => {
  test('compressed blocks come back from the storage writer for reuse; the stored object decodes equal', async () => {
    const { FileStorage } = await import('../../src/storage/drivers/fs.ts');
    const { readAll } = await import('../../src/storage/body.ts');
    const data = Buffer.concat([compressible(40 * MiB), randomBytes(9 * MiB), mixed(8 * MiB)]);
    const lz4 = await getCompressor('lz4');
    const memories = new Set<ArrayBufferLike>();
    let big = 0;
    const tap = new Transform({
      transform(c: Buffer, _e, cb) {
        if (c.length >= 64 * 1024) { big++; memories.add(c.buffer); }
        cb(null, c);
      },
    });
    const root = tmp('walg-lent-put-');
    try {
      const storage = new FileStorage(root);
      const source = Readable.from((function* () { for (let i = 0; i < data.length; i += 1 << 20) yield data.subarray(i, i + (1 << 20)); })());
      await storage.put('obj.lz4', through(source, [lz4!.compress(), tap]));
      const back = await readAll(through(await storage.get('obj.lz4'), [lz4!.decompress()]));
      assert.ok(back.equals(data), 'the object decodes to the input');
      assert.ok(big >= 14, `expected many blocks, saw ${big}`);
      assert.ok(memories.size <= 8, `${memories.size} distinct buffers for ${big} blocks: encoder blocks are not reused`);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
