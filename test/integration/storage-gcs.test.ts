// Integration tests of the GCS driver: the real @google-cloud/storage client against our GCS JSON-API test server
// (test/servers/gcs.ts). Issue #7 acceptance 1 (conformance suite, with resumable uploads and paginated listings
// that the server saw happen) and 2 (PostgreSQL wal-push/backup-push/backup-fetch/wal-fetch through WALG_GS_PREFIX),
// plus driver specifics: resumable vs single-request uploads, failed/aborted uploads leave nothing, CSEK, prefixes.

import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { createHash, randomBytes } from 'node:crypto';
import { runStorageSuite, patternStream } from '../conformance/storage-suite.ts';
import { startGcsServer } from '../servers/gcs.ts';
import type { GcsServer } from '../servers/gcs.ts';
import { createGcsStorage, parseGcsPrefix } from '../../src/storage/drivers/gcs.ts';
import type { GcsOptions } from '../../src/storage/drivers/gcs.ts';
import { withRetries } from '../../src/storage/wrap/retry.ts';
import { openStorage } from '../../src/storage/registry.ts';
import { loadConfig } from '../../src/config/load.ts';
import { readAll } from '../../src/storage/body.ts';
import { CancelledError, ConfigError, StorageError } from '../../src/core/errors.ts';
import type { Storage } from '../../src/storage/types.ts';
import { pgStorageRoundTrip } from '../helpers/pg-storage-roundtrip.ts';

let server: Promise<GcsServer> | undefined;
const gcs = (): Promise<GcsServer> => (server ??= startGcsServer());
after(async () => { if (server) await (await server).stop(); });

const uniq = (p: string) => `${p}-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;

/** A fresh bucket on the test server and driver options rooted in it. */
async function gcsOptions(extra: Partial<GcsOptions> = {}): Promise<{ opts: GcsOptions; bucket: string; srv: GcsServer }> {
  const srv = await gcs();
  const bucket = uniq('walg-gcs');
  srv.createBucket(bucket);
  return { srv, bucket, opts: { prefix: `gs://${bucket}/walg/test`, endpoint: srv.endpoint, ...extra } };
}

async function keys(s: Storage, prefix: string): Promise<string[]> {
  const out: string[] = [];
  for await (const e of s.list(prefix, { recursive: true })) out.push(e.key);
  return out;
}

// 1 MiB chunks: the suite's 100 MB streamed upload is a resumable session of 100 chunk requests; 1500 keys are
// listed in pages of 1000 (the GCS default).
runStorageSuite('gcs (real client, JSON-API test server)', async () => {
  const { opts } = await gcsOptions({ maxChunkSize: 1024 * 1024 });
  return withRetries(await createGcsStorage(opts), { maxRetries: 3, baseDelayMs: 50 });
});

describe('gcs driver specifics', () => {
  test('the conformance run used resumable sessions (308 answers) and continued listings (pageToken)', async () => {
    const srv = await gcs();
    // The suite above ran first in this file: its 100 MB upload and 1500-key listing must have gone these ways.
    assert.ok(srv.stats.resumableSessions >= 1 && srv.stats.resumableCompleted >= 1, `resumable sessions: ${JSON.stringify(srv.stats)}`);
    assert.ok(srv.stats.resumableIncomplete >= 99, `chunked PUTs answered 308: ${srv.stats.resumableIncomplete}`);
    assert.ok(srv.stats.listContinuations >= 1, `listing pages with a pageToken: ${srv.stats.listContinuations}`);
  });

  test('opened through the registry from WALG_GS_PREFIX, STORAGE_EMULATOR_HOST and GCS_MAX_CHUNK_SIZE', async () => {
    const { srv, bucket } = await gcsOptions();
    const config = await loadConfig({ env: {
      WALG_GS_PREFIX: `gs://${bucket}/cluster1/`, STORAGE_EMULATOR_HOST: srv.endpoint, WALG_GCS_MAX_CHUNK_SIZE: String(256 * 1024),
    } });
    const s = await openStorage(config);
    try {
      assert.equal(s.type, 'gcs');
      const before = { ...srv.stats };
      const data = randomBytes(1024 * 1024 + 5);
      await s.put('wal_005/000000010000000000000001.lz4', Readable.from([data.subarray(0, 70_000), data.subarray(70_000)]));
      assert.equal(srv.stats.resumableSessions - before.resumableSessions, 1, 'one resumable session');
      assert.equal(srv.stats.resumableIncomplete - before.resumableIncomplete, 4, '4 full 256 KiB chunks answered 308, then the last one');
      assert.deepEqual(srv.objectNames(bucket), ['cluster1/wal_005/000000010000000000000001.lz4']);
      assert.ok((await readAll(await s.get('wal_005/000000010000000000000001.lz4'))).equals(data));
    } finally {
      await s.close();
    }
  });

  test('small bodies are one multipart request; a stream is read ahead before choosing', async () => {
    const { opts, srv } = await gcsOptions({ maxChunkSize: 256 * 1024 });
    const s = await createGcsStorage(opts);
    const before = { ...srv.stats };
    await s.put('small/buffer', randomBytes(1000));
    await s.put('small/stream', Readable.from([randomBytes(100_000), randomBytes(100_000)]));
    assert.equal(srv.stats.multipartUploads - before.multipartUploads, 2);
    assert.equal(srv.stats.resumableSessions - before.resumableSessions, 0);
    // Just above one chunk: resumable, two requests (308, then the final one).
    const src = patternStream(256 * 1024 + 1, 50_000);
    await s.put('small/just-over', src.stream);
    assert.equal(srv.stats.resumableSessions - before.resumableSessions, 1);
    assert.equal(createHash('sha256').update(await readAll(await s.get('small/just-over'))).digest('hex'), src.sha256());
  });

  test('listing pages: 250 keys in pages of 100, one level and recursive, complete and ordered', async () => {
    const { opts, srv } = await gcsOptions({ listPageSize: 100 });
    const s = await createGcsStorage(opts);
    const names = Array.from({ length: 250 }, (_, i) => `p/k${String(i).padStart(4, '0')}`);
    for (let i = 0; i < names.length; i += 25) await Promise.all(names.slice(i, i + 25).map((k) => s.put(k, Buffer.from(k))));
    await s.put('p/sub/x', Buffer.from('x'));
    const before = srv.stats.listContinuations;
    const flat: string[] = [];
    for await (const e of s.list('p/')) flat.push(`${e.type}:${e.key}`);
    assert.deepEqual(flat, [...names.map((k) => `obj:${k}`), 'dir:p/sub/']);
    assert.equal(srv.stats.listContinuations - before, 2, 'three pages');
    assert.deepEqual(await keys(s, 'p/'), [...names, 'p/sub/x']);
  });

  test('failed and aborted resumable uploads leave no object, nothing listed, and no open session', async () => {
    const { opts, srv, bucket } = await gcsOptions({ maxChunkSize: 256 * 1024 });
    const s = await createGcsStorage(opts);
    const before = { ...srv.stats };
    // Broken once the server has taken four chunks of the session (deterministic, whatever the machine's speed).
    let sent = 0;
    const breaking = new Readable({
      read() {
        if (srv.stats.resumableIncomplete - before.resumableIncomplete >= 4 || sent > 64 * 1024 * 1024) { this.destroy(new Error('source broke')); return; }
        sent += 128 * 1024;
        setTimeout(() => this.push(randomBytes(128 * 1024)), 2);
      },
    });
    await assert.rejects(s.put('f/broken', breaking), /source broke/);
    assert.ok(srv.stats.resumableIncomplete - before.resumableIncomplete >= 4, 'chunks went out before the failure');
    assert.equal(await s.exists('f/broken'), false);
    // Cancelled mid-stream.
    const ac = new AbortController();
    let n = 0;
    const slow = new Readable({
      read() {
        if (++n === 12) ac.abort();
        setTimeout(() => this.push(randomBytes(128 * 1024)), 2);
      },
    });
    await assert.rejects(s.put('f/aborted', slow, { signal: ac.signal }), CancelledError);
    assert.equal(await s.exists('f/aborted'), false);
    assert.deepEqual(await keys(s, ''), []);
    assert.deepEqual(srv.objectNames(bucket), []);
    assert.equal(srv.stats.cancelledSessions - before.cancelledSessions, 2, 'both sessions were cancelled');
    assert.equal(srv.openSessions(), 0);
  });

  test('GCS_ENCRYPTION_KEY: customer-supplied key on writes and reads; without or with another key reads fail', async () => {
    const key = randomBytes(32).toString('base64');
    const { opts, srv, bucket } = await gcsOptions({ encryptionKey: key, maxChunkSize: 256 * 1024 });
    const s = await createGcsStorage(opts);
    const small = randomBytes(5000);
    const big = randomBytes(700 * 1024);
    await s.put('k/small', small);
    await s.put('k/big', Readable.from([big]));
    assert.ok((await readAll(await s.get('k/small'))).equals(small));
    assert.ok((await readAll(await s.get('k/big'))).equals(big));
    const sha = createHash('sha256').update(Buffer.from(key, 'base64')).digest('base64');
    assert.equal(srv.keySha256(bucket, 'walg/test/k/small'), sha);
    assert.equal(srv.keySha256(bucket, 'walg/test/k/big'), sha);
    const plain = await createGcsStorage({ ...opts, encryptionKey: undefined });
    await assert.rejects(async () => readAll(await plain.get('k/small')), StorageError);
    const other = await createGcsStorage({ ...opts, encryptionKey: randomBytes(32).toString('base64') });
    await assert.rejects(async () => readAll(await other.get('k/small')), (e: unknown) => e instanceof StorageError && !e.message.includes(key));
    await assert.rejects(createGcsStorage({ ...opts, encryptionKey: 'c2hvcnQ=' }), ConfigError);
    await assert.rejects(createGcsStorage({ ...opts, encryptionKey: 'not base64!' }), ConfigError);
  });

  test('prefixes: gs:// parsing, GCS_NORMALIZE_PREFIX=false keeps WAL-E slashes, a missing bucket is a clear error', async () => {
    assert.deepEqual(parseGcsPrefix('gs://b/a/b/'), { bucket: 'b', root: 'a/b/' });
    assert.deepEqual(parseGcsPrefix('gs://b'), { bucket: 'b', root: '' });
    assert.deepEqual(parseGcsPrefix('gs://b///wal-e'), { bucket: 'b', root: 'wal-e/' });
    assert.deepEqual(parseGcsPrefix('gs://b///wal-e', false), { bucket: 'b', root: '/wal-e/' });
    assert.deepEqual(parseGcsPrefix('gs://b/path//', false), { bucket: 'b', root: 'path//' });
    assert.throws(() => parseGcsPrefix('s3://b/x'), ConfigError);

    const { srv, bucket } = await gcsOptions();
    const s = await createGcsStorage({ prefix: `gs://${bucket}///wal-e`, normalizePrefix: false, endpoint: srv.endpoint });
    await s.put('wal_005/x', Buffer.from('x'));
    assert.deepEqual(srv.objectNames(bucket), ['/wal-e/wal_005/x']);
    assert.deepEqual(await keys(s, ''), ['wal_005/x']);

    const missing = await createGcsStorage({ prefix: 'gs://no-such-bucket/x', endpoint: srv.endpoint, maxRetries: 0 });
    await assert.rejects(async () => keys(missing, ''), (e: unknown) => e instanceof StorageError && /no-such-bucket/.test(e.message) && !e.message.includes('\n'));
  });

  test('PostgreSQL 15: wal-push, backup-push, backup-fetch and wal-fetch through WALG_GS_PREFIX', { timeout: 120_000 }, async (t) => {
    const { srv, bucket } = await gcsOptions();
    const before = srv.stats.mediaGets;
    const r = await pgStorageRoundTrip(t, { WALG_GS_PREFIX: `gs://${bucket}/pg`, STORAGE_EMULATOR_HOST: srv.endpoint });
    assert.ok(srv.objectNames(bucket).some((n) => n.startsWith(`pg/basebackups_005/${r.backup}/`)), 'backup objects are in the bucket');
    assert.ok(srv.objectNames(bucket).some((n) => /^pg\/wal_005\/[0-9A-F]{24}\.lz4$/.test(n)), 'WAL segments are in the bucket');
    assert.ok(srv.stats.mediaGets > before, 'the restore read from the bucket');
  });
});
