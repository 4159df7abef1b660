// The storage conformance suite: one set of node:test cases every driver must pass.
// Each driver's test file calls runStorageSuite with a factory that gives a fresh, empty storage.

import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough, Readable } from 'node:stream';
import { createHash, randomBytes } from 'node:crypto';
import { ObjectNotFoundError } from '../../src/core/errors.ts';
import { readAll } from '../../src/storage/body.ts';
import type { Storage, ListEntry } from '../../src/storage/types.ts';

export interface SuiteOptions {
  /** Number of keys for the pagination test (default 1500). */
  manyKeys?: number;
  /** Size in MB of the streamed upload test (default 100). */
  bigUploadMB?: number;
  /** Parallel puts in the many-keys test (default 16). */
  concurrency?: number;
}

/** Deterministic pseudo-random stream of `size` bytes; returns the stream and a promise of its sha256. */
export function patternStream(size: number, chunk = 1 << 20): { stream: Readable; sha256: () => string } {
  const hash = createHash('sha256');
  let sent = 0;
  let seed = 12345;
  const block = Buffer.alloc(chunk);
  const stream = new Readable({
    read() {
      if (sent >= size) { this.push(null); return; }
      const n = Math.min(chunk, size - sent);
      // Cheap LCG fill: incompressible enough, and reproducible without holding the data.
      for (let i = 0; i < n; i += 4) { seed = (Math.imul(seed, 1103515245) + 12345) >>> 0; block.writeUInt32LE(seed, i); }
      const out = Buffer.from(block.subarray(0, n));
      hash.update(out);
      sent += n;
      this.push(out);
    },
  });
  return { stream, sha256: () => hash.digest('hex') };
}

async function collect(it: AsyncIterable<ListEntry>): Promise<ListEntry[]> {
  const out: ListEntry[] = [];
  for await (const e of it) out.push(e);
  return out;
}

async function getText(s: Storage, key: string): Promise<string> {
  return (await readAll(await s.get(key))).toString();
}

async function mapLimit<T>(items: T[], limit: number, fn: (t: T) => Promise<void>): Promise<void> {
  let i = 0;
  await Promise.all(Array.from({ length: limit }, async () => { while (i < items.length) await fn(items[i++]!); }));
}

/** Registers the conformance tests for one driver. `make` returns a fresh storage rooted in an empty prefix. */
export function runStorageSuite(driver: string, make: () => Promise<Storage>, opts: SuiteOptions = {}): void {
  describe(`storage conformance: ${driver}`, () => {
    let s: Storage;
    before(async () => { s = await make(); });
    after(async () => { await s?.close(); });

    test('put Buffer / get / stat / exists', async () => {
      await s.put('a/b/one.txt', Buffer.from('hello'));
      assert.equal(await getText(s, 'a/b/one.txt'), 'hello');
      const st = await s.stat('a/b/one.txt');
      assert.equal(st.size, 5);
      assert.ok(st.lastModified instanceof Date && !Number.isNaN(st.lastModified.getTime()));
      assert.ok(Math.abs(st.lastModified.getTime() - Date.now()) < 10 * 60_000, 'lastModified is about now');
      assert.equal(await s.exists('a/b/one.txt'), true);
    });

    test('missing object: get and stat throw ObjectNotFoundError, exists is false', async () => {
      await assert.rejects(s.get('nope/missing'), ObjectNotFoundError);
      await assert.rejects(s.stat('nope/missing'), ObjectNotFoundError);
      assert.equal(await s.exists('nope/missing'), false);
    });

    test('empty object', async () => {
      await s.put('empty/zero', Buffer.alloc(0));
      assert.equal((await s.stat('empty/zero')).size, 0);
      assert.equal((await readAll(await s.get('empty/zero'))).length, 0);
    });

    test('overwrite replaces the object', async () => {
      await s.put('ow/x', Buffer.from('first version'));
      await s.put('ow/x', Buffer.from('second'));
      assert.equal(await getText(s, 'ow/x'), 'second');
      assert.equal((await s.stat('ow/x')).size, 6);
    });

    test('put from a factory and from a single-shot Readable', async () => {
      await s.put('streams/factory', () => Readable.from([Buffer.from('abc'), Buffer.from('def')]));
      assert.equal(await getText(s, 'streams/factory'), 'abcdef');
      await s.put('streams/readable', Readable.from([Buffer.from('xyz')]));
      assert.equal(await getText(s, 'streams/readable'), 'xyz');
    });

    test('range get', async () => {
      await s.put('range/r', Buffer.from('0123456789'));
      assert.equal((await readAll(await s.get('range/r', { range: { start: 3, end: 7 } }))).toString(), '3456');
      assert.equal((await readAll(await s.get('range/r', { range: { start: 8 } }))).toString(), '89');
    });

    test('list: one level with dirs, recursive without dirs, sorted', async () => {
      for (const k of ['ls/b.txt', 'ls/a.txt', 'ls/sub/c.txt', 'ls/sub/deeper/d.txt', 'ls/sub2/e.txt', 'lsx/other']) {
        await s.put(k, Buffer.from(k));
      }
      const flat = await collect(s.list('ls/'));
      assert.deepEqual(flat.map((e) => `${e.type}:${e.key}`), ['obj:ls/a.txt', 'obj:ls/b.txt', 'dir:ls/sub/', 'dir:ls/sub2/']);
      assert.equal(flat.find((e) => e.key === 'ls/a.txt')!.size, 'ls/a.txt'.length);
      const flatNoSlash = await collect(s.list('ls'));
      assert.deepEqual(flatNoSlash.map((e) => e.key), flat.map((e) => e.key));
      const rec = await collect(s.list('ls/', { recursive: true }));
      assert.deepEqual(rec.map((e) => e.key).sort(), ['ls/a.txt', 'ls/b.txt', 'ls/sub/c.txt', 'ls/sub/deeper/d.txt', 'ls/sub2/e.txt']);
      assert.ok(rec.every((e) => e.type === 'obj'));
      const deep = await collect(s.list('ls/sub/'));
      assert.deepEqual(deep.map((e) => `${e.type}:${e.key}`), ['obj:ls/sub/c.txt', 'dir:ls/sub/deeper/']);
      const root = await collect(s.list(''));
      assert.ok(root.some((e) => e.type === 'dir' && e.key === 'ls/'));
      assert.deepEqual(await collect(s.list('does-not-exist/')), []);
    });

    test('delete: several keys, missing keys are not an error', async () => {
      await s.put('del/1', Buffer.from('1'));
      await s.put('del/2', Buffer.from('2'));
      await s.delete(['del/1', 'del/2', 'del/never-existed']);
      assert.equal(await s.exists('del/1'), false);
      assert.equal(await s.exists('del/2'), false);
      await s.delete([]);
    });

    test('a failed upload leaves no object and nothing listed', async () => {
      const failing = new Readable({
        read() {
          this.push(randomBytes(64 * 1024));
          if (!(this as unknown as { n?: number }).n) { (this as unknown as { n: number }).n = 1; return; }
          this.destroy(new Error('disk went away'));
        },
      });
      await assert.rejects(s.put('fail/obj', failing));
      assert.equal(await s.exists('fail/obj'), false);
      assert.deepEqual((await collect(s.list('fail/', { recursive: true }))).map((e) => e.key), []);
    });

    test('a body that fails before the driver reads it is a rejected put, not a crash', async () => {
      // The stream errors on the next tick, typically while the driver is still awaiting mkdir, a connection or a
      // session: an 'error' event nobody listens to yet would kill the process (seen with the file driver).
      const early = new PassThrough();
      process.nextTick(() => early.destroy(new Error('read failed early')));
      await assert.rejects(s.put('early/obj', early));
      assert.equal(await s.exists('early/obj'), false);
      assert.deepEqual((await collect(s.list('early/', { recursive: true }))).map((e) => e.key), []);
    });

    test('an aborted upload leaves no object', async () => {
      const ac = new AbortController();
      let n = 0;
      const slow = new Readable({
        read() {
          n++;
          if (n === 3) ac.abort();
          setTimeout(() => this.push(n > 50 ? null : randomBytes(16 * 1024)), 5);
        },
      });
      await assert.rejects(s.put('abort/obj', slow, { signal: ac.signal }));
      assert.equal(await s.exists('abort/obj'), false);
    });

    test(`listing of ${opts.manyKeys ?? 1500} keys is complete (pagination)`, async () => {
      const n = opts.manyKeys ?? 1500;
      const keys = Array.from({ length: n }, (_, i) => `many/k${String(i).padStart(5, '0')}`);
      await mapLimit(keys, opts.concurrency ?? 16, (k) => s.put(k, Buffer.from('x')));
      const listed = await collect(s.list('many/'));
      assert.equal(listed.length, n);
      assert.deepEqual(listed.map((e) => e.key), keys);
      const rec = await collect(s.list('', { recursive: true }));
      assert.equal(rec.filter((e) => e.key.startsWith('many/')).length, n);
      await s.delete(keys);
      assert.equal((await collect(s.list('many/'))).length, 0);
    });

    test(`streamed ${opts.bigUploadMB ?? 100} MB upload round-trips byte for byte`, async () => {
      const size = (opts.bigUploadMB ?? 100) * 1024 * 1024;
      const src = patternStream(size);
      await s.put('big/object', src.stream);
      assert.equal((await s.stat('big/object')).size, size);
      const h = createHash('sha256');
      for await (const c of await s.get('big/object')) h.update(c as Buffer);
      assert.equal(h.digest('hex'), src.sha256());
      await s.delete(['big/object']);
    });

    test('keys with WAL-G characters', async () => {
      const keys = ['wal_005/000000010000000000000001.lz4', 'basebackups_005/base_000000010000000000000002_backup_stop_sentinel.json', 'x/a b+c=d:e'];
      for (const k of keys) await s.put(k, Buffer.from(k));
      for (const k of keys) assert.equal(await getText(s, k), k);
    });
  });
}
