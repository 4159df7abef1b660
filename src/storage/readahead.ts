// Read-ahead of an upload body, shared by the GCS and Azure drivers: a body that ends within one request's worth
// of bytes is sent as one simple (atomic) request; a longer one continues, with nothing lost, as a streamed upload.

import { Readable } from 'node:stream';

/** The first bytes of a body, and either "that was all" or a stream of the same bytes followed by the rest. */
export type ReadAhead =
  | { ended: true; data: Buffer }
  | { ended: false; stream: Readable };

/**
 * Reads `source` until more than `limit` bytes arrived or it ended. An error of the source (or `signal` firing)
 * rejects and destroys the source. When it did not end, the returned stream yields the bytes already read and
 * then the rest of the source; destroying it destroys the source.
 */
export async function readAhead(source: Readable, limit: number, signal?: AbortSignal): Promise<ReadAhead> {
  const it = (source as AsyncIterable<Buffer | string>)[Symbol.asyncIterator]();
  const head: Buffer[] = [];
  let len = 0;
  try {
    while (len <= limit) {
      const r = signal ? await untilAborted(it.next(), signal) : await it.next();
      if (r.done) return { ended: true, data: Buffer.concat(head, len) };
      const b = typeof r.value === 'string' ? Buffer.from(r.value) : r.value;
      head.push(b);
      len += b.length;
    }
  } catch (e) {
    source.destroy();
    throw e;
  }
  const stream = Readable.from((async function* () {
    yield* head;
    head.length = 0; // let the read-ahead buffers go once sent
    for (;;) {
      const r = await it.next();
      if (r.done) return;
      yield typeof r.value === 'string' ? Buffer.from(r.value) : r.value;
    }
  })(), { objectMode: false });
  // Whoever gives up on the combined stream gives up on the source too.
  stream.once('close', () => { if (!source.destroyed && !source.readableEnded) source.destroy(); });
  return { ended: false, stream };
}

/** `p`, or a rejection with the signal's reason as soon as it fires (a source may stall for a long time). */
function untilAborted<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}
