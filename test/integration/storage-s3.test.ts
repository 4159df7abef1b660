// Integration tests of the S3 driver against a private Swift s3api server, plus unit tests of the retry
// wrapper on MemoryStorage + withFaults (these need no server). Swift is started lazily, once per file.

import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { randomBytes } from 'node:crypto';
import { S3Client, HeadObjectCommand, ListMultipartUploadsCommand } from '@aws-sdk/client-s3';
import { runStorageSuite, patternStream } from '../conformance/storage-suite.ts';
import { startSwift, createContainer } from '../servers/swift.ts';
import type { SwiftServer } from '../servers/swift.ts';
import { createS3Storage } from '../../src/storage/drivers/s3.ts';
import type { S3Options } from '../../src/storage/drivers/s3.ts';
import { withRetries } from '../../src/storage/wrap/retry.ts';
import { withFaults } from '../../src/storage/wrap/fault.ts';
import { MemoryStorage } from '../../src/storage/drivers/memory.ts';
import { readAll } from '../../src/storage/body.ts';
import { CancelledError, ConfigError, StorageError } from '../../src/core/errors.ts';

let server: Promise<SwiftServer> | undefined;
const swift = (): Promise<SwiftServer> => (server ??= startSwift());
after(async () => { if (server) await (await server).stop(); });

const uniq = (p: string) => `${p}-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;

async function s3Options(extra: Partial<S3Options> = {}): Promise<S3Options> {
  const srv = await swift();
  const bucket = uniq('walg-s3');
  await createContainer(srv, bucket);
  return {
    bucket, prefix: 'walg/test', endpoint: srv.s3Endpoint, forcePathStyle: true, region: 'us-east-1',
    accessKeyId: srv.user, secretAccessKey: srv.key, maxRetries: 3, ...extra,
  };
}

function rawClient(srv: SwiftServer): S3Client {
  return new S3Client({
    endpoint: srv.s3Endpoint, forcePathStyle: true, region: 'us-east-1',
    credentials: { accessKeyId: srv.user, secretAccessKey: srv.key },
    requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED',
  });
}

runStorageSuite('s3 (swift s3api)', async () => withRetries(await createS3Storage(await s3Options()), { maxRetries: 3, baseDelayMs: 50 }));

describe('s3 driver specifics', () => {
  test('a 100 MB streamed put goes multipart (5 parts of 20 MiB) and a failed one leaves no upload behind', async () => {
    const srv = await swift();
    const opts = await s3Options();
    const s = await createS3Storage(opts);
    const client = rawClient(srv);
    try {
      const src = patternStream(100 * 1024 * 1024);
      await s.put('mp/big', src.stream);
      const head = await client.send(new HeadObjectCommand({ Bucket: opts.bucket, Key: 'walg/test/mp/big' }));
      assert.equal(head.ContentLength, 100 * 1024 * 1024);
      // S3 multipart ETags are "<md5 of part md5s>-<number of parts>".
      assert.match(head.ETag ?? '', /-5"?$/, `multipart ETag expected, got ${head.ETag}`);

      // Fails after 3 parts were uploaded: the multipart upload must be aborted and nothing visible.
      let sent = 0;
      const failing = new Readable({
        read() {
          if (sent >= 50 * 1024 * 1024) { this.destroy(new Error('source broke')); return; }
          sent += 1024 * 1024;
          this.push(randomBytes(1024 * 1024));
        },
      });
      await assert.rejects(s.put('mp/failed', failing), /source broke/);
      assert.equal(await s.exists('mp/failed'), false);
      const ups = await client.send(new ListMultipartUploadsCommand({ Bucket: opts.bucket }));
      assert.deepEqual((ups.Uploads ?? []).map((u) => u.Key), []);

      // Cancelled mid-way: same guarantee, and the error says cancelled.
      const ac = new AbortController();
      let n = 0;
      const slow = new Readable({
        read() {
          if (++n === 30) ac.abort();
          this.push(randomBytes(1024 * 1024));
        },
      });
      await assert.rejects(s.put('mp/aborted', slow, { signal: ac.signal }), CancelledError);
      assert.equal(await s.exists('mp/aborted'), false);
      const ups2 = await client.send(new ListMultipartUploadsCommand({ Bucket: opts.bucket }));
      assert.deepEqual((ups2.Uploads ?? []).map((u) => u.Key), []);
    } finally {
      client.destroy();
      await s.close();
    }
  });

  test('a Buffer above the part size and a small part size round-trip', async () => {
    const s = await createS3Storage(await s3Options({ maxPartSize: 5 * 1024 * 1024 }));
    try {
      const data = randomBytes(12 * 1024 * 1024 + 7);
      await s.put('buf/big', data);
      assert.ok((await readAll(await s.get('buf/big'))).equals(data));
      const part = await readAll(await s.get('buf/big', { range: { start: 5 * 1024 * 1024 - 3, end: 5 * 1024 * 1024 + 3 } }));
      assert.ok(part.equals(data.subarray(5 * 1024 * 1024 - 3, 5 * 1024 * 1024 + 3)));
    } finally { await s.close(); }
  });

  test('S3_SSE settings: aws:kms needs a KMS id, a KMS id needs aws:kms', async () => {
    const base = { bucket: 'b', prefix: '', endpoint: 'http://127.0.0.1:1', region: 'us-east-1' };
    await assert.rejects(createS3Storage({ ...base, sse: 'aws:kms' }), ConfigError);
    await assert.rejects(createS3Storage({ ...base, sseKmsId: 'key-1' }), ConfigError);
    await assert.rejects(createS3Storage({ ...base, sse: 'aws:kms', sseC: 'x'.repeat(32), sseKmsId: 'k' }), ConfigError);
    await assert.rejects(createS3Storage({ ...base, bucket: '' }), ConfigError);
    // Accepted combinations only build a client (no request is made).
    await (await createS3Storage({ ...base, sse: 'aws:kms', sseKmsId: 'key-1' })).close();
    await (await createS3Storage({ ...base, sse: 'AES256' })).close();
  });

  test('SSE options reach the server: SSE-C round-trips, SSE-S3 is refused by s3api with a clear permanent error', async () => {
    const opts = await s3Options();
    const sseC = await createS3Storage({ ...opts, sseC: 'k'.repeat(32) });
    try {
      await sseC.put('enc/c', Buffer.from('secret data'));
      assert.equal((await readAll(await sseC.get('enc/c'))).toString(), 'secret data');
      assert.equal((await sseC.stat('enc/c')).size, 11);
    } finally { await sseC.close(); }
    const sse = await createS3Storage({ ...opts, sse: 'AES256' });
    try {
      const err = await sse.put('enc/s', Buffer.from('x')).then(() => undefined, (e: unknown) => e);
      assert.ok(err instanceof StorageError && !err.transient, String(err));
      assert.match(err.message, /NotImplemented.*\(HTTP 501\)$/);
    } finally { await sse.close(); }
  });

  test('a wrong secret key gives a one-line StorageError without the secret', async () => {
    const secret = 'wrong-secret-value-123';
    const s = await createS3Storage(await s3Options({ secretAccessKey: secret }));
    try {
      const err = await s.put('x/y', Buffer.from('data')).then(() => undefined, (e: unknown) => e);
      assert.ok(err instanceof StorageError, `StorageError expected, got ${String(err)}`);
      assert.equal(err.transient, false);
      assert.ok(!err.message.includes('\n'), 'one line');
      assert.ok(!err.message.includes(secret), 'no secret');
      assert.ok(!err.message.includes('    at '), 'no stack');
      assert.match(err.message, /^S3 put s3:\/\/walg-s3-[^ ]+\/walg\/test\/x\/y failed: \w+.*\(HTTP 403\)$/);
      const err2 = await s.get('x/y').then(() => undefined, (e: unknown) => e);
      assert.ok(err2 instanceof StorageError && !err2.message.includes(secret));
    } finally { await s.close(); }
  });

  test('a storage prefix of "" works from the bucket root', async () => {
    const s = await createS3Storage(await s3Options({ prefix: '' }));
    try {
      await s.put('top.txt', Buffer.from('t'));
      await s.put('d/inner.txt', Buffer.from('i'));
      const keys: string[] = [];
      for await (const e of s.list('')) keys.push(`${e.type}:${e.key}`);
      assert.deepEqual(keys, ['dir:d/', 'obj:top.txt']);
    } finally { await s.close(); }
  });

  test('ListObjects v1 pagination', async () => {
    const s = await createS3Storage(await s3Options({ useListObjectsV1: true }));
    try {
      const keys = Array.from({ length: 1100 }, (_, i) => `v1/k${String(i).padStart(5, '0')}`);
      for (let i = 0; i < keys.length; i += 50) await Promise.all(keys.slice(i, i + 50).map((k) => s.put(k, Buffer.from('x'))));
      await s.put('v1/sub/x', Buffer.from('x'));
      const flat: string[] = [];
      for await (const e of s.list('v1/')) flat.push(e.key);
      assert.deepEqual(flat, [...keys, 'v1/sub/']);
      let rec = 0;
      for await (const _ of s.list('v1/', { recursive: true })) rec++;
      assert.equal(rec, 1101);
    } finally { await s.close(); }
  });
});

describe('withRetries over withFaults (MemoryStorage)', () => {
  const fast = { maxRetries: 4, baseDelayMs: 1, maxDelayMs: 5 };

  test('transient get/stat/exists/delete/list failures are retried until success', async () => {
    const mem = new MemoryStorage();
    await mem.put('a/1', Buffer.from('one'));
    const f = withFaults(mem, [
      { op: 'get', times: 3 }, { op: 'stat', times: 2 }, { op: 'exists', times: 1 }, { op: 'delete', times: 2 }, { op: 'list', times: 2 },
    ]);
    const s = withRetries(f, fast);
    assert.equal((await readAll(await s.get('a/1'))).toString(), 'one');
    assert.equal(f.calls.get, 4);
    assert.equal((await s.stat('a/1')).size, 3);
    assert.equal(await s.exists('a/1'), true);
    const listed: string[] = [];
    for await (const e of s.list('a/')) listed.push(e.key);
    assert.deepEqual(listed, ['a/1']);
    await s.delete(['a/1']);
    assert.equal(await mem.exists('a/1'), false);
    assert.equal(f.injected, 3 + 2 + 1 + 2 + 2);
  });

  test('retries stop after maxRetries; permanent errors are not retried', async () => {
    const f = withFaults(new MemoryStorage(), [
      { op: 'stat', times: Infinity },
      { op: 'get', error: () => new StorageError('access denied') },
    ]);
    const s = withRetries(f, fast);
    await assert.rejects(s.stat('k'), /injected fault/);
    assert.equal(f.calls.stat, 5);
    await assert.rejects(s.get('k'), /access denied/);
    assert.equal(f.calls.get, 1);
  });

  test('a put failing mid-body is retried for Buffer and factory bodies, and leaves nothing half-written', async () => {
    const mem = new MemoryStorage();
    const f = withFaults(mem, [{ op: 'put', key: 'buf', afterBytes: 1000, times: 2 }, { op: 'put', key: 'fac', afterBytes: 10, times: 1 }]);
    const s = withRetries(f, fast);
    const data = randomBytes(5000);
    await s.put('buf', data);
    assert.ok((await readAll(await mem.get('buf'))).equals(data));
    assert.equal(f.calls.put, 3);
    let made = 0;
    await s.put('fac', () => { made++; return Readable.from([Buffer.from('abcdefghijklmnop')]); });
    assert.equal(made, 2);
    assert.equal((await readAll(await mem.get('fac'))).toString(), 'abcdefghijklmnop');
  });

  test('a single-shot Readable is not retried once read, but is when nothing read it', async () => {
    const mem = new MemoryStorage();
    const f = withFaults(mem, [{ op: 'put', key: 'read', afterBytes: 3 }, { op: 'put', key: 'unread' }]);
    const s = withRetries(f, fast);
    await assert.rejects(s.put('read', Readable.from([Buffer.from('abcdef')])), /injected fault/);
    assert.equal(f.calls.put, 1);
    assert.equal(await mem.exists('read'), false, 'no half-written object');
    await s.put('unread', Readable.from([Buffer.from('xyz')]));
    assert.equal(f.calls.put, 3);
    assert.equal((await readAll(await mem.get('unread'))).toString(), 'xyz');
  });

  test('a list failing after entries were yielded is not restarted', async () => {
    const mem = new MemoryStorage();
    for (const k of ['l/a', 'l/b', 'l/c']) await mem.put(k, Buffer.from(k));
    const f = withFaults(mem, [{ op: 'list', afterBytes: 2 }]);
    const s = withRetries(f, fast);
    const got: string[] = [];
    await assert.rejects((async () => { for await (const e of s.list('l/')) got.push(e.key); })(), /injected fault/);
    assert.deepEqual(got, ['l/a', 'l/b']);
    assert.equal(f.calls.list, 1);
  });

  test('a get stream failing mid-way surfaces the error to the reader', async () => {
    const mem = new MemoryStorage();
    await mem.put('g', randomBytes(10_000));
    const f = withFaults(mem, [{ op: 'get', afterBytes: 4000 }]);
    await assert.rejects(readAll(await f.get('g')), /injected fault/);
    assert.equal((await readAll(await f.get('g'))).length, 10_000);
  });

  test('no retry after the signal aborted; the backoff sleep is cut short', async () => {
    const f = withFaults(new MemoryStorage(), [{ op: 'stat', times: Infinity }]);
    const s = withRetries(f, { maxRetries: 10, baseDelayMs: 10_000, maxDelayMs: 10_000 });
    const ac = new AbortController();
    const t0 = Date.now();
    setTimeout(() => ac.abort(), 50);
    await assert.rejects(s.stat('k', { signal: ac.signal }), CancelledError);
    assert.ok(Date.now() - t0 < 5000);
    const calls = f.calls.stat;
    await assert.rejects(s.stat('k', { signal: ac.signal }));
    assert.equal(f.calls.stat, calls + 1, 'an already-aborted call makes one attempt at most');
  });
});
