// A Storage wrapper that retries transient failures with exponential backoff and full jitter.
// It retries only what is safe to repeat: reads, deletes, listings before their first entry,
// and puts whose body can be produced again (Buffer, factory, or a Readable nobody has read yet).

import { Readable } from 'node:stream';
import { CancelledError, StorageError } from '../../core/errors.ts';
import { log } from '../../core/log.ts';
import type { Body, GetOptions, ListEntry, ListOptions, ObjectInfo, PutOptions, Storage } from '../types.ts';

export interface RetryOptions {
  /** Retries after the first attempt (default 3). 0 disables retrying. */
  maxRetries?: number;
  /** First backoff delay (default 100 ms); doubles per attempt, with full jitter. */
  baseDelayMs?: number;
  /** Cap of one backoff delay (default 10 s). */
  maxDelayMs?: number;
}

// Low-level socket errors that mean "the connection broke", whatever layer let them through unmapped.
const NETWORK_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'ECONNABORTED', 'ETIMEDOUT', 'EPIPE', 'EAI_AGAIN', 'UND_ERR_SOCKET', 'UND_ERR_CONNECT_TIMEOUT']);

/** True for errors a retry may cure: StorageError marked transient, or a raw network reset. */
export function isTransient(err: unknown): boolean {
  if (err instanceof StorageError) return err.transient;
  if (err instanceof CancelledError) return false;
  for (let e: unknown = err, depth = 0; e && depth < 4; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && NETWORK_CODES.has(code)) return true;
  }
  return false;
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) { reject(new CancelledError('storage operation cancelled')); return; }
    const onAbort = () => { clearTimeout(t); reject(new CancelledError('storage operation cancelled')); };
    const t = setTimeout(() => { signal?.removeEventListener('abort', onAbort); resolve(); }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** A body that a failed attempt has not consumed can be sent again; a Readable only if nothing read it. */
function canResend(body: Body): boolean {
  if (Buffer.isBuffer(body) || typeof body === 'function') return true;
  const r = body as Readable;
  return !r.readableDidRead && !r.destroyed && !r.readableEnded;
}

class RetryingStorage implements Storage {
  readonly name: string;
  readonly type: string;
  private readonly inner: Storage;
  private readonly maxRetries: number;
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;

  constructor(inner: Storage, opts: RetryOptions) {
    this.inner = inner;
    this.name = inner.name;
    this.type = inner.type;
    this.maxRetries = Math.max(0, opts.maxRetries ?? 3);
    this.baseDelayMs = Math.max(0, opts.baseDelayMs ?? 100);
    this.maxDelayMs = Math.max(this.baseDelayMs, opts.maxDelayMs ?? 10_000);
  }

  private delay(attempt: number): number {
    // Full jitter: spreads simultaneous retries of many parallel uploads instead of synchronising them.
    const cap = Math.min(this.maxDelayMs, this.baseDelayMs * 2 ** attempt);
    return Math.floor(Math.random() * cap);
  }

  /** Runs fn until it succeeds, fails permanently, retries run out, or the signal aborts. */
  private async retry<T>(what: string, fn: () => Promise<T>, signal?: AbortSignal, mayRetry: () => boolean = () => true): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await fn();
      } catch (e) {
        if (signal?.aborted || attempt >= this.maxRetries || !isTransient(e) || !mayRetry()) throw e;
        const ms = this.delay(attempt);
        log.debug(`storage ${this.name}: ${what} failed (${(e as Error).message}), retry ${attempt + 1}/${this.maxRetries} in ${ms} ms`);
        await sleep(ms, signal);
      }
    }
  }

  put(key: string, body: Body, opts?: PutOptions): Promise<void> {
    return this.retry(`put ${key}`, () => this.inner.put(key, body, opts), opts?.signal, () => canResend(body));
  }

  get(key: string, opts?: GetOptions): Promise<Readable> {
    return this.retry(`get ${key}`, () => this.inner.get(key, opts), opts?.signal);
  }

  stat(key: string, opts?: { signal?: AbortSignal }): Promise<ObjectInfo> {
    return this.retry(`stat ${key}`, () => this.inner.stat(key, opts), opts?.signal);
  }

  exists(key: string, opts?: { signal?: AbortSignal }): Promise<boolean> {
    return this.retry(`exists ${key}`, () => this.inner.exists(key, opts), opts?.signal);
  }

  async *list(prefix: string, opts?: ListOptions): AsyncIterable<ListEntry> {
    // Once an entry went out the caller may have acted on it; restarting would repeat entries, so only a
    // listing that has yielded nothing yet is retried (which covers the usual "first page failed" case).
    for (let attempt = 0; ; attempt++) {
      let yielded = false;
      try {
        for await (const e of this.inner.list(prefix, opts)) {
          yielded = true;
          yield e;
        }
        return;
      } catch (e) {
        if (yielded || opts?.signal?.aborted || attempt >= this.maxRetries || !isTransient(e)) throw e;
        const ms = this.delay(attempt);
        log.debug(`storage ${this.name}: list ${prefix} failed (${(e as Error).message}), retry ${attempt + 1}/${this.maxRetries} in ${ms} ms`);
        await sleep(ms, opts?.signal);
      }
    }
  }

  delete(keys: readonly string[], opts?: { signal?: AbortSignal }): Promise<void> {
    // Deleting is idempotent (missing keys are fine), so a whole batch can simply be sent again.
    return this.retry(`delete of ${keys.length} keys`, () => this.inner.delete(keys, opts), opts?.signal);
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}

/**
 * Wraps a storage so transient failures (StorageError with transient=true, network resets) are retried with
 * exponential backoff and jitter. Puts are retried only when the body can be re-sent: a Buffer, a factory
 * (called again), or a Readable that was never read. No retry starts after opts.signal aborts.
 */
export function withRetries(storage: Storage, opts: RetryOptions = {}): Storage {
  return new RetryingStorage(storage, opts);
}
