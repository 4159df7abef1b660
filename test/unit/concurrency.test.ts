// The one concurrency primitive (src/core/concurrency.ts): mapLimit over a list, Semaphore for work that arrives
// over time. Deterministic: tasks are released by the test, not by timers.

import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { Semaphore, mapLimit } from '../../src/core/concurrency.ts';
import { CancelledError } from '../../src/core/errors.ts';

/** A promise with its resolve function, to let a task finish when the test says so. */
function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((r) => { open = r; });
  return { promise, open };
}

const ticks = async (n = 5) => { for (let i = 0; i < n; i++) await Promise.resolve(); };

describe('mapLimit', () => {
  test('keeps the input order and never runs more than the limit', async () => {
    let active = 0;
    let peak = 0;
    const out = await mapLimit([5, 1, 4, 2, 3], 2, async (x, i) => {
      active++;
      peak = Math.max(peak, active);
      await new Promise((r) => setImmediate(r));
      active--;
      return x * 10 + i;
    });
    assert.deepEqual(out, [50, 11, 42, 23, 34]);
    assert.equal(peak, 2);
  });

  test('rejects with the first error and starts nothing after it', async () => {
    const started: number[] = [];
    await assert.rejects(mapLimit([1, 2, 3, 4], 1, async (x) => {
      started.push(x);
      if (x === 2) throw new Error('boom');
    }), /boom/);
    assert.deepEqual(started, [1, 2]);
  });
});

describe('Semaphore', () => {
  test('grants at most `limit` permits, in FIFO order, and release is one-shot', async () => {
    const s = new Semaphore(2);
    const r1 = await s.acquire();
    const r2 = await s.acquire();
    const order: number[] = [];
    const w3 = s.acquire().then((r) => { order.push(3); return r; });
    const w4 = s.acquire().then((r) => { order.push(4); return r; });
    await ticks();
    assert.deepEqual(order, []);
    assert.equal(s.inFlight, 2);
    r1();
    r1(); // a second call must not free a second permit
    const r3 = await w3;
    await ticks();
    assert.deepEqual(order, [3]);
    r2();
    const r4 = await w4;
    assert.deepEqual(order, [3, 4]);
    r3();
    r4();
    assert.equal(s.inFlight, 0);
  });

  test('run() releases when the task settles, also on failure', async () => {
    const s = new Semaphore(1);
    const g = gate();
    const first = s.run(async () => { await g.promise; return 'a'; });
    const second = s.run(async () => { throw new Error('task failed'); });
    const third = s.run(async () => 'c');
    await ticks();
    assert.equal(s.inFlight, 1);
    g.open();
    assert.equal(await first, 'a');
    await assert.rejects(second, /task failed/);
    assert.equal(await third, 'c');
    assert.equal(s.inFlight, 0);
  });

  test('an abort drops a waiter from the queue; an aborted signal rejects at once', async () => {
    const s = new Semaphore(1);
    const held = await s.acquire();
    const ac = new AbortController();
    const waiting = s.acquire(ac.signal);
    const next = s.acquire();
    ac.abort();
    await assert.rejects(waiting, CancelledError);
    held();
    const r = await next; // the aborted waiter did not take the permit
    assert.equal(s.inFlight, 1);
    r();
    const reason = new Error('stop now');
    await assert.rejects(s.acquire(AbortSignal.abort(reason)), (e) => e === reason);
    await assert.rejects(s.run(async () => 1, AbortSignal.abort()), CancelledError);
    assert.equal(s.inFlight, 0);
  });

  test('a limit below 1 degrades to serial instead of deadlocking', async () => {
    const s = new Semaphore(0);
    assert.equal(await s.run(async () => 7), 7);
  });
});
