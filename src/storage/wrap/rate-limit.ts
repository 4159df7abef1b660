// WALG_NETWORK_RATE_LIMIT as a storage wrapper (compat: WAL-G limits the readers it hands to and gets from its
// folder with one process-wide network limiter). Wraps any Storage so that the bytes get() returns and the bytes
// put() sends pass a token bucket first; every other call goes straight through. registry.ts applies it to every
// storage it opens unless the run is --turbo, so wal-push, wal-fetch, MySQL and st all honour the limit.

import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { CancelledError } from '../../core/errors.ts';
import { RateLimiter, limitTransform } from '../../core/rate-limit.ts';
import type { ByteLimiter } from '../../core/rate-limit.ts';
import type { Body, GetOptions, PutOptions, Storage } from '../types.ts';

// One bucket per configured rate for the whole process, so that several storages (failovers, copy's two sides)
// share the limit as WAL-G's single NetworkLimiter does.
const shared = new Map<number, RateLimiter>();

/**
 * The process-wide limiter for WALG_NETWORK_RATE_LIMIT = `bytesPerSecond`, or undefined when the value is unset or
 * not positive (0 means "no limit", as in WAL-G). The same rate always returns the same bucket.
 */
export function networkLimiter(bytesPerSecond: number | undefined): RateLimiter | undefined {
  if (bytesPerSecond === undefined || !(bytesPerSecond > 0)) return undefined;
  let l = shared.get(bytesPerSecond);
  if (!l) {
    l = new RateLimiter(bytesPerSecond);
    shared.set(bytesPerSecond, l);
  }
  return l;
}

/** `p`, or a CancelledError as soon as `signal` fires (a long wait for tokens must not delay cancellation). */
function untilAborted(p: Promise<void>, signal: AbortSignal | undefined): Promise<void> {
  if (!signal) return p;
  if (signal.aborted) return Promise.reject(new CancelledError('storage operation cancelled'));
  return new Promise<void>((resolve, reject) => {
    const onAbort = () => reject(new CancelledError('storage operation cancelled'));
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

/**
 * `source` seen through the limiter: the same bytes in the same order, each chunk held until `limiter` lets its
 * length pass. An error of the source reaches the reader; destroying the result destroys the source.
 */
function limitedStream(source: Readable, limiter: ByteLimiter): Readable {
  const out = limitTransform(limiter);
  // pipeline() carries errors and early destruction both ways; its own promise has nothing more to say.
  pipeline(source, out).catch(() => {});
  return out;
}

/**
 * Returns `storage` with get() and put() bytes limited by `limiter`. Contract:
 * - get(): the returned stream yields the object's bytes unchanged, each chunk after `limiter.take(chunk.length)`.
 * - put(): a Readable or factory body is streamed through the limiter (a factory stays a factory, so retries can
 *   still re-send it); a Buffer body is passed on as the same Buffer once `limiter.take(length)` resolved, so
 *   drivers keep their single-request path for it. An abort while waiting rejects with CancelledError.
 * - stat, exists, list, delete and close are passed through untouched.
 */
export function withRateLimit(storage: Storage, limiter: ByteLimiter): Storage {
  return {
    name: storage.name,
    type: storage.type,
    async put(key: string, body: Body, opts?: PutOptions): Promise<void> {
      if (Buffer.isBuffer(body)) {
        await untilAborted(limiter.take(body.length), opts?.signal);
        return storage.put(key, body, opts);
      }
      if (typeof body === 'function') return storage.put(key, () => limitedStream(body(), limiter), opts);
      return storage.put(key, limitedStream(body, limiter), opts);
    },
    async get(key: string, opts?: GetOptions): Promise<Readable> {
      return limitedStream(await storage.get(key, opts), limiter);
    },
    stat: (key, opts) => storage.stat(key, opts),
    exists: (key, opts) => storage.exists(key, opts),
    list: (prefix, opts) => storage.list(prefix, opts),
    delete: (keys, opts) => storage.delete(keys, opts),
    close: () => storage.close(),
  };
}
