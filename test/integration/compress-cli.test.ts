// Interoperability of src/pipeline/compress with the reference CLIs (Debian packages: lz4, xz-utils, zstd, brotli,
// gzip): our output decoded by them, theirs decoded by ours, and damaged CLI output. The pure codec tests are in
// test/unit/compress.test.ts.

import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { randomBytes } from 'node:crypto';
import { getCompressor, compressorForExtension } from '../../src/pipeline/compress/index.ts';
import { lendToEncoder } from '../../src/pipeline/compress/lz4.ts';
import { LZ4_BLOCK_SIZE } from '../../src/pipeline/compress/lz4-frame.ts';
import { LZMA_XZ_OPTIONS } from '../../src/pipeline/compress/lzma.ts';
import { MiB, run, cli, isCorrupt, compressible, mixed, lz4Layout } from '../helpers/compress.ts';

const RANDOM_10M = randomBytes(10 * MiB);
const TEXT_10M = compressible(10 * MiB);
const MIXED_6M = mixed(6 * MiB);

describe('lz4 frame format', () => {
  test('the lz4 CLI reads blocks of varying size (lent chunks coded as blocks of their own)', async () => {
    const c = await getCompressor('lz4');
    const text = TEXT_10M.subarray(0, 3 * MiB);
    const rnd = RANDOM_10M.subarray(0, 2 * MiB);
    const pieces = [
      Buffer.from('tar header '.repeat(40)),
      lendToEncoder(Buffer.from(text), () => {}),
      Buffer.from('padding'),
      lendToEncoder(Buffer.from(rnd), () => {}),
      lendToEncoder(Buffer.from(text.subarray(0, 100)), () => {}),
    ];
    const data = Buffer.concat(pieces);
    const parts: Buffer[] = [];
    await pipeline(Readable.from(pieces), c.compress(), new Writable({ write(chunk: Buffer, _e, cb) { parts.push(chunk); cb(); } }));
    const out = Buffer.concat(parts);
    assert.ok(cli('lz4', ['-d', '-c'], out).equals(data), 'the lz4 CLI reads blocks of varying size');
  });
});


// ---------------------------------------------------------------------------------------------------------------

describe('interop: our output decoded by the CLIs', () => {
  const cases: Array<[string, string, string[]]> = [
    ['lz4', 'lz4', ['-d', '-c']],
    ['lzma', 'xz', ['--format=lzma', '-d', '-c']],
    ['zstd', 'zstd', ['-d', '-c']],
    ['brotli', 'brotli', ['-d', '-c']],
  ];
  for (const [method, cmd, args] of cases) {
    test(`${cmd} ${args.join(' ')}`, async () => {
      const c = await getCompressor(method as 'lz4');
      for (const data of [Buffer.alloc(0), MIXED_6M]) {
        const packed = await run(c.compress(), data);
        assert.ok(cli(cmd, args, packed).equals(data), `${method} ${data.length} bytes`);
      }
    });
  }

  test('zstd -d reads every level', async () => {
    for (const level of ['fastest', 'better', 'best']) {
      const c = await getCompressor('zstd', { zstdLevel: level });
      assert.ok(cli('zstd', ['-d', '-c'], await run(c.compress(), MIXED_6M)).equals(MIXED_6M));
    }
  });

  test('our lzma settings are exactly the documented xz command line', async () => {
    const c = await getCompressor('lzma');
    const data = MIXED_6M.subarray(0, 512 * 1024);
    const ours = await run(c.compress(), data);
    const theirs = cli('xz', ['--format=lzma', LZMA_XZ_OPTIONS, '-c'], data);
    assert.ok(ours.equals(theirs));
  });
});

describe('interop: CLI output decoded by ours', () => {
  const lz4Variants: string[][] = [
    [],
    ['-BD'],
    ['-B4', '-BD'],
    ['--content-size'],
    ['-BX'],
    ['-B4', '-BX', '--content-size'],
    ['-B5', '--no-frame-crc'],
    ['-9'],
  ];
  for (const flags of lz4Variants) {
    test(`lz4 ${flags.join(' ') || '(defaults)'}`, async () => {
      const c = await getCompressor('lz4');
      const packed = cli('lz4', [...flags, '-c'], MIXED_6M);
      assert.ok((await run(c.decompress(), packed)).equals(MIXED_6M));
    });
  }

  test('lz4: objects over 16 MiB (blocks coded on the thread pool), incl. linked 64 KiB blocks', async () => {
    const c = await getCompressor('lz4');
    const data = Buffer.concat([MIXED_6M, TEXT_10M, RANDOM_10M, TEXT_10M, MIXED_6M]);
    const ours = await run(c.compress(), data, 1024 * 1024);
    assert.equal(lz4Layout(ours).blocks.length, Math.ceil(data.length / LZ4_BLOCK_SIZE));
    assert.ok(cli('lz4', ['-d', '-c'], ours).equals(data), 'lz4 -d reads our big frame');
    assert.ok((await run(c.decompress(), ours, 1024 * 1024)).equals(data), 'we read our big frame');
    const bad = Buffer.from(ours);
    bad[bad.length - 5 * MiB] ^= 0x40;
    await assert.rejects(run(c.decompress(), bad, 1024 * 1024), isCorrupt, 'corruption found by a worker or the checksum');
    for (const flags of [['-B4', '-BD', '-BX'], ['--content-size']]) {
      const theirs = cli('lz4', [...flags, '-c'], data);
      assert.ok((await run(c.decompress(), theirs, 1024 * 1024)).equals(data), flags.join(' '));
    }
  });

  test('lz4: byte-at-a-time input with block checksums, linked blocks and content size', async () => {
    const c = await getCompressor('lz4');
    const data = Buffer.concat([TEXT_10M.subarray(0, 150_000), RANDOM_10M.subarray(0, 70_000)]);
    const packed = cli('lz4', ['-B4', '-BD', '-BX', '--content-size', '-c'], data);
    assert.ok((await run(c.decompress(), packed, 1)).equals(data));
  });

  test('lz4: concatenated frames and skippable frames', async () => {
    const c = await getCompressor('lz4');
    const a = TEXT_10M.subarray(0, 100_000);
    const b = RANDOM_10M.subarray(0, 100_000);
    const skippable = Buffer.alloc(8 + 5);
    skippable.writeUInt32LE(0x184d2a53, 0);
    skippable.writeUInt32LE(5, 4);
    const packed = Buffer.concat([skippable, cli('lz4', ['-c'], a), await run(c.compress(), b), skippable]);
    assert.ok((await run(c.decompress(), packed, 4099)).equals(Buffer.concat([a, b])));
  });

  test('xz --format=lzma (default preset)', async () => {
    const c = await getCompressor('lzma');
    const data = MIXED_6M.subarray(0, 2 * MiB);
    assert.ok((await run(c.decompress(), cli('xz', ['--format=lzma', '-c'], data))).equals(data));
  });

  test('zstd (single and concatenated frames)', async () => {
    const c = await getCompressor('zstd');
    const one = cli('zstd', ['-q', '-c'], MIXED_6M);
    assert.ok((await run(c.decompress(), one)).equals(MIXED_6M));
    const two = Buffer.concat([one, cli('zstd', ['-q', '-19', '-c'], TEXT_10M.subarray(0, MiB))]);
    assert.ok((await run(c.decompress(), two)).equals(Buffer.concat([MIXED_6M, TEXT_10M.subarray(0, MiB)])));
  });

  test('brotli', async () => {
    const c = await getCompressor('brotli');
    assert.ok((await run(c.decompress(), cli('brotli', ['-q', '6', '-c'], MIXED_6M))).equals(MIXED_6M));
  });

  test('gzip (WAL-E objects, read only), including concatenated members', async () => {
    const c = (await compressorForExtension('gz'))!;
    assert.equal(c.method, 'gzip');
    const data = MIXED_6M;
    const packed = Buffer.concat([cli('gzip', ['-c'], data), cli('gzip', ['-c'], data)]);
    assert.ok((await run(c.decompress(), packed)).equals(Buffer.concat([data, data])));
    assert.throws(() => c.compress());
  });
});

describe('corrupt and truncated CLI output', () => {
  test('lz4: a corrupted block with block checksums fails with CorruptObjectError', async () => {
    const c = await getCompressor('lz4');
    const packed = cli('lz4', ['-BX', '-c'], TEXT_10M.subarray(0, MiB));
    packed[packed.length >> 1] ^= 0x80;
    await assert.rejects(run(c.decompress(), packed), (e) => isCorrupt(e) && /checksum|corrupt/.test((e as Error).message));
  });

  test('gzip: truncated objects fail with CorruptObjectError', async () => {
    const c = (await compressorForExtension('gz'))!;
    const packed = cli('gzip', ['-c'], MIXED_6M.subarray(0, MiB));
    await assert.rejects(run(c.decompress(), packed.subarray(0, packed.length >> 1)), isCorrupt);
  });
});
