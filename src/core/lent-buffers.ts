// Output buffers a stream stage lends to the stages after it (the lz4 decoder's 4 MiB blocks, read by the tar reader
// and written out by the extractor), given back to the stage once the last reader is done with their bytes. Without
// it, every decoded block becomes garbage once written, and V8 frees such external memory only at its next
// mark-sweep: tens of MB of written-out blocks in the peak RSS of a restore. Readers that never report simply leave
// the buffer to the garbage collector, as before: lending is an optimisation that can only be missed, never misused,
// as long as each byte is reported at most once.

/** One lent buffer: bytes and holds still out, and the producer's callback. */
interface Lease {
  bytes: number;
  holds: number;
  giveBack: () => void;
}

// Keyed by the memory, not the Buffer object: downstream stages slice their own views (subarray) of it.
const leases = new WeakMap<ArrayBufferLike, Lease>();

function settle(memory: ArrayBufferLike, lease: Lease): void {
  if (lease.bytes > 0 || lease.holds > 0) return;
  leases.delete(memory);
  lease.giveBack();
}

/**
 * Lends the memory of `buf` downstream as `bytes` bytes of output, while its producer keeps `holds` holds of its own
 * (released with releaseHold, e.g. a checksum still reading it). `buf` must own its ArrayBuffer alone
 * (Buffer.allocUnsafeSlow), and must not be lent again before `giveBack` ran. `giveBack` runs once, when readers
 * have reported all `bytes` bytes with doneWith and every hold is released; after that the producer may reuse it.
 */
export function lendDownstream(buf: Buffer, bytes: number, holds: number, giveBack: () => void): void {
  if (bytes === 0 && holds === 0) {
    giveBack();
    return;
  }
  leases.set(buf.buffer, { bytes, holds, giveBack });
}

/**
 * Reports that the reader no longer references `chunk` (any view of lent memory; other buffers are ignored).
 * Each byte a reader got must be reported at most once, and only when no write, hash or copy still reads it.
 */
export function doneWith(chunk: Uint8Array): void {
  const lease = leases.get(chunk.buffer);
  if (lease === undefined || chunk.byteLength === 0) return;
  lease.bytes -= chunk.byteLength;
  settle(chunk.buffer, lease);
}

/** Releases one of the producer's own holds on `buf`'s memory (see lendDownstream). */
export function releaseHold(buf: Uint8Array): void {
  const lease = leases.get(buf.buffer);
  if (lease === undefined) return;
  lease.holds--;
  settle(buf.buffer, lease);
}
