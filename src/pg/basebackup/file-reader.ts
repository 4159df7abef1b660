// backup-push's file reader: a file's bytes as read-ahead chunks (4 MiB reads kept in flight on the thread pool),
// lent to the compressor when it supports buffer lending (src/pipeline/types.ts LendBuffer), paced by
// WALG_DISK_RATE_LIMIT, and optionally passed through the page-checksum verifier.

import type { FileHandle } from 'node:fs/promises';
import type { ByteLimiter } from '../../core/rate-limit.ts';
import type { LendBuffer } from '../../pipeline/types.ts';
import { PAGE_SIZE } from '../pagefile.ts';
import type { PageVerifier } from '../pagefile.ts';

const READ_CHUNK = 4 << 20;
/** Read buffers given back by the compressor, for reuse; at most READ_BUFFERS_KEPT are kept. */
const readBuffers: Buffer[] = [];
const READ_BUFFERS_KEPT = 8;
/** Reads at least this long use (and lend) a pooled READ_CHUNK buffer. */
const LEND_FROM = 1 << 20;
/** Reads kept in flight ahead of the consumer (memory: this many chunks plus the one being consumed). */
const READ_AHEAD = 2;

/**
 * Reads up to `size` bytes of an open file (fewer if it shrank; the tar writer zero-pads). READ_AHEAD reads are
 * kept in flight ahead of the consumer, so thread-pool reads overlap with framing and compression; memory is
 * bounded by READ_AHEAD + 1 chunks. Each chunk passes `limiter` before it is yielded. With `lend`, big chunks are
 * lent to the compressor and their buffers reused once given back; without it they are never reused. What it
 * yields is always a prefix of the file's bytes, never a gap followed by later bytes.
 */
export async function* fileChunks(fh: FileHandle, size: number, limiter?: ByteLimiter, lend?: LendBuffer): AsyncGenerator<Buffer> {
  let issued = 0; // bytes asked for so far
  const readAt = (at: number) => {
    const n = Math.min(size - at, READ_CHUNK);
    if (n < LEND_FROM) {
      // Small files and tails: a buffer of their own size, copied into a block by the encoder.
      const buf = Buffer.allocUnsafe(n);
      return fh.read(buf, 0, n, at).then(({ bytesRead }) => (bytesRead === n ? buf : buf.subarray(0, bytesRead)));
    }
    const base = readBuffers.pop() ?? Buffer.allocUnsafeSlow(READ_CHUNK);
    return fh.read(base, 0, n, at).then(({ bytesRead }) => {
      // Lent to the encoder (lz4), which codes it in place and gives it back for the next read: no copy, and no
      // gigabytes of fresh buffers for the GC. Any other consumer simply keeps it (it is not reused then).
      const chunk = base.subarray(0, bytesRead);
      return lend ? lend(chunk, () => { if (readBuffers.length < READ_BUFFERS_KEPT) readBuffers.push(base); }) : chunk;
    });
  };
  const ahead: Array<{ read: Promise<Buffer>; want: number }> = [];
  const fill = () => {
    while (ahead.length < READ_AHEAD && issued < size) {
      const want = Math.min(size - issued, READ_CHUNK);
      const read = readAt(issued);
      read.catch(() => {}); // awaited in order below; a consumer that stops early must not leave it unhandled
      ahead.push({ read, want });
      issued += want;
    }
  };
  try {
    fill();
    while (ahead.length > 0) {
      const { read, want } = ahead.shift()!;
      const buf = await read;
      if (buf.length === 0) return;
      if (buf.length < want) {
        // The file shrank while we read it: stop here, so that bytes of later offsets (reads already issued) never
        // follow a gap. The tar writer zero-pads to the size in the header; WAL replay repairs the file.
        if (limiter) await limiter.take(buf.length);
        yield buf;
        return;
      }
      fill();
      if (limiter) await limiter.take(buf.length);
      yield buf;
    }
  } finally {
    // The file handle is closed by the caller once we return: let pending reads finish first.
    await Promise.allSettled(ahead.map((a) => a.read));
  }
}

/**
 * Wraps a full-file chunk stream so every whole page also goes through `verifier` (chunks start page-aligned: they
 * are READ_CHUNK-sized, a multiple of the page size, except the last).
 */
export async function* verifiedChunks(chunks: AsyncIterable<Buffer>, verifier: PageVerifier): AsyncGenerator<Buffer> {
  let block = 0;
  for await (const c of chunks) {
    for (let off = 0; off + PAGE_SIZE <= c.length; off += PAGE_SIZE) verifier.page(c, block++, off);
    yield c;
  }
}
