// Unit tests: stream upload and download on memory storage — single stream, split into partitions (with and
// without a max file size), the stream_metadata.json written, and the merge restoring the exact bytes.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { MemoryStorage } from '../../src/storage/drivers/memory.ts';
import { getCompressor } from '../../src/pipeline/compress/index.ts';
import { openBackupStream, uploadStream } from '../../src/backup/stream.ts';
import { readAll } from '../../src/storage/body.ts';

async function roundTrip(size: number, split: { partitions: number; blockSize: number; maxFileSize: number }) {
  const storage = new MemoryStorage();
  const data = randomBytes(size);
  const compressor = await getCompressor('lz4');
  const up = await uploadStream(Readable.from([data.subarray(0, 1000), data.subarray(1000)]), { storage, pipeline: { compressor }, backup: 'stream_20240101T000000Z', split });
  const back = await readAll(await openBackupStream(storage, undefined, 'stream_20240101T000000Z'));
  assert.ok(back.equals(data), 'the same bytes come back');
  assert.equal(up.uncompressedSize, size);
  return { storage, up };
}

describe('mysql stream objects', () => {
  it('single stream: <backup>/stream.lz4', async () => {
    const { up } = await roundTrip(200_000, { partitions: 0, blockSize: 1 << 20, maxFileSize: 0 });
    assert.deepEqual(up.keys, ['basebackups_005/stream_20240101T000000Z/stream.lz4']);
  });

  it('partitions: part_NNNN.lz4 and stream_metadata.json', async () => {
    const { storage, up } = await roundTrip(100_001, { partitions: 3, blockSize: 10_000, maxFileSize: 0 });
    assert.deepEqual(up.keys.map((k) => k.split('/').at(-1)), ['part_0000.lz4', 'part_0001.lz4', 'part_0002.lz4', 'stream_metadata.json']);
    const meta = (await readAll(await storage.get('basebackups_005/stream_20240101T000000Z/stream_metadata.json'))).toString();
    assert.equal(meta, '{"type":"SPLIT_MERGE_STREAM_BACKUP","partitions":3,"block_size":10000,"compression":"lz4"}');
  });

  it('partitions with a max file size: part_NNNN_MMMM.lz4, no empty trailing file', async () => {
    const { up } = await roundTrip(120_000, { partitions: 2, blockSize: 10_000, maxFileSize: 30_000 });
    // 12 blocks dealt to 2 partitions: 60 000 bytes each, i.e. two files of 30 000.
    assert.deepEqual(up.keys.map((k) => k.split('/').at(-1)).sort(), ['part_0000_0000.lz4', 'part_0000_0001.lz4', 'part_0001_0000.lz4', 'part_0001_0001.lz4', 'stream_metadata.json']);
  });

  it('empty and tiny streams', async () => {
    await roundTrip(0, { partitions: 0, blockSize: 1 << 20, maxFileSize: 0 });
    await roundTrip(5, { partitions: 4, blockSize: 10, maxFileSize: 0 });
    await roundTrip(5, { partitions: 1, blockSize: 10, maxFileSize: 3 });
  });
});
