// Fake WAL segments for the wal-push / wal-fetch tests (test/unit/wal-push-fetch.test.ts,
// test/integration/wal-push-fetch-cli.test.ts).

/** A fake WAL segment of `size` bytes (1 MiB by default): page magic 0xD110 (PG 15) up front, then compressible
 * pseudo-random content. */
export function segment(seed: number, size = 1024 * 1024): Buffer {
  const b = Buffer.alloc(size);
  let x = seed * 2654435761 >>> 0;
  for (let i = 0; i < size; i += 64) {
    x = (x * 1103515245 + 12345) >>> 0;
    b.writeUInt32LE(x, i);
  }
  b.writeUInt16LE(0xd110, 0);
  b.writeUInt16LE(0x0002, 2);
  return b;
}
