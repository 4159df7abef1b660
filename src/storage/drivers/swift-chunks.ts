// ChunkReader: splits an upload body at exact byte counts for the Swift driver's segmented uploads.

/**
 * Pulls chunks from an async source with a small look-ahead buffer, so a body can be split at exact byte
 * counts (segment boundaries) and peeked at (is there more?) without losing data.
 */
export class ChunkReader {
  private readonly it: AsyncIterator<Buffer | string>;
  private queue: Buffer[] = [];
  private queued = 0;
  private done = false;

  constructor(source: AsyncIterable<Buffer | string>) {
    this.it = source[Symbol.asyncIterator]();
  }

  /** Buffers until at least `n` bytes are queued or the source ends; returns the bytes queued. */
  async fill(n: number): Promise<number> {
    while (this.queued < n && !this.done) {
      const r = await this.it.next();
      if (r.done) { this.done = true; break; }
      const b = typeof r.value === 'string' ? Buffer.from(r.value) : r.value;
      if (b.length > 0) { this.queue.push(b); this.queued += b.length; }
    }
    return this.queued;
  }

  /** Everything queued, as one Buffer. */
  takeAll(): Buffer {
    const all = Buffer.concat(this.queue, this.queued);
    this.queue = [];
    this.queued = 0;
    return all;
  }

  /** The next chunk of at most `max` bytes, or undefined at the end of the source (or when max is 0). */
  async next(max: number): Promise<Buffer | undefined> {
    if (max <= 0) return undefined;
    if (this.queued === 0 && (await this.fill(1)) === 0) return undefined;
    const head = this.queue[0]!;
    if (head.length <= max) {
      this.queue.shift();
      this.queued -= head.length;
      return head;
    }
    this.queue[0] = head.subarray(max);
    this.queued -= max;
    return head.subarray(0, max);
  }
}
