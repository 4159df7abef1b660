// WALG_NETWORK_RATE_LIMIT as a storage wrapper (src/storage/wrap/rate-limit.ts) and the token bucket under it
// (src/core/rate-limit.ts). Deterministic: limiters are test doubles or run on an injected clock, never wall time.

import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { loadConfig } from '../../src/config/load.ts';
import { CancelledError, ObjectNotFoundError } from '../../src/core/errors.ts';
import { RateLimiter } from '../../src/core/rate-limit.ts';
import type { ByteLimiter, LimiterClock } from '../../src/core/rate-limit.ts';
import { readAll } from '../../src/storage/body.ts';
import { MemoryStorage } from '../../src/storage/drivers/memory.ts';
import { openStorage } from '../../src/storage/registry.ts';
import type { Body, Storage } from '../../src/storage/types.ts';
import { networkLimiter, withRateLimit } from '../../src/storage/wrap/rate-limit.ts';
import { runStorageSuite } from '../conformance/storage-suite.ts';

/** A limiter that lets everything through at once and records every take(n). */
function recorder(): ByteLimiter & { takes: number[]; total: () => number } {
  const takes: number[] = [];
  return { takes, total: () => takes.reduce((a, b) => a + b, 0), take: async (n: number) => { takes.push(n); } };
}

/** A clock whose sleep() advances time at once and records the requested delays. */
function fakeClock(): LimiterClock & { sleeps: number[] } {
  let t = 0;
  const sleeps: number[] = [];
  return { sleeps, now: () => t, sleep: async (ms: number) => { sleeps.push(ms); t += ms; } };
}

/** Chunks of distinct content, so that reordering or corruption shows. */
function chunks(n: number, size: number): Buffer[] {
  return Array.from({ length: n }, (_, i) => Buffer.alloc(size, i + 1));
}

/** A storage that records the kind of body each put() received, in front of a MemoryStorage. */
function spy(inner: Storage): Storage & { bodies: string[] } {
  const bodies: string[] = [];
  return {
    name: inner.name,
    type: inner.type,
    bodies,
    put: (k: string, b: Body, o) => { bodies.push(Buffer.isBuffer(b) ? 'buffer' : typeof b === 'function' ? 'factory' : 'stream'); return inner.put(k, b, o); },
    get: (k, o) => inner.get(k, o),
    stat: (k, o) => inner.stat(k, o),
    exists: (k, o) => inner.exists(k, o),
    list: (p, o) => inner.list(p, o),
    delete: (k, o) => inner.delete(k, o),
    close: () => inner.close(),
  };
}

describe('RateLimiter on an injected clock', () => {
  test('a burst of one second passes at once; the debt beyond it is paid by sleeping', async () => {
    const clock = fakeClock();
    const l = new RateLimiter(1000, clock);
    await l.take(600);
    await l.take(400);
    assert.deepEqual(clock.sleeps, []);
    await l.take(2000); // 2000 bytes of debt at 1000 B/s
    assert.deepEqual(clock.sleeps, [2000]);
  });

  test('concurrent callers are served in call order', async () => {
    const clock = fakeClock();
    const l = new RateLimiter(100, clock);
    const order: number[] = [];
    await Promise.all([1, 2, 3].map((i) => l.take(100).then(() => order.push(i))));
    assert.deepEqual(order, [1, 2, 3]);
    assert.deepEqual(clock.sleeps, [1000, 1000]);
  });
});

describe('withRateLimit', () => {
  test('get: the bytes pass in order and unchanged, and every byte is asked for', async () => {
    const inner = new MemoryStorage();
    const data = Buffer.concat(chunks(50, 1000));
    await inner.put('obj', data);
    const lim = recorder();
    const got = await readAll(await withRateLimit(inner, lim).get('obj'));
    assert.ok(got.equals(data));
    assert.equal(lim.total(), data.length);
  });

  test('get: a slow limiter keeps the chunk order', async () => {
    const parts = chunks(20, 333);
    const inner = new MemoryStorage();
    inner.get = async () => Readable.from(parts);
    let i = 0;
    // Alternating delays: a limiter that let chunks overtake each other would reorder them.
    const lim: ByteLimiter = { take: (_n) => new Promise((r) => setTimeout(r, i++ % 2 === 0 ? 3 : 0)) };
    const got = await readAll(await withRateLimit(inner, lim).get('x'));
    assert.ok(got.equals(Buffer.concat(parts)));
  });

  test('put: Buffer, Readable and factory bodies are stored unchanged and every byte is asked for', async () => {
    const inner = spy(new MemoryStorage());
    const lim = recorder();
    const s = withRateLimit(inner, lim);
    const parts = chunks(10, 4096);
    const all = Buffer.concat(parts);
    await s.put('buf', all);
    assert.equal(lim.total(), all.length);
    await s.put('stream', Readable.from(parts));
    assert.equal(lim.total(), 2 * all.length);
    await s.put('factory', () => Readable.from(parts));
    assert.equal(lim.total(), 3 * all.length);
    for (const k of ['buf', 'stream', 'factory']) assert.ok((await readAll(await inner.get(k))).equals(all), k);
    // A Buffer stays a Buffer (drivers keep their one-request path) and a factory a factory (retries re-send it).
    assert.deepEqual(inner.bodies, ['buffer', 'stream', 'factory']);
  });

  test('put and get on a real bucket with a fake clock: 3000 bytes at 1000 B/s wait 2 s each way', async () => {
    const clock = fakeClock();
    const s = withRateLimit(new MemoryStorage(), new RateLimiter(1000, clock));
    await s.put('obj', Readable.from(chunks(3, 1000)));
    assert.equal(clock.sleeps.reduce((a, b) => a + b, 0), 2000);
    await readAll(await s.get('obj'));
    assert.equal(clock.sleeps.reduce((a, b) => a + b, 0), 5000); // no burst left: all 3000 bytes wait
  });

  test('errors pass through: missing objects, failing bodies, and an abort while waiting for tokens', async () => {
    const inner = new MemoryStorage();
    const s = withRateLimit(inner, recorder());
    await assert.rejects(s.get('missing'), ObjectNotFoundError);
    const failing = new Readable({ read() { this.destroy(new Error('source broke')); } });
    await assert.rejects(s.put('bad', failing), /source broke/);
    assert.equal(await inner.exists('bad'), false);
    const ac = new AbortController();
    const never: ByteLimiter = { take: () => new Promise(() => {}) };
    const p = withRateLimit(inner, never).put('slow', Buffer.from('x'), { signal: ac.signal });
    ac.abort();
    await assert.rejects(p, CancelledError);
    assert.equal(await inner.exists('slow'), false);
  });
});

// The wrapper must keep the whole Storage contract.
runStorageSuite('memory + network rate limit', async () => withRateLimit(new MemoryStorage(), recorder()), { bigUploadMB: 5, manyKeys: 300 });

describe('openStorage applies WALG_NETWORK_RATE_LIMIT', () => {
  test('0 or unset means no limiter; one rate shares one process-wide bucket', () => {
    assert.equal(networkLimiter(undefined), undefined);
    assert.equal(networkLimiter(0), undefined);
    assert.equal(networkLimiter(-5), undefined);
    assert.equal(networkLimiter(4242), networkLimiter(4242));
  });

  test('every storage it opens is limited, unless rateLimit is false (--turbo) or the limit is unset', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'walg-ratelimit-'));
    // 7777 B/s: a rate no other test uses, so this test owns the shared bucket; its take() is replaced by a
    // recorder, which makes the test independent of time.
    const shared = networkLimiter(7777)!;
    const lim = recorder();
    const original = shared.take.bind(shared);
    shared.take = lim.take;
    try {
      const limited = await openStorage(await loadConfig({ env: { WALG_FILE_PREFIX: dir, WALG_NETWORK_RATE_LIMIT: '7777' }, home: dir }));
      await limited.put('a/obj', Buffer.alloc(1234, 7));
      assert.ok((await readAll(await limited.get('a/obj'))).equals(Buffer.alloc(1234, 7)));
      assert.equal(lim.total(), 2 * 1234);
      const turbo = await openStorage(await loadConfig({ env: { WALG_FILE_PREFIX: dir, WALG_NETWORK_RATE_LIMIT: '7777' }, home: dir }), 'default', { rateLimit: false });
      await turbo.put('a/obj2', Buffer.alloc(10));
      await readAll(await turbo.get('a/obj2'));
      const unset = await openStorage(await loadConfig({ env: { WALG_FILE_PREFIX: dir }, home: dir }));
      await readAll(await unset.get('a/obj2'));
      const zero = await openStorage(await loadConfig({ env: { WALG_FILE_PREFIX: dir, WALG_NETWORK_RATE_LIMIT: '0' }, home: dir }));
      await readAll(await zero.get('a/obj2'));
      assert.equal(lim.total(), 2 * 1234);
      for (const s of [limited, turbo, unset, zero]) await s.close();
    } finally {
      shared.take = original;
      await rm(dir, { recursive: true, force: true });
    }
  });
});
