// Tests for src/pipeline/compress: round trips, the exact LZ4 / zstd / lzma container bytes WAL-G expects, and
// corrupt input. Needs no codec CLI: interoperability with the reference CLIs is in
// test/integration/compress-cli.test.ts, and xxh32 speed in bench/codecs.ts.

import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { Readable, Writable, type Duplex } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError } from '../../src/core/errors.ts';
import type { Compressor } from '../../src/pipeline/types.ts';
import {
  getCompressor,
  compressorForExtension,
  KNOWN_EXTENSIONS,
} from '../../src/pipeline/compress/index.ts';
import { xxh32, Xxh32, LZ4_BLOCK_SIZE } from '../../src/pipeline/compress/lz4-frame.ts';
import { MiB, run, isCorrupt, compressible, mixed, lz4Layout } from '../helpers/compress.ts';

const RANDOM_10M = randomBytes(10 * MiB);
const TEXT_10M = compressible(10 * MiB);
const MIXED_6M = mixed(6 * MiB);

// ---------------------------------------------------------------------------------------------------------------

describe('xxh32', () => {
  test('matches the reference vectors', () => {
    assert.equal(xxh32(Buffer.alloc(0)), 0x02cc5d05);
    assert.equal(xxh32(Buffer.from('a')), 0x550d7456);
    assert.equal(xxh32(Buffer.from('abc')), 0x32d153ff);
    assert.equal(xxh32(Buffer.from('Nobody inspects the spammish repetition')), 0xe2293b2f);
  });

  test('incremental updates over any slicing (and unaligned views) equal the one-shot hash', () => {
    const data = randomBytes(100_003);
    const whole = xxh32(data);
    for (const step of [1, 3, 15, 16, 17, 4096, 65_537]) {
      const h = new Xxh32();
      for (let i = 0; i < data.length; i += step) h.update(data.subarray(i, i + step));
      assert.equal(h.digest(), whole, `step ${step}`);
    }
    const shifted = Buffer.alloc(data.length + 1);
    data.copy(shifted, 1);
    assert.equal(xxh32(shifted.subarray(1)), whole);
  });

});

// ---------------------------------------------------------------------------------------------------------------

describe('round trips', () => {
  const inputs: Array<[string, () => Buffer]> = [
    ['empty', () => Buffer.alloc(0)],
    ['1 byte', () => Buffer.from([0x42])],
    ['random 10 MiB', () => RANDOM_10M],
    ['compressible 10 MiB', () => TEXT_10M],
  ];
  for (const method of ['lz4', 'lzma', 'zstd', 'brotli', 'none'] as const) {
    for (const [name, make] of inputs) {
      // lzma codes incompressible data at ~1-3 MB/s: 4 MiB of it keeps this file well inside its time budget.
      const label = method === 'lzma' && name.startsWith('random') ? 'random 4 MiB' : name;
      test(`${method}: ${label}`, async () => {
        const c = await getCompressor(method);
        const data = label === 'random 4 MiB' ? RANDOM_10M.subarray(0, 4 * MiB) : make();
        const packed = await run(c.compress(), data);
        if (method !== 'none' && data.length > 0 && name.startsWith('compressible')) {
          assert.ok(packed.length < data.length / 3, `${method} ratio ${packed.length / data.length}`);
        }
        assert.ok((await run(c.decompress(), packed)).equals(data));
      });
    }
  }

  test('lz4: odd write sizes, exact block multiples and one huge write give the same result', async () => {
    const c = await getCompressor('lz4');
    const data = Buffer.concat([MIXED_6M, TEXT_10M.subarray(0, 2 * LZ4_BLOCK_SIZE - MIXED_6M.length)]);
    assert.equal(data.length, 2 * LZ4_BLOCK_SIZE);
    for (const piece of [0, 1000_003, LZ4_BLOCK_SIZE, LZ4_BLOCK_SIZE + 1]) {
      const packed = await run(c.compress(), data, piece);
      assert.ok((await run(c.decompress(), packed, 777_777)).equals(data), `piece ${piece}`);
    }
    const small = TEXT_10M.subarray(0, 3000);
    assert.ok((await run(c.decompress(), await run(c.compress(), small, 1), 1)).equals(small));
  });
});

// ---------------------------------------------------------------------------------------------------------------
describe('lz4 frame format', () => {
  test('empty input is a complete frame: header, end mark, checksum of nothing', async () => {
    const c = await getCompressor('lz4');
    const out = await run(c.compress(), Buffer.alloc(0));
    assert.equal(out.length, 15);
    assert.equal(lz4Layout(out).checksum, 0x02cc5d05);
  });

  test('header 04 22 4D 18 64 70, 4 MiB blocks, raw blocks for random data, content checksum', async () => {
    const c = await getCompressor('lz4');
    const data = Buffer.concat([RANDOM_10M.subarray(0, 4 * MiB), TEXT_10M.subarray(0, 5 * MiB)]);
    const out = await run(c.compress(), data);
    const { blocks, checksum } = lz4Layout(out);
    assert.equal(blocks.length, 3);
    assert.deepEqual(blocks[0], { size: 4 * MiB, raw: true });
    assert.equal(blocks[1].raw, false);
    assert.equal(checksum, xxh32(data));
  });

  test('lent chunks are coded in place as blocks of their own, given back once compressed, kept when stored raw', async () => {
    const c = await getCompressor('lz4');
    // Through the pipeline contract (Compressor.lend), as backup-push's file reader lends its chunks.
    const lendToEncoder = c.lend;
    assert.ok(lendToEncoder, 'lz4 implements buffer lending');
    const released: number[] = [];
    const text = TEXT_10M.subarray(0, 3 * MiB);
    const rnd = RANDOM_10M.subarray(0, 2 * MiB);
    const pieces = [
      Buffer.from('tar header '.repeat(40)),
      lendToEncoder(Buffer.from(text), () => released.push(1)),
      Buffer.from('padding'),
      lendToEncoder(Buffer.from(rnd), () => released.push(2)),
      lendToEncoder(Buffer.from(text.subarray(0, 100)), () => released.push(3)), // too short to be a block of its own
    ];
    const data = Buffer.concat(pieces);
    const parts: Buffer[] = [];
    await pipeline(Readable.from(pieces), c.compress(), new Writable({ write(chunk: Buffer, _e, cb) { parts.push(chunk); cb(); } }));
    const out = Buffer.concat(parts);
    const { blocks, checksum } = lz4Layout(out);
    assert.deepEqual(blocks.map((b) => b.size === 2 * MiB && b.raw), [false, false, false, true, false], 'header | text | padding | raw random | tail');
    assert.equal(checksum, xxh32(data));
    assert.deepEqual(released, [1], 'only the compressed lent chunk is given back; the raw one went downstream');
    assert.ok((await run(c.decompress(), out)).equals(data));
  });
});

describe('zstd frame format', () => {
  test('one frame, content checksum on, window at most 8 MiB', async () => {
    for (const level of ['fastest', 'default', 'better', 'best']) {
      const c = await getCompressor('zstd', { zstdLevel: level });
      const data = MIXED_6M;
      const out = await run(c.compress(), data);
      assert.equal(out.readUInt32LE(0), 0xfd2fb528);
      const fhd = out[4];
      const single = (fhd >> 5) & 1;
      assert.equal((fhd >> 2) & 1, 1, 'checksum flag');
      assert.equal(fhd & 3, 0, 'no dictionary id');
      let pos = 5;
      if (!single) {
        const wd = out[pos++];
        const base = 2 ** (10 + (wd >> 3));
        assert.ok(base + (base / 8) * (wd & 7) <= 8 * MiB, `${level} window`);
      }
      pos += [single ? 1 : 0, 2, 4, 8][fhd >> 6];
      for (;;) {
        const h = out.readUIntLE(pos, 3);
        pos += 3;
        pos += ((h >> 1) & 3) === 1 ? 1 : h >>> 3;
        if (h & 1) break;
      }
      assert.equal(pos + 4, out.length, `${level}: a single frame then its checksum`);
      assert.ok((await run(c.decompress(), out)).equals(data));
    }
  });

  test('level names are case-insensitive; unknown names are a ConfigError', async () => {
    await getCompressor('zstd', { zstdLevel: 'BEST' });
    await assert.rejects(getCompressor('zstd', { zstdLevel: 'fast' }), ConfigError);
  });
});

describe('lzma format', () => {
  test('.lzma alone header: props 5D, dictionary 8 MiB, unknown size', async () => {
    const c = await getCompressor('lzma');
    const out = await run(c.compress(), Buffer.from('hello'));
    assert.equal(out.subarray(0, 13).toString('hex'), '5d00008000ffffffffffffffff');
  });
});

// ---------------------------------------------------------------------------------------------------------------

describe('corrupt and truncated input', () => {
  test('lz4: a flipped byte in the middle fails with CorruptObjectError', async () => {
    const c = await getCompressor('lz4');
    const packed = await run(c.compress(), TEXT_10M.subarray(0, 3 * MiB));
    for (const at of [packed.length >> 1, packed.length - 2, 6]) {
      const bad = Buffer.from(packed);
      bad[at] ^= 0x01;
      await assert.rejects(run(c.decompress(), bad), isCorrupt, `offset ${at}`);
    }
  });


  for (const method of ['zstd', 'brotli', 'lzma'] as const) {
    test(`${method}: a flipped byte in the middle fails with CorruptObjectError`, async () => {
      const c = await getCompressor(method);
      const packed = await run(c.compress(), TEXT_10M.subarray(0, 3 * MiB));
      const bad = Buffer.from(packed);
      bad[bad.length >> 1] ^= 0x01;
      const label = new RegExp(`^${method}: corrupt or truncated data`);
      await assert.rejects(run(c.decompress(), bad), (e) => isCorrupt(e) && label.test((e as Error).message));
    });
  }

  for (const method of ['lz4', 'lzma', 'zstd', 'brotli'] as const) {
    test(`${method}: truncated objects fail with CorruptObjectError`, async () => {
      const c = await getCompressor(method);
      const packed = await run(c.compress(), MIXED_6M.subarray(0, MiB));
      for (const cut of [0, 1, packed.length >> 1, packed.length - 1]) {
        await assert.rejects(run(c.decompress(), packed.subarray(0, cut)), isCorrupt, `cut at ${cut}`);
      }
    });
  }


  test('lz4, lzma, brotli and zstd: data after the end of the stream is rejected', async () => {
    for (const method of ['lz4', 'lzma', 'brotli', 'zstd'] as const) {
      const c = await getCompressor(method);
      const packed = Buffer.concat([await run(c.compress(), Buffer.from('payload')), Buffer.from('garbage!')]);
      await assert.rejects(run(c.decompress(), packed), isCorrupt, method);
    }
    // lzma feeds liblzma 64 KiB slices: the end marker falling exactly on a slice end must still see what follows.
    const c = await getCompressor('lzma');
    const packed = await run(c.compress(), RANDOM_10M.subarray(0, 200_000));
    const tail = Buffer.concat([packed.subarray(packed.length - 65536), Buffer.from('garbage')]);
    const source = Readable.from([packed.subarray(0, packed.length - 65536), tail]);
    await assert.rejects(pipeline(source, c.decompress(), new Writable({ write(_c, _e, cb) { cb(); } })), isCorrupt);
  });

  test('errors from outside the stream are not turned into CorruptObjectError', async () => {
    const c = await getCompressor('zstd');
    const boom = Object.assign(new Error('network down'), { code: 'ECONNRESET' });
    const source = new Readable({ read() { this.destroy(boom); } });
    await assert.rejects(pipeline(source, c.decompress(), new Writable({ write(_c, _e, cb) { cb(); } })), (e) => e === boom);
  });
});

// ---------------------------------------------------------------------------------------------------------------

describe('backpressure', () => {
  /** Writes an endless stream into `stream` with nobody reading; returns how many bytes it accepted. */
  async function acceptedWithoutReader(stream: Duplex, chunk: Buffer): Promise<number> {
    let written = 0;
    const source = new Readable({
      read() {
        written += chunk.length;
        this.push(chunk);
      },
    });
    source.pipe(stream);
    await new Promise((r) => setTimeout(r, 500));
    source.unpipe(stream);
    source.destroy();
    stream.destroy();
    return written;
  }

  test('lz4 encoder and decoder stop pulling input when the output is not read', async () => {
    const c = await getCompressor('lz4');
    const plain = await acceptedWithoutReader(c.compress(), TEXT_10M.subarray(0, MiB));
    assert.ok(plain <= 32 * MiB, `encoder accepted ${plain} bytes`);
    const frameStart = await run(c.compress(), TEXT_10M.subarray(0, 4 * MiB));
    const oneBlock = frameStart.subarray(7, frameStart.length - 8); // block header + block, repeated forever
    const header = frameStart.subarray(0, 7);
    const d = c.decompress();
    d.write(header);
    const packed = await acceptedWithoutReader(d, oneBlock);
    assert.ok(packed <= 20 * oneBlock.length, `decoder accepted ${packed / oneBlock.length} blocks`);
  });

  for (const method of ['zstd', 'brotli', 'lzma'] as const) {
    test(`${method}: encoder and decoder (a 256 MiB bomb) stop when the output is not read`, async () => {
      const c = await getCompressor(method);
      // Random input: its output is as large as the input, so the encoder must stop (a repeated text would only
      // show how fast the encoder turns it into almost nothing).
      const plain = await acceptedWithoutReader(c.compress(), RANDOM_10M.subarray(0, MiB));
      assert.ok(plain <= 64 * MiB, `encoder accepted ${plain} bytes`);
      const bomb = await run(c.compress(), Buffer.alloc(256 * MiB));
      const d = c.decompress();
      d.end(bomb);
      await new Promise((r) => setTimeout(r, 500));
      assert.ok(d.readableLength <= 4 * MiB, `decoder buffered ${d.readableLength} bytes`);
      d.destroy();
    });
  }
});

// ---------------------------------------------------------------------------------------------------------------

describe('compressor selection', () => {
  test('extensions, probe order and methods', async () => {
    assert.deepEqual([...KNOWN_EXTENSIONS], ['lz4', 'lzma', 'gz', 'br', 'zst']);
    const expect: Record<string, string> = { lz4: 'lz4', lzma: 'lzma', gz: 'gzip', br: 'brotli', zst: 'zstd', '': 'none', tar: 'none' };
    for (const [ext, method] of Object.entries(expect)) {
      const c: Compressor | undefined = await compressorForExtension(ext);
      assert.equal(c?.method, method, ext);
    }
    assert.equal(await compressorForExtension('lzo'), undefined);
    assert.equal(await compressorForExtension('json'), undefined);
    for (const [m, ext] of [['lz4', 'lz4'], ['lzma', 'lzma'], ['zstd', 'zst'], ['brotli', 'br'], ['none', '']] as const) {
      assert.equal((await getCompressor(m)).extension, ext);
    }
    await assert.rejects(getCompressor('gzip' as 'lz4'), ConfigError);
  });

  test('using lz4 does not load the lzma, zstd or brotli modules', () => {
    const index = join(fileURLToPath(new URL('.', import.meta.url)), '../../src/pipeline/compress/index.ts');
    // The child records every module URL it resolves (synchronous module hooks) and every CommonJS/native module.
    const script = `
      import { createRequire, registerHooks } from 'node:module';
      const seen = [];
      registerHooks({ resolve(spec, ctx, next) { const r = next(spec, ctx); seen.push(r.url); return r; } });
      const { getCompressor } = await import(${JSON.stringify(index)});
      const c = await getCompressor('lz4');
      const { pipeline } = await import('node:stream/promises');
      const { Readable, PassThrough } = await import('node:stream');
      const sink = new PassThrough(); sink.resume();
      await pipeline(Readable.from([Buffer.from('x'.repeat(1000))]), c.compress(), sink);
      const loaded = [...seen, ...Object.keys(createRequire(import.meta.url).cache)];
      console.log(JSON.stringify(loaded.filter((k) => /lzma|zstd|brotli|lz4/.test(k))));
    `;
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
    const loaded: string[] = JSON.parse(out.trim());
    assert.ok(loaded.some((k) => k.endsWith('/lz4.ts')), 'lz4.ts was loaded');
    assert.deepEqual(loaded.filter((k) => /lzma|zstd|brotli/.test(k)), []);
  });
});
describe('lz4 decoder memory', () => {
  test('a slow reader holds the decoder to one block out, however many blocks one input chunk holds', async () => {
    const c = await getCompressor('lz4');
    // 48 all-zero 4 MiB blocks compress to about 16 KiB each: the whole frame is one input chunk of under 1 MiB.
    const frame = await run(c!.compress(), Buffer.alloc(48 * LZ4_BLOCK_SIZE), 0);
    assert.ok(frame.length < 1 << 20);
    const d = c!.decompress();
    let maxBuffered = 0;
    let total = 0;
    const reader = (async () => {
      for await (const chunk of d) {
        total += (chunk as Buffer).length;
        maxBuffered = Math.max(maxBuffered, d.readableLength);
        await new Promise((r) => setTimeout(r, 2));
      }
    })();
    d.end(frame);
    await reader;
    assert.equal(total, 48 * LZ4_BLOCK_SIZE);
    assert.ok(maxBuffered <= LZ4_BLOCK_SIZE, `decoder buffered ${maxBuffered} bytes for a slow reader`);
  });
});
