// Token-bucket byte rate limits for WALG_DISK_RATE_LIMIT (file reads of backup-push) and WALG_NETWORK_RATE_LIMIT
// (bytes sent to or read from storage: src/storage/wrap/rate-limit.ts applies it to every storage). One bucket is
// shared by every stream of a run, as WAL-G's limiters are.

import { Transform } from 'node:stream';
import type { TransformCallback } from 'node:stream';

/** Anything that can hold bytes back: the token bucket below, or a test double. */
export interface ByteLimiter {
  /** Resolves once `n` more bytes may pass. */
  take(n: number): Promise<void>;
}

/** The time source of a RateLimiter; injectable so tests do not depend on wall time. */
export interface LimiterClock {
  /** Milliseconds on a monotonic clock. */
  now(): number;
  /** Resolves after `ms` milliseconds. */
  sleep(ms: number): Promise<void>;
}

const REAL_CLOCK: LimiterClock = {
  now: () => performance.now(),
  sleep: (ms) => new Promise<void>((r) => setTimeout(r, ms)),
};

/**
 * A token bucket refilled at `bytesPerSecond` with a burst of one second's worth. take(n) resolves once n bytes
 * may pass; concurrent callers are served in call order, so the aggregate rate holds across streams.
 */
export class RateLimiter implements ByteLimiter {
  readonly bytesPerSecond: number;
  private readonly clock: LimiterClock;
  private tokens: number;
  private last: number;
  private queue: Promise<void> = Promise.resolve();

  /** `clock` defaults to performance.now() and setTimeout. Throws RangeError unless the rate is positive. */
  constructor(bytesPerSecond: number, clock: LimiterClock = REAL_CLOCK) {
    if (!(bytesPerSecond > 0)) throw new RangeError('rate limit must be positive');
    this.bytesPerSecond = bytesPerSecond;
    this.clock = clock;
    this.tokens = bytesPerSecond;
    this.last = clock.now();
  }

  private refill(): void {
    const now = this.clock.now();
    this.tokens = Math.min(this.bytesPerSecond, this.tokens + ((now - this.last) / 1000) * this.bytesPerSecond);
    this.last = now;
  }

  /** Waits until `n` bytes may pass (n may exceed the burst: the debt is paid by waiting). */
  take(n: number): Promise<void> {
    const turn = this.queue.then(async () => {
      this.refill();
      this.tokens -= n;
      if (this.tokens < 0) await this.clock.sleep((-this.tokens / this.bytesPerSecond) * 1000);
    });
    this.queue = turn.catch(() => {});
    return turn;
  }

  /** A pass-through stream that holds each chunk until the bucket lets it through. */
  transform(): Transform {
    return limitTransform(this);
  }
}

/** A pass-through stream that asks `limiter` for each chunk's bytes before passing the chunk on unchanged. */
export function limitTransform(limiter: ByteLimiter): Transform {
  return new Transform({
    transform: (chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback) => {
      limiter.take(chunk.length).then(() => cb(null, chunk), cb);
    },
  });
}

/** A limiter for a configured rate, or undefined when unset, non-positive, or --turbo is on. */
export function limiterFor(bytesPerSecond: number | undefined, turbo: boolean): RateLimiter | undefined {
  if (turbo || bytesPerSecond === undefined || !(bytesPerSecond > 0)) return undefined;
  return new RateLimiter(bytesPerSecond);
}
