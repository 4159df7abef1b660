// Integration tests of the Azure Blob driver against Azurite (started here on a free port, temp workspace).
// Issue #7 acceptance 1 (conformance suite) and 2 (PostgreSQL wal-push/backup-push/backup-fetch/wal-fetch through
// WALG_AZ_PREFIX), plus driver specifics: single Put Blob vs staged blocks, failed/aborted block uploads leave
// nothing, SAS tokens, settings through the registry, auth errors without secrets.

import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { createServer, request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createHash, randomBytes } from 'node:crypto';
import { runStorageSuite, patternStream } from '../conformance/storage-suite.ts';
import { startAzurite } from '../servers/azurite.ts';
import type { AzuriteServer } from '../servers/azurite.ts';
import { createAzureStorage, azureEndpointSuffix } from '../../src/storage/drivers/azure.ts';
import type { AzureOptions } from '../../src/storage/drivers/azure.ts';
import { withRetries } from '../../src/storage/wrap/retry.ts';
import { openStorage } from '../../src/storage/registry.ts';
import { loadConfig } from '../../src/config/load.ts';
import { readAll } from '../../src/storage/body.ts';
import { CancelledError, ConfigError, StorageError } from '../../src/core/errors.ts';
import type { Storage } from '../../src/storage/types.ts';
import { pgStorageRoundTrip } from '../helpers/pg-storage-roundtrip.ts';

let server: Promise<AzuriteServer> | undefined;
const azurite = (): Promise<AzuriteServer> => (server ??= startAzurite());
after(async () => { if (server) await (await server).stop(); });

const uniq = (p: string) => `${p}-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;

/** A fresh container in Azurite and driver options rooted in it. */
async function azureOptions(extra: Partial<AzureOptions> = {}): Promise<{ opts: AzureOptions; container: string; srv: AzuriteServer }> {
  const srv = await azurite();
  const container = uniq('walg-az');
  await srv.createContainer(container);
  return { srv, container, opts: { container, prefix: 'walg/test', account: srv.account, accessKey: srv.key, endpoint: srv.endpoint, ...extra } };
}

/** Raw view of a container with the client library: committed blobs, and blobs that only have uncommitted blocks. */
async function rawBlobs(srv: AzuriteServer, container: string): Promise<{ committed: string[]; all: string[] }> {
  const sdk = await import('@azure/storage-blob');
  const c = new sdk.BlobServiceClient(srv.endpoint, new sdk.StorageSharedKeyCredential(srv.account, srv.key)).getContainerClient(container);
  const committed: string[] = [];
  for await (const b of c.listBlobsFlat()) committed.push(b.name);
  const all: string[] = [];
  for await (const b of c.listBlobsFlat({ includeUncommitedBlobs: true })) all.push(b.name);
  return { committed, all };
}

async function committedBlocks(srv: AzuriteServer, container: string, name: string): Promise<number> {
  const sdk = await import('@azure/storage-blob');
  const b = new sdk.BlobServiceClient(srv.endpoint, new sdk.StorageSharedKeyCredential(srv.account, srv.key)).getContainerClient(container).getBlockBlobClient(name);
  return (await b.getBlockList('committed')).committedBlocks?.length ?? 0;
}

async function keys(s: Storage, prefix: string): Promise<string[]> {
  const out: string[] = [];
  for await (const e of s.list(prefix, { recursive: true })) out.push(e.key);
  return out;
}

/** `total` random bytes in 128 KiB chunks, 2 ms apart; errors once `failAt` bytes were produced. */
function breakingStream(total: number, failAt = Infinity): Readable {
  let sent = 0;
  return new Readable({
    read() {
      if (sent >= failAt) { this.destroy(new Error('source broke')); return; }
      if (sent >= total) { this.push(null); return; }
      const n = Math.min(128 * 1024, total - sent);
      sent += n;
      setTimeout(() => this.push(randomBytes(n)), 2);
    },
  });
}

// Default buffers (8 MiB x 4): the suite's 100 MB upload is staged as 13 blocks; 1500 keys are listed in pages
// of 1000 so the continuation path is used.
runStorageSuite('azure (Azurite)', async () => {
  const { opts } = await azureOptions({ listPageSize: 1000 });
  return withRetries(await createAzureStorage(opts), { maxRetries: 3, baseDelayMs: 50 });
});

describe('azure driver specifics', () => {
  test('object times carry the zone name GMT in listings and stat, folders do not (compat: WAL-G prints "+0000 GMT")', async () => {
    const { opts } = await azureOptions();
    const s = await createAzureStorage(opts);
    try {
      await s.put('f/a', Buffer.from('a'));
      const entries: Array<{ type: string; zoneName?: string }> = [];
      for await (const e of s.list('')) entries.push(e);
      for await (const e of s.list('f/', { recursive: true })) entries.push(e);
      assert.deepEqual(entries.map((e) => [e.type, e.zoneName]), [['dir', undefined], ['obj', 'GMT']]);
      assert.equal((await s.stat('f/a')).zoneName, 'GMT');
    } finally {
      await s.close();
    }
  });

  test('opened through the registry: WALG_AZ_PREFIX, AZURE_STORAGE_*, AZURE_BLOB_ENDPOINT, WALG_AZURE_BUFFER_SIZE', async () => {
    const { srv, container } = await azureOptions();
    const config = await loadConfig({ env: {
      WALG_AZ_PREFIX: `azure://${container}/cluster1/`, AZURE_STORAGE_ACCOUNT: srv.account, AZURE_STORAGE_ACCESS_KEY: srv.key,
      AZURE_BLOB_ENDPOINT: srv.endpoint, WALG_AZURE_BUFFER_SIZE: String(256 * 1024), WALG_AZURE_MAX_BUFFERS: '2',
    } });
    const s = await openStorage(config);
    try {
      assert.equal(s.type, 'azure');
      const data = randomBytes(1024 * 1024 + 5);
      await s.put('wal_005/000000010000000000000001.lz4', Readable.from([data.subarray(0, 70_000), data.subarray(70_000)]));
      assert.deepEqual((await rawBlobs(srv, container)).committed, ['cluster1/wal_005/000000010000000000000001.lz4']);
      assert.equal(await committedBlocks(srv, container, 'cluster1/wal_005/000000010000000000000001.lz4'), 5, '4 blocks of 256 KiB and the rest');
      assert.ok((await readAll(await s.get('wal_005/000000010000000000000001.lz4'))).equals(data));
    } finally {
      await s.close();
    }
  });

  test('a body within one buffer is a single Put Blob; a longer stream is staged in AZURE_BUFFER_SIZE blocks', async () => {
    const { opts, srv, container } = await azureOptions({ bufferSize: 256 * 1024, maxBuffers: 3 });
    const s = await createAzureStorage(opts);
    await s.put('b/buffer', randomBytes(1000));
    await s.put('b/stream', Readable.from([randomBytes(100_000), randomBytes(100_000)]));
    assert.equal(await committedBlocks(srv, container, 'walg/test/b/buffer'), 0, 'Put Blob has no block list');
    assert.equal(await committedBlocks(srv, container, 'walg/test/b/stream'), 0);
    const src = patternStream(3 * 1024 * 1024 + 17, 100_000);
    await s.put('b/blocks', src.stream);
    assert.equal(await committedBlocks(srv, container, 'walg/test/b/blocks'), 13);
    assert.equal((await s.stat('b/blocks')).size, 3 * 1024 * 1024 + 17);
    assert.equal(createHash('sha256').update(await readAll(await s.get('b/blocks'))).digest('hex'), src.sha256());
  });

  test('failed and aborted block uploads leave no blob, committed or uncommitted-only listed', async () => {
    const { opts, srv, container } = await azureOptions({ bufferSize: 256 * 1024, maxBuffers: 2 });
    const s = await createAzureStorage(opts);
    await assert.rejects(s.put('f/broken', breakingStream(4 * 1024 * 1024, 1600 * 1024)), /source broke/);
    assert.equal(await s.exists('f/broken'), false);
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
    const raw = await rawBlobs(srv, container);
    assert.deepEqual(raw.committed, []);
    // Staged blocks did reach the service (the block path was taken), yet no committed blob shows.
    assert.ok(raw.all.includes('walg/test/f/broken'), `uncommitted blocks of the broken upload exist: ${raw.all.join(', ')}`);
    // Overwriting an existing blob with a failing upload keeps the old one whole.
    await s.put('f/kept', Buffer.from('old'));
    await assert.rejects(s.put('f/kept', breakingStream(2 * 1024 * 1024, 700 * 1024)), /source broke/);
    assert.equal((await readAll(await s.get('f/kept'))).toString(), 'old');
  });

  test('SAS token (with or without a leading ?) instead of the account key', async () => {
    const { opts, srv, container } = await azureOptions();
    const sdk = await import('@azure/storage-blob');
    const sas = sdk.generateBlobSASQueryParameters({
      containerName: container, permissions: sdk.ContainerSASPermissions.parse('racwdl'),
      startsOn: new Date(Date.now() - 60_000), expiresOn: new Date(Date.now() + 3600_000),
    }, new sdk.StorageSharedKeyCredential(srv.account, srv.key)).toString();
    for (const token of [sas, `?${sas}`]) {
      const s = await createAzureStorage({ ...opts, accessKey: undefined, sasToken: token });
      await s.put('sas/x', Buffer.from(token.slice(0, 1)));
      assert.deepEqual(await keys(s, 'sas/'), ['sas/x']);
      assert.equal((await readAll(await s.get('sas/x'))).toString(), token.slice(0, 1));
      await s.delete(['sas/x']);
    }
  });

  test('a wrong key is a one-line, permanent StorageError without the key; settings errors are ConfigErrors', async () => {
    const { opts } = await azureOptions();
    const wrongKey = randomBytes(64).toString('base64');
    const s = await createAzureStorage({ ...opts, accessKey: wrongKey });
    const err = await s.put('x', Buffer.from('x')).then(() => undefined, (e: unknown) => e);
    assert.ok(err instanceof StorageError, `StorageError expected, got ${String(err)}`);
    assert.equal(err.transient, false);
    assert.match(err.message, /HTTP 403/);
    assert.ok(!err.message.includes(wrongKey) && !err.message.includes('\n'), err.message);
    await assert.rejects(createAzureStorage({ ...opts, accessKey: undefined }), ConfigError);
    await assert.rejects(createAzureStorage({ ...opts, account: '' }), ConfigError);
    await assert.rejects(createAzureStorage({ ...opts, endpoint: 'not a url' }), ConfigError);
    const missing = await createAzureStorage({ ...opts, container: 'no-such-container' });
    await assert.rejects(async () => keys(missing, ''), /container 'no-such-container' does not exist/);
    assert.equal(azureEndpointSuffix('AzureChinaCloud'), 'core.chinacloudapi.cn');
    assert.equal(azureEndpointSuffix(undefined), 'core.windows.net');
  });

  test('AZURE_BLOB_STORE_API_VERSION is sent as x-ms-version, covered by the shared-key signature', async () => {
    const { opts, srv } = await azureOptions({ apiVersion: '2021-08-06' });
    // A pass-through proxy in front of Azurite records the header; Azurite checks the signature.
    const seen = new Set<string>();
    const upstream = new URL(srv.endpoint);
    const proxy = createServer((req, res) => {
      seen.add(String(req.headers['x-ms-version']));
      const up = httpRequest({ host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers }, (ur) => {
        res.writeHead(ur.statusCode ?? 502, ur.headers);
        ur.pipe(res);
      });
      up.on('error', () => res.destroy());
      req.pipe(up);
    });
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
    try {
      const endpoint = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}${upstream.pathname}`;
      const s = await createAzureStorage({ ...opts, endpoint });
      await s.put('v/x', Buffer.from('v'));
      assert.equal((await readAll(await s.get('v/x'))).toString(), 'v');
      assert.deepEqual([...seen], ['2021-08-06']);
    } finally {
      proxy.closeAllConnections();
      await new Promise((r) => proxy.close(r));
    }
  });

  test('PostgreSQL 15: wal-push, backup-push, backup-fetch and wal-fetch through WALG_AZ_PREFIX', { timeout: 120_000 }, async (t) => {
    const { srv, container } = await azureOptions();
    const r = await pgStorageRoundTrip(t, {
      WALG_AZ_PREFIX: `azure://${container}/pg`, AZURE_STORAGE_ACCOUNT: srv.account, AZURE_STORAGE_ACCESS_KEY: srv.key, AZURE_BLOB_ENDPOINT: srv.endpoint,
    });
    const names = (await rawBlobs(srv, container)).committed;
    assert.ok(names.some((n) => n.startsWith(`pg/basebackups_005/${r.backup}/`)), 'backup objects are in the container');
    assert.ok(names.some((n) => /^pg\/wal_005\/[0-9A-F]{24}\.lz4$/.test(n)), 'WAL segments are in the container');
  });
});
