// Bounded concurrency: the one home for "N at a time". mapLimit runs a known list (catalog loads, listings,
// prefetch, multipart parts); Semaphore bounds work that arrives over time (pipelined uploads, tar part writers).

import { CancelledError } from './errors.ts';

/** Runs `fn` over `items` with at most `limit` calls in flight; results keep the input order. Rejects on the first error. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  let failed = false;
  const worker = async () => {
    while (!failed && next < items.length) {
      const i = next++;
      try { out[i] = await fn(items[i]!, i); } catch (err) { failed = true; throw err; }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  return out;
}

/**
 * The error an aborted wait rejects with: the signal's own reason when the aborter gave an Error (e.g. the failure
 * that made it stop everything), else (no reason: the default AbortError) a CancelledError.
 */
function abortReason(signal: AbortSignal): Error {
  const r: unknown = signal.reason;
  if (r instanceof Error && r.name !== 'AbortError') return r;
  return new CancelledError('operation cancelled', { cause: r });
}

/**
 * A counting semaphore with `limit` permits, granted in FIFO order.
 *
 * - `acquire(signal?)` resolves with a release function once a permit is free. Call the release exactly once;
 *   further calls are ignored, so a `finally` that releases twice cannot over-grant. If `signal` aborts before
 *   the permit is granted, the wait is dropped from the queue and the promise rejects with the signal's reason
 *   when it is an Error other than the default AbortError, else with a CancelledError; an already-aborted signal
 *   rejects at once.
 * - `run(fn, signal?)` acquires, runs `fn`, and releases when `fn` settles, returning or rethrowing its outcome.
 *
 * A limit below 1 is treated as 1, so a misconfigured concurrency degrades to serial instead of deadlocking.
 */
export class Semaphore {
  private readonly limit: number;
  private active = 0;
  private readonly waiters: Array<() => void> = [];

  constructor(limit: number) {
    this.limit = Math.max(1, Math.floor(limit) || 1);
  }

  /** Permits currently held (for tests and diagnostics). */
  get inFlight(): number {
    return this.active;
  }

  /** Waits for a permit; resolves with its one-shot release function. See the class comment for abort. */
  acquire(signal?: AbortSignal): Promise<() => void> {
    if (signal?.aborted) return Promise.reject(abortReason(signal));
    if (this.active < this.limit && this.waiters.length === 0) {
      this.active++;
      return Promise.resolve(this.releaser());
    }
    return new Promise<() => void>((resolve, reject) => {
      const grant = () => {
        signal?.removeEventListener('abort', onAbort);
        this.active++;
        resolve(this.releaser());
      };
      const onAbort = () => {
        const i = this.waiters.indexOf(grant);
        if (i >= 0) this.waiters.splice(i, 1);
        reject(abortReason(signal!));
      };
      this.waiters.push(grant);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** Runs `fn` under a permit and releases it when `fn` settles. */
  async run<T>(fn: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    const release = await this.acquire(signal);
    try {
      return await fn();
    } finally {
      release();
    }
  }

  private releaser(): () => void {
    let done = false;
    return () => {
      if (done) return;
      done = true;
      this.active--;
      // Hand the freed permit to the oldest waiter, if any.
      const next = this.waiters.shift();
      if (next) next();
    };
  }
}
