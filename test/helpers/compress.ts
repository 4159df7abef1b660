// Shared helpers of the codec tests (test/unit/compress.test.ts and test/integration/compress-cli.test.ts): feeding
// a stream, running a reference CLI, generated test data and a walker for our LZ4 frame layout.

import assert from 'node:assert/strict';
import { Readable, Writable, type Duplex } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { randomBytes } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { CorruptObjectError } from '../../src/core/errors.ts';
import { xxh32 } from '../../src/pipeline/compress/lz4-frame.ts';

export const MiB = 1024 * 1024;

/** Feeds `input` through `stream` in pieces of `piece` bytes (0 = one piece) and collects the output. */
export async function run(stream: Duplex, input: Buffer, piece = 64 * 1024): Promise<Buffer> {
  const parts: Buffer[] = [];
  function* source(): Generator<Buffer> {
    if (piece <= 0) { if (input.length) yield input; return; }
    for (let i = 0; i < input.length; i += piece) yield input.subarray(i, i + piece);
  }
  await pipeline(Readable.from(source()), stream, new Writable({
    write(chunk: Buffer, _e, cb) { parts.push(chunk); cb(); },
  }));
  return Buffer.concat(parts);
}

/** Runs a CLI with `input` on stdin and returns stdout; fails the test on a non-zero exit. */
export function cli(cmd: string, args: string[], input: Buffer): Buffer {
  const r = spawnSync(cmd, args, { input, maxBuffer: 1 << 30 });
  if (r.error) throw r.error;
  assert.equal(r.status, 0, `${cmd} ${args.join(' ')} failed: ${r.stderr?.toString()}`);
  return r.stdout;
}

/** True for the error a codec must raise on damaged input. */
export function isCorrupt(err: unknown): boolean {
  return err instanceof CorruptObjectError;
}

/** Text-like data with repetition (compresses well but not trivially). */
export function compressible(size: number): Buffer {
  const words = ['tuple', 'page', 'heap', 'xlog', 'vacuum', 'index', 'insert', 'checkpoint', 'relation', 'buffer'];
  const parts: string[] = [];
  let len = 0;
  for (let i = 0; len < size; i++) {
    const line = `${i}\t${words[i % 10]} ${words[(i * 7) % 10]} ${(i * 2654435761) % 1000}\n`;
    parts.push(line);
    len += line.length;
  }
  return Buffer.from(parts.join('')).subarray(0, size);
}

/** Half random, half compressible, interleaved in 256 KiB pieces so both block kinds occur. */
export function mixed(size: number): Buffer {
  const out = Buffer.alloc(size);
  const text = compressible(size);
  const rnd = randomBytes(size);
  for (let i = 0; i < size; i += 256 * 1024) {
    ((i / (256 * 1024)) % 2 === 0 ? text : rnd).copy(out, i, i, Math.min(size, i + 256 * 1024));
  }
  return out;
}

/** Walks our LZ4 output: one frame header, blocks, one end mark, checksum, nothing after. */
export function lz4Layout(buf: Buffer): { blocks: Array<{ size: number; raw: boolean }>; checksum: number } {
  assert.deepEqual([...buf.subarray(0, 6)], [0x04, 0x22, 0x4d, 0x18, 0x64, 0x70]);
  assert.equal(buf[6], (xxh32(buf.subarray(4, 6)) >>> 8) & 0xff, 'header checksum');
  let pos = 7;
  const blocks: Array<{ size: number; raw: boolean }> = [];
  for (;;) {
    const word = buf.readUInt32LE(pos);
    pos += 4;
    if (word === 0) break;
    const size = word & 0x7fffffff;
    assert.ok(size <= 4 * MiB);
    blocks.push({ size, raw: word >>> 31 === 1 });
    pos += size;
  }
  assert.equal(pos + 4, buf.length, 'exactly one end mark, then only the content checksum');
  return { blocks, checksum: buf.readUInt32LE(pos) };
}
