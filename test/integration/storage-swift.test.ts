// Integration tests of the Swift driver against a private Swift All-In-One: the conformance suite, segmented
// (SLO) uploads, failure cleanup, auth errors, and Keystone v2/v3 through a tiny fake Keystone that hands out
// real tempauth tokens. Swift is started lazily, once per file.

import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { createHash, randomBytes } from 'node:crypto';
import { runStorageSuite, patternStream } from '../conformance/storage-suite.ts';
import { startSwift, createContainer, swiftLogin } from '../servers/swift.ts';
import type { SwiftServer } from '../servers/swift.ts';
import { createSwiftStorage } from '../../src/storage/drivers/swift.ts';
import type { SwiftOptions } from '../../src/storage/drivers/swift.ts';
import { withRetries } from '../../src/storage/wrap/retry.ts';
import { readAll } from '../../src/storage/body.ts';
import { CancelledError, ConfigError, StorageError } from '../../src/core/errors.ts';
import type { Storage } from '../../src/storage/types.ts';

let server: Promise<SwiftServer> | undefined;
const swift = (): Promise<SwiftServer> => (server ??= startSwift());
after(async () => { if (server) await (await server).stop(); });

const uniq = (p: string) => `${p}-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;

async function swiftOptions(extra: Partial<SwiftOptions> = {}): Promise<SwiftOptions> {
  const srv = await swift();
  const container = uniq('walg-swift');
  await createContainer(srv, container);
  return { container, prefix: 'walg/test', authUrl: srv.authUrl, username: srv.user, password: srv.key, ...extra };
}

/** Raw names in a container (full names, recursive), or [] when it does not exist. */
async function rawNames(container: string): Promise<string[]> {
  const { url, token } = await swiftLogin(await swift());
  const r = await fetch(`${url}/${encodeURIComponent(container)}?format=json`, { headers: { 'X-Auth-Token': token } });
  if (r.status === 404) { await r.body?.cancel(); return []; }
  return ((await r.json()) as { name: string }[]).map((e) => e.name);
}

async function rawHead(container: string, name: string): Promise<Response> {
  const { url, token } = await swiftLogin(await swift());
  const r = await fetch(`${url}/${encodeURIComponent(container)}/${name.split('/').map(encodeURIComponent).join('/')}`, { method: 'HEAD', headers: { 'X-Auth-Token': token } });
  await r.body?.cancel();
  return r;
}

async function keys(s: Storage, prefix: string, recursive = true): Promise<string[]> {
  const out: string[] = [];
  for await (const e of s.list(prefix, { recursive })) out.push(e.key);
  return out;
}

/** A stream of `total` random bytes in 256 KiB chunks that errors once `failAt` bytes were produced. */
function breakingStream(total: number, failAt = Infinity): Readable {
  let sent = 0;
  return new Readable({
    read() {
      if (sent >= failAt) { this.destroy(new Error('source broke')); return; }
      if (sent >= total) { this.push(null); return; }
      const n = Math.min(256 * 1024, total - sent);
      sent += n;
      this.push(randomBytes(n));
    },
  });
}

runStorageSuite('swift', async () => withRetries(await createSwiftStorage(await swiftOptions()), { maxRetries: 3, baseDelayMs: 50 }));

describe('swift driver specifics', () => {
  test('tiny segment size: a 5 MB upload is segmented, reads back byte for byte, and segments stay hidden', async () => {
    const opts = await swiftOptions({ segmentSize: 1024 * 1024 });
    const s = await createSwiftStorage(opts);
    const size = 5 * 1000 * 1000;
    const src = patternStream(size, 300_000);
    await s.put('seg/big', src.stream);
    assert.equal((await s.stat('seg/big')).size, size);
    const h = createHash('sha256');
    for await (const c of await s.get('seg/big')) h.update(c as Buffer);
    assert.equal(h.digest('hex'), src.sha256());
    // A range across a segment boundary.
    const whole = await readAll(await s.get('seg/big'));
    const mid = await readAll(await s.get('seg/big', { range: { start: 1024 * 1024 - 10, end: 1024 * 1024 + 10 } }));
    assert.ok(mid.equals(whole.subarray(1024 * 1024 - 10, 1024 * 1024 + 10)));

    const head = await rawHead(opts.container, 'walg/test/seg/big');
    assert.equal(head.headers.get('x-static-large-object'), 'True');
    const segs = await rawNames(`${opts.container}_segments`);
    assert.equal(segs.length, 5, `5 segments expected: ${segs.join(', ')}`);
    assert.ok(segs.every((n) => n.startsWith('walg/test/seg/big/')));
    // Listings of the storage show the object with its full size, and nothing of the segments.
    assert.deepEqual(await keys(s, '', true), ['seg/big']);
    const [entry] = await (async () => { const a = []; for await (const e of s.list('seg/')) a.push(e); return a; })();
    assert.equal(entry!.size, size);
    assert.deepEqual(await rawNames(opts.container), ['walg/test/seg/big']);

    // Delete removes the manifest and its segments.
    await s.delete(['seg/big']);
    assert.equal(await s.exists('seg/big'), false);
    assert.deepEqual(await rawNames(`${opts.container}_segments`), []);
    await s.close();
  });

  test('a known size within the segment size is one plain streamed PUT', async () => {
    const opts = await swiftOptions({ segmentSize: 4 * 1024 * 1024 });
    const s = await createSwiftStorage(opts);
    const data = randomBytes(3 * 1024 * 1024);
    await s.put('plain/x', Readable.from([data.subarray(0, 1000), data.subarray(1000)]), { sizeHint: data.length });
    assert.ok((await readAll(await s.get('plain/x'))).equals(data));
    assert.equal((await rawHead(opts.container, 'walg/test/plain/x')).headers.get('x-static-large-object'), null);
    assert.deepEqual(await rawNames(`${opts.container}_segments`), []);
    await s.close();
  });

  test('failed and aborted streamed uploads leave no object and no segments', async () => {
    const opts = await swiftOptions({ segmentSize: 1024 * 1024, maxBufferedPutSize: 512 * 1024 });
    const s = await createSwiftStorage(opts);
    // Direct chunked PUT (size known) broken mid-body: Swift must discard the partial object.
    await assert.rejects(s.put('f/direct', breakingStream(900_000, 600_000), { sizeHint: 900_000 }), /source broke/);
    assert.equal(await s.exists('f/direct'), false);
    // Segmented upload broken in its fourth segment.
    await assert.rejects(s.put('f/segmented', breakingStream(8_000_000, 3_500_000)), /source broke/);
    assert.equal(await s.exists('f/segmented'), false);
    // Cancelled during the second segment.
    const ac = new AbortController();
    let n = 0;
    const slow = new Readable({
      read() {
        if (++n === 6) ac.abort();
        setTimeout(() => this.push(randomBytes(256 * 1024)), 2);
      },
    });
    await assert.rejects(s.put('f/aborted', slow, { signal: ac.signal }), CancelledError);
    assert.equal(await s.exists('f/aborted'), false);
    assert.deepEqual(await rawNames(opts.container), []);
    assert.deepEqual(await rawNames(`${opts.container}_segments`), []);
    await s.close();
  });

  test('a wrong password is a one-line StorageError without the password', async () => {
    const srv = await swift();
    const password = 'not-the-key-987';
    const err = await createSwiftStorage({ container: 'c', prefix: '', authUrl: srv.authUrl, username: srv.user, password }).then(() => undefined, (e: unknown) => e);
    assert.ok(err instanceof StorageError, `StorageError expected, got ${String(err)}`);
    assert.equal(err.transient, false);
    assert.ok(!err.message.includes(password) && !err.message.includes('\n'));
    assert.match(err.message, /HTTP 401/);
    await assert.rejects(createSwiftStorage({ container: 'c', prefix: '', authUrl: 'http://127.0.0.1:1/auth', username: 'u', password: 'p' }), ConfigError);
  });

  test('Keystone v2 and v3 (fake Keystone, real tokens), region choice, and re-auth after a 401', async () => {
    const srv = await swift();
    const real = await swiftLogin(srv);
    const container = uniq('walg-ks');
    await createContainer(srv, container);
    let v3Calls = 0;
    const bad = 'http://127.0.0.1:9/v1/AUTH_wrong';
    const ks = createServer((req, res) => {
      let body = '';
      req.on('data', (c) => { body += c; });
      req.on('end', () => {
        const doc = JSON.parse(body || '{}');
        const expires = new Date(Date.now() + 3600_000).toISOString();
        if (req.url === '/v2.0/tokens') {
          const pc = doc.auth?.passwordCredentials;
          if (pc?.username !== 'kuser' || pc?.password !== 'kpass' || doc.auth?.tenantName !== 'kproj') { res.writeHead(401).end(); return; }
          res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify({
            access: {
              token: { id: real.token, expires },
              serviceCatalog: [{ type: 'identity', endpoints: [] }, { type: 'object-store', endpoints: [
                { region: 'Other', publicURL: bad }, { region: 'RegionOne', publicURL: real.url, internalURL: bad },
              ] }],
            },
          }));
          return;
        }
        if (req.url === '/v3/auth/tokens') {
          const u = doc.auth?.identity?.password?.user;
          const p = doc.auth?.scope?.project;
          if (u?.name !== 'kuser' || u?.password !== 'kpass' || u?.domain?.name !== 'Default' || p?.name !== 'kproj' || p?.domain?.name !== 'Default') {
            res.writeHead(401).end(); return;
          }
          // The first token handed out is already revoked: the driver must log in again on the 401.
          const token = ++v3Calls === 1 ? 'revoked-token' : real.token;
          res.writeHead(201, { 'Content-Type': 'application/json', 'X-Subject-Token': token }).end(JSON.stringify({
            token: { expires_at: expires, catalog: [{ type: 'object-store', endpoints: [
              { interface: 'internal', region: 'RegionOne', url: bad },
              { interface: 'public', region: 'Other', url: bad },
              { interface: 'public', region: 'RegionOne', region_id: 'RegionOne', url: real.url },
            ] }] },
          }));
          return;
        }
        res.writeHead(404).end();
      });
    });
    await new Promise<void>((r) => ks.listen(0, '127.0.0.1', r));
    const port = (ks.address() as AddressInfo).port;
    try {
      const common = { container, username: 'kuser', password: 'kpass', tenantName: 'kproj', regionName: 'RegionOne' };
      const v2 = await createSwiftStorage({ ...common, prefix: 'v2', authUrl: `http://127.0.0.1:${port}/v2.0` });
      await v2.put('a', Buffer.from('via v2'));
      assert.equal((await readAll(await v2.get('a'))).toString(), 'via v2');
      const v3 = await createSwiftStorage({ ...common, prefix: 'v3', authUrl: `http://127.0.0.1:${port}/v3` });
      await v3.put('b', Buffer.from('via v3'));
      assert.equal(v3Calls, 2, 'one login, a 401, one re-login');
      assert.equal((await readAll(await v3.get('b'))).toString(), 'via v3');
      await assert.rejects(createSwiftStorage({ ...common, password: 'nope', prefix: '', authUrl: `http://127.0.0.1:${port}/v3` }), StorageError);
      await assert.rejects(createSwiftStorage({ ...common, regionName: 'Nowhere', prefix: '', authUrl: `http://127.0.0.1:${port}/v3` }), /no public object-store endpoint in region 'Nowhere'/);
    } finally {
      ks.close();
    }
  });
});
